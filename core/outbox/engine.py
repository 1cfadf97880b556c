"""The outbox engine: every write out of Incidesk is a row first and a delivery later.

One implementation for every kind (:class:`~core.outbox.kinds.OutboxKind`):

1. The domain service stores its row and an :class:`OutboxEntry` in its transaction
   (:func:`outbox_enqueue`); the "deliver one" task is queued when it commits.
2. :func:`outbox_deliver` claims the entry (``select_for_update(skip_locked)``, state
   ``sending`` with a lease), committed before anything goes out, so a crash leaves a
   row another worker takes over once the lease ends. A row waits while an older row of
   its group (kind + ``group_key``: a thread, an order, an incident) is still pending.
3. Outside any transaction, the adapter sends the write; when the previous attempt's
   outcome is unknown (a 5xx or a timeout on a write, a worker that died) it first looks
   for it in Mirakl (:meth:`~core.outbox.adapters.Adapter.find`) and only sends if it is
   not there. That look waits ``OUTBOX_CHECK_DELAY`` after the unknown attempt, so a
   write Mirakl applies late has landed before it is looked for.
4. The outcome is recorded with the domain row in one transaction: sent (or found),
   refused, or not for now (retried with :func:`retry_delay`, honouring
   ``Retry-After``; given up after the adapter's ``max_attempts``). The next row of the
   group is then handed the turn.
5. :func:`outbox_deliver_pending` (beat, every minute; ``manage.py outbox_deliver``)
   delivers whatever is due, oldest first: lost tasks, retries, expired leases.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.outbox.adapters import (
    Adapter,
    DeliveryRefused,
    DeliveryTransient,
    adapter_for,
    registered_kinds,
)
from core.outbox.kinds import OutboxKind
from core.outbox.models import OutboxEntry
from mirakl.client import MiraklClient
from mirakl.errors import MiraklError, MiraklPayloadError, MiraklTransientError

__all__ = [
    "LEASE",
    "Attempt",
    "ClientFactory",
    "DeliveryResult",
    "PendingResult",
    "error_text",
    "outbox_deliver",
    "outbox_deliver_pending",
    "outbox_enqueue",
    "outbox_enqueue_many",
    "outbox_requeue",
    "retry_delay",
]

logger = logging.getLogger(__name__)

State = OutboxEntry.State
ClientFactory = Callable[[Any], MiraklClient]

#: A row seen ``sending`` for longer than this belongs to a worker that died: another
#: may take it over (checking first: the dead one may have sent it).
LEASE = timedelta(minutes=5)
#: Backoff between attempts: 10 s doubling, capped at 15 minutes, with jitter.
BACKOFF_BASE_SECONDS = 10.0
BACKOFF_MAX_SECONDS = 900.0
#: A ``Retry-After`` beyond this is read as this (a broken header must not park a row).
RETRY_AFTER_MAX_SECONDS = 3600.0

#: Outcomes after which the later rows of the group wait for the next run.
_HOLDS_GROUP = frozenset({"retry", "blocked", "busy", "not_due", "error"})


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What one delivery call did.

    ``outcome``: ``sent`` (sent now), ``found`` (an earlier attempt had reached the
    other end), ``refused``, ``retry`` (not for now; ``retry_in`` seconds), ``failed``
    (given up), ``skipped`` (nothing to send any more), ``done`` (already final),
    ``busy`` (another worker holds it), ``blocked`` (an older row of its group goes
    first), ``not_due`` (its next attempt is later) or ``missing``.
    """

    entry_id: int
    outcome: str
    retry_in: float | None = None


@dataclass(slots=True)
class PendingResult:
    """What a run over the due rows did: how many rows ended in each outcome."""

    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    @property
    def delivered(self) -> int:
        return self.outcomes.get("sent", 0) + self.outcomes.get("found", 0)

    @property
    def retries(self) -> int:
        return self.outcomes.get("retry", 0)


class _Clients:
    """The Mirakl clients of one run, one per connection, closed at its end (not the
    one client a caller passed in)."""

    def __init__(self, *, client: MiraklClient | None, factory: ClientFactory | None) -> None:
        self._given = client
        self._factory = factory
        self._built: dict[Any, MiraklClient] = {}

    def get(self, adapter: Adapter, connection: Any) -> MiraklClient:
        if self._given is not None:
            return self._given
        key = getattr(connection, "pk", connection)
        if key not in self._built:
            build = self._factory or adapter.client
            self._built[key] = build(connection)
        return self._built[key]

    def close(self) -> None:
        for built in self._built.values():
            built.close()
        self._built.clear()


@dataclass(slots=True)
class Attempt:
    """One attempt at one row, as the adapter sees it."""

    entry: OutboxEntry
    row: Any
    adapter: Adapter
    now: datetime
    #: The previous attempt's outcome is unknown: look before sending.
    check_first: bool
    _clients: _Clients

    @property
    def client(self) -> MiraklClient:
        """The Mirakl client of the row's marketplace."""
        return self._clients.get(self.adapter, self.adapter.connection(self.row))

    @property
    def since(self) -> datetime:
        """The earliest date Mirakl may give the write: the row's creation, less the
        clock difference between us and Mirakl (``OUTBOX_CHECK_SKEW``)."""
        return self.entry.created_at - settings.OUTBOX_CHECK_SKEW


# --------------------------------------------------------------------------- queueing


def _deliver_after_commit(entry_id: int) -> None:
    from core.outbox.tasks import outbox_deliver_task  # it imports this module

    transaction.on_commit(lambda: outbox_deliver_task.delay(entry_id))


def outbox_enqueue(
    *, kind: OutboxKind, group_key: str = "", now: datetime | None = None
) -> OutboxEntry:
    """A new row to deliver, in the caller's transaction; its task is queued on commit.

    The caller stores its domain row pointing at the returned entry in the same
    transaction: neither exists without the other.
    """
    now = now or timezone.now()
    entry = OutboxEntry.objects.create(
        kind=kind, group_key=group_key, created_at=now, next_attempt_at=now
    )
    _deliver_after_commit(entry.pk)
    return entry


def outbox_enqueue_many(
    *, kind: OutboxKind, group_keys: Sequence[str], now: datetime | None = None
) -> list[OutboxEntry]:
    """:func:`outbox_enqueue` for several rows in one statement (alert fan-outs)."""
    now = now or timezone.now()
    entries = OutboxEntry.objects.bulk_create(
        OutboxEntry(kind=kind, group_key=key, created_at=now, next_attempt_at=now)
        for key in group_keys
    )
    for entry in entries:
        _deliver_after_commit(entry.pk)
    return entries


def outbox_requeue(*, entry_id: int, now: datetime | None = None) -> OutboxEntry | None:
    """Queue a failed row again (an agent's "retry"); ``None`` when it is not failed.

    Its attempts start again from zero; ``in_doubt`` is kept, so if the failed attempt
    may have arrived, the next one checks before sending. Call it inside the
    transaction that also updates the domain row.
    """
    now = now or timezone.now()
    with transaction.atomic():
        entry = (
            OutboxEntry.objects.select_for_update().filter(pk=entry_id, state=State.FAILED).first()
        )
        if entry is None:
            return None
        entry.state = State.QUEUED
        entry.attempts = 0
        entry.next_attempt_at = now
        entry.done_at = None
        entry.save(update_fields=["state", "attempts", "next_attempt_at", "done_at"])
        _deliver_after_commit(entry.pk)
    return entry


# --------------------------------------------------------------------------- policy


def retry_delay(
    attempts: int, *, retry_after: float | None = None, in_doubt: bool = False
) -> float:
    """Seconds before the next attempt, after ``attempts`` attempts.

    ``Retry-After`` when the other end gave one (up to an hour), else 10 s doubling up
    to 15 minutes with jitter; never less than ``OUTBOX_CHECK_DELAY`` when the outcome
    is unknown, so that the check sees a write Mirakl is still applying.
    """
    if retry_after is not None and retry_after > 0:
        delay = min(float(retry_after), RETRY_AFTER_MAX_SECONDS)
    else:
        step = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0))
        delay = step / 2 + random.uniform(0, step / 2)  # noqa: S311 - jitter, not security
    if in_doubt:
        delay = max(delay, settings.OUTBOX_CHECK_DELAY.total_seconds())
    return delay


def error_text(error: DeliveryRefused | DeliveryTransient) -> str:
    """``M12 HTTP 500: message`` (what the row shows as its last error)."""
    status = f"HTTP {error.status}: " if error.status else ""
    call = f"{error.call} " if error.call else ""
    return f"{call}{status}{error.message}"[:2000]


def _classify(exc: Exception, call: str) -> DeliveryRefused | DeliveryTransient | None:
    """The engine's reading of an error; ``None`` for a bug (it propagates)."""
    if isinstance(exc, DeliveryRefused | DeliveryTransient):
        return exc
    if isinstance(exc, MiraklTransientError):
        return DeliveryTransient(
            exc.message,
            call=exc.call or call,
            status=exc.status,
            outcome_unknown=exc.outcome_unknown,
            retry_after=getattr(exc, "retry_after", None),
        )
    if isinstance(exc, MiraklPayloadError) and exc.status is not None and 200 <= exc.status < 300:
        # Accepted, but the answer could not be read: sending again could do it twice.
        return DeliveryTransient(
            exc.message, call=exc.call or call, status=exc.status, outcome_unknown=True
        )
    if isinstance(exc, MiraklError):
        return DeliveryRefused(exc.message or str(exc), call=exc.call or call, status=exc.status)
    return None


# --------------------------------------------------------------------------- claiming


def _blocked(entry: OutboxEntry) -> bool:
    """An older row of the same group is still pending: it goes first."""
    if not entry.group_key:
        return False
    return (
        OutboxEntry.objects.filter(
            kind=entry.kind, group_key=entry.group_key, state__in=OutboxEntry.PENDING_STATES
        )
        .filter(
            Q(created_at__lt=entry.created_at) | Q(created_at=entry.created_at, pk__lt=entry.pk)
        )
        .exists()
    )


def _hand_over(entry: OutboxEntry, now: datetime) -> None:
    """Queue the next row of the group that is due (it waited for this one)."""
    if not entry.group_key:
        return
    following = (
        OutboxEntry.objects.filter(
            kind=entry.kind,
            group_key=entry.group_key,
            state=State.QUEUED,
            next_attempt_at__lte=now,
        )
        .exclude(pk=entry.pk)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    if following is not None:
        _deliver_after_commit(following)


def _claim(entry_id: int, now: datetime, clients: _Clients) -> Attempt | str:
    """Take the row for one attempt, committed before anything is sent."""
    with transaction.atomic():
        entry = OutboxEntry.objects.select_for_update(skip_locked=True).filter(pk=entry_id).first()
        if entry is None:
            return "busy" if OutboxEntry.objects.filter(pk=entry_id).exists() else "missing"
        if entry.state in OutboxEntry.FINAL_STATES:
            return "done"
        if entry.state == State.SENDING and entry.lease_until and entry.lease_until > now:
            return "busy"
        if entry.state == State.QUEUED and entry.next_attempt_at > now:
            return "not_due"
        if _blocked(entry):
            return "blocked"
        adapter = adapter_for(entry.kind)
        row = adapter.load(entry)
        if row is None or adapter.moot(row):
            entry.state = State.SKIPPED
            entry.in_doubt = False
            entry.lease_until = None
            entry.done_at = now
            entry.save(update_fields=["state", "in_doubt", "lease_until", "done_at"])
            if row is not None:
                adapter.on_skipped(row, entry)
            _hand_over(entry, now)
            return "skipped"
        # A row left ``sending`` was taken by a worker that died mid-call: it may be there.
        check_first = entry.in_doubt or entry.state == State.SENDING
        entry.state = State.SENDING
        entry.attempts += 1
        entry.last_attempt_at = now
        entry.lease_until = now + LEASE
        entry.save(update_fields=["state", "attempts", "last_attempt_at", "lease_until"])
        adapter.on_claimed(row, entry, now)
    return Attempt(entry, row, adapter, now, check_first, clients)


# --------------------------------------------------------------------------- delivering


def outbox_deliver(
    *,
    entry_id: int,
    client: MiraklClient | None = None,
    client_factory: ClientFactory | None = None,
    now: datetime | None = None,
) -> DeliveryResult:
    """Deliver one row, at most once when its kind can be checked, and record the outcome.

    :param client: the Mirakl client to use (tests); else ``client_factory(connection)``,
        else the adapter's own.
    """
    clients = _Clients(client=client, factory=client_factory)
    try:
        return _deliver(entry_id, clients, now or timezone.now())
    finally:
        clients.close()


def _deliver(entry_id: int, clients: _Clients, now: datetime) -> DeliveryResult:
    claimed = _claim(entry_id, now, clients)
    if isinstance(claimed, str):
        return DeliveryResult(entry_id, claimed)
    attempt = claimed
    adapter = attempt.adapter
    must_check = attempt.check_first and adapter.can_check
    checked = False
    evidence: dict[str, Any] | None = None
    try:
        result = None
        if must_check:
            check = adapter.find(attempt)
            checked = True
            result = check.result
            evidence = {**check.evidence, "checked_at": now.isoformat()}
            evidence.setdefault("found", "")
        found = result is not None
        if not found:
            result = adapter.send(attempt)
    except Exception as exc:
        error = _classify(exc, adapter.call)
        if error is None:
            raise
        unknown = must_check and not checked
        if isinstance(error, DeliveryRefused) and not unknown:
            return _record_refused(attempt, error, evidence)
        if isinstance(error, DeliveryRefused):
            # The check itself was refused: whether the earlier attempt arrived is still
            # unknown, so nothing may be sent yet.
            error = DeliveryTransient(
                error.message, call=error.call, status=error.status, outcome_unknown=True
            )
        return _record_transient(
            attempt, error, in_doubt=error.outcome_unknown or unknown, evidence=evidence
        )
    return _record_sent(attempt, result, found=found, evidence=evidence)


def _finish(entry: OutboxEntry, state: str, now: datetime, **fields: Any) -> None:
    entry.state = state
    entry.lease_until = None
    entry.done_at = now if state in OutboxEntry.FINAL_STATES else None
    for name, value in fields.items():
        setattr(entry, name, value)
    entry.save(update_fields=["state", "lease_until", "done_at", *fields])


def _record_sent(
    attempt: Attempt, result: Any, *, found: bool, evidence: dict[str, Any] | None
) -> DeliveryResult:
    entry, now = attempt.entry, attempt.now
    extra = {"evidence": evidence} if evidence is not None else {}
    with transaction.atomic():
        _finish(entry, State.SENT, now, in_doubt=False, last_error="", **extra)
        attempt.adapter.on_sent(attempt.row, entry, result, found=found)
        _hand_over(entry, now)
    outcome = "found" if found else "sent"
    logger.info("Outbox %s #%s %s (attempt %d)", entry.kind_slug, entry.pk, outcome, entry.attempts)
    return DeliveryResult(entry.pk, outcome)


def _record_refused(
    attempt: Attempt, error: DeliveryRefused, evidence: dict[str, Any] | None
) -> DeliveryResult:
    entry, now = attempt.entry, attempt.now
    extra = {"evidence": evidence} if evidence is not None else {}
    with transaction.atomic():
        _finish(entry, State.REFUSED, now, in_doubt=False, last_error=error_text(error), **extra)
        attempt.adapter.on_refused(attempt.row, entry, error)
        _hand_over(entry, now)
    logger.warning("Outbox %s #%s refused: %s", entry.kind_slug, entry.pk, error_text(error))
    return DeliveryResult(entry.pk, "refused")


def _record_transient(
    attempt: Attempt,
    error: DeliveryTransient,
    *,
    in_doubt: bool,
    evidence: dict[str, Any] | None,
) -> DeliveryResult:
    entry, now, adapter = attempt.entry, attempt.now, attempt.adapter
    extra = {"evidence": evidence} if evidence is not None else {}
    give_up = adapter.max_attempts is not None and entry.attempts >= adapter.max_attempts
    with transaction.atomic():
        if give_up:
            _finish(
                entry, State.FAILED, now, in_doubt=in_doubt, last_error=error_text(error), **extra
            )
            adapter.on_failed(attempt.row, entry, error)
            _hand_over(entry, now)
            delay = None
        else:
            delay = retry_delay(entry.attempts, retry_after=error.retry_after, in_doubt=in_doubt)
            _finish(
                entry,
                State.QUEUED,
                now,
                in_doubt=in_doubt,
                last_error=error_text(error),
                next_attempt_at=now + timedelta(seconds=delay),
                **extra,
            )
            adapter.on_retry(attempt.row, entry, error)
    logger.warning(
        "Outbox %s #%s attempt %d failed (%s)%s; %s",
        entry.kind_slug,
        entry.pk,
        entry.attempts,
        error_text(error),
        ", outcome unknown" if in_doubt else "",
        "giving up" if give_up else f"next attempt in {delay:.0f} s",
    )
    if give_up:
        return DeliveryResult(entry.pk, "failed")
    return DeliveryResult(entry.pk, "retry", retry_in=delay)


def outbox_deliver_pending(
    *,
    kind: OutboxKind | None = None,
    limit: int = 500,
    client_factory: ClientFactory | None = None,
    now: datetime | None = None,
) -> PendingResult:
    """Deliver every row that is due, oldest first (beat, every minute; the command).

    Due: queued with its next attempt reached, or ``sending`` past its lease (a worker
    that died). A row that cannot go now holds back the later rows of its group for
    this run, not the other groups; an unexpected error is logged and costs only its
    group.
    """
    moment = now or timezone.now()
    for each in sorted(registered_kinds()) if kind is None else [kind]:
        adapter_for(each).before_sweep(moment)
    due = OutboxEntry.objects.filter(
        Q(state=State.QUEUED, next_attempt_at__lte=moment)
        | Q(state=State.SENDING, lease_until__lte=moment)
    )
    if kind is not None:
        due = due.filter(kind=kind)
    candidates = list(
        due.order_by("created_at", "pk").values_list("pk", "kind", "group_key")[:limit]
    )
    result = PendingResult()
    held: set[tuple[int, str]] = set()
    clients = _Clients(client=None, factory=client_factory)
    try:
        for pk, row_kind, group in candidates:
            if group and (row_kind, group) in held:
                continue
            try:
                outcome = _deliver(pk, clients, now or timezone.now()).outcome
            except Exception:
                logger.exception("Outbox #%s: delivery failed unexpectedly", pk)
                outcome = "error"
            result.add(outcome)
            if group and outcome in _HOLDS_GROUP:
                held.add((row_kind, group))
    finally:
        clients.close()
    return result
