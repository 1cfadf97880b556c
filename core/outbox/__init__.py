"""One outbox for every write out of Incidesk (Mirakl calls, alert webhooks, e-mails).

- :mod:`core.outbox.kinds`: the :class:`OutboxKind` numbers, never renumbered.
- :mod:`core.outbox.models`: :class:`OutboxEntry`, the delivery of one domain row.
- :mod:`core.outbox.adapters`: what one kind implements, and its registration.
- :mod:`core.outbox.engine`: claim, order per group, check first, retry, hand over.
- :mod:`core.outbox.tasks`: "deliver one" and "deliver pending".
- :mod:`core.outbox.http`: the one session for posts outside Mirakl (webhooks).
"""
