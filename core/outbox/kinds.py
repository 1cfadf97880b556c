"""The kinds of outgoing write, each under a number stored with every outbox row."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["OutboxKind"]


class OutboxKind(IntEnum):
    """Every kind of write the outbox delivers, with the adapter that knows it.

    The numbers are stored in ``core_outboxentry.kind``: never renumber a kind and
    never give the number of a retired kind to a new one (leave it here, marked
    "no longer in use"). A new kind is a new number at the end plus one adapter
    registered for it (see :mod:`core.outbox.adapters`).
    """

    REPLY = 1  # M12, a reply in a thread (messaging.outbox)
    NEW_THREAD = 2  # OR43, a new conversation on an order (messaging.outbox)
    REFUND = 3  # OR28 (refunds.outbox)
    RESOLUTION = 4  # OR64, mark an incident resolved (incidents.outbox)
    SLA_WEBHOOK = 5  # an SLA alert posted to the marketplace's Slack/Teams webhook (sla.outbox)
    SLA_EMAIL = 6  # an SLA alert e-mailed to one person (sla.outbox)
    DOCUMENT_UPLOAD = 7  # OR74, a document (an invoice) uploaded to an order (documents.outbox)

    @property
    def slug(self) -> str:
        """The name commands and logs use: ``reply``, ``new_thread``, ``refund``…"""
        return self.name.lower()

    @classmethod
    def choices(cls) -> list[tuple[int, str]]:
        return [(kind.value, kind.slug) for kind in cls]

    @classmethod
    def parse(cls, text: str | int) -> OutboxKind:
        """A kind from its slug, its name or its number; ``ValueError`` otherwise."""
        value = str(text).strip()
        if value.isdigit():
            return cls(int(value))
        try:
            return cls[value.upper().replace("-", "_")]
        except KeyError:
            known = ", ".join(kind.slug for kind in cls)
            raise ValueError(f"unknown outbox kind {text!r} (one of: {known})") from None
