"""The SLA sweep: keep one :class:`~sla.models.SlaItem` per wait, flag and record breaches.

Each run, under a Postgres advisory lock (two sweeps never overlap) and in one
transaction:

a. *Recompute* what changed since the last run: incidents whose ``updated_at`` moved,
   threads whose ``synced_at`` moved or that got messages with a higher id (and the
   incidents of their orders). The clock rules (``sla.clock``) give the waits; rows
   are created for new waits, stopped when the wait ended, and ``withdrawn`` when the
   facts no longer show them. The first run (and ``full=True``) reads everything.
b. *Flag* running items whose thresholds passed with two ``UPDATE … WHERE …
   RETURNING`` statements: nothing else is written for items that did not change.
c. *Record breaches*: one :class:`~sla.models.SlaBreach` per item, ever
   (``INSERT … SELECT … ON CONFLICT (item_id) DO NOTHING`` on a one-to-one key),
   answered when the item stops later.

A re-run with nothing new reads only the rows changed within the overlap before the
last change it saw, finds them unchanged, and writes nothing. The items
that turned nearing or breached are returned and sent with the
:data:`sla.signals.sla_state_changed` signal after the transaction (alerts hook there).
"""

from __future__ import annotations

import io
import logging
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Max, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.freshness import inbox_changed
from core.models import MarketplaceConnection
from incidents.models import Incident
from messaging.models import Message, Thread
from sla.clock import Span, incident_span, thread_spans
from sla.facts import incident_rows, max_changed, thread_rows
from sla.models import SlaBreach, SlaItem, SweepState
from sla.policies import DeadlineRule, rule_for, rule_resolve, rules_by_preset
from sla.signals import sla_state_changed

__all__ = [
    "SWEEP_LOCK_KEY",
    "SWEEP_OVERLAP",
    "StateChange",
    "SweepResult",
    "incident_reply_due_refresh",
    "item_state",
    "sla_deadline_compute",
    "sla_sweep",
]

logger = logging.getLogger(__name__)

State = SlaItem.State
Kind = SlaItem.Kind

#: Postgres advisory lock key of the sweep (a stable number derived from its name).
SWEEP_LOCK_KEY = zlib.crc32(b"incidesk:sla_sweep")
#: Rows changed this long before the last mark are read again: a transaction that
#: started earlier may commit after a sweep has read past its timestamps.
SWEEP_OVERLAP = timedelta(minutes=5)
_BATCH = 5000
_RECOMPUTE_BATCH = 10_000


@dataclass(frozen=True, slots=True)
class StateChange:
    """An item that turned nearing or breached in this sweep."""

    item_id: int
    kind: str
    connection_id: int
    incident_id: int | None
    thread_id: int | None
    state: str
    due_at: datetime


@dataclass(slots=True)
class SweepResult:
    """What a sweep did. ``skipped`` when another sweep held the lock."""

    skipped: bool = False
    scanned_incidents: int = 0
    scanned_threads: int = 0
    created: int = 0
    stopped: int = 0
    rescheduled: int = 0
    nearing: int = 0
    breached: int = 0
    breaches_created: int = 0
    breaches_answered: int = 0
    breaches_removed: int = 0
    changes: list[StateChange] = field(default_factory=list)

    def as_dict(self) -> dict[str, int | bool]:
        """The counts, for logs and the command's output."""
        return {
            "skipped": self.skipped,
            "scanned_incidents": self.scanned_incidents,
            "scanned_threads": self.scanned_threads,
            "created": self.created,
            "stopped": self.stopped,
            "rescheduled": self.rescheduled,
            "nearing": self.nearing,
            "breached": self.breached,
            "breaches_created": self.breaches_created,
            "breaches_answered": self.breaches_answered,
            "breaches_removed": self.breaches_removed,
        }


def item_state(
    *, now: datetime, due_at: datetime, warn_at: datetime, stopped_at: datetime | None
) -> str:
    """The state of a wait at ``now``: answering exactly at the deadline is on time."""
    if stopped_at is not None:
        return State.STOPPED
    if now > due_at:
        return State.BREACHED
    if now >= warn_at:
        return State.NEARING
    return State.ON_TIME


def sla_deadline_compute(*, connection: MarketplaceConnection, at: datetime) -> datetime:
    """When a message received at ``at`` must be answered, in the policy's time zone."""
    return rule_for(connection).due(at)


def sla_sweep(*, now: datetime | None = None, full: bool = False) -> SweepResult:
    """Bring the SLA items up to date at ``now`` (see the module docstring).

    :param full: recompute every incident and thread, and reschedule open items with
        the current policies (after a policy or calendar change).
    """
    # In UTC: Python compares datetimes of one zone by wall time, ignoring DST folds.
    now = (now or timezone.now()).astimezone(UTC)
    with transaction.atomic():
        if not _try_lock():
            logger.info("SLA sweep already running; skipped")
            return SweepResult(skipped=True)
        result = SweepResult()
        sweep = _Sweep(now=now, full=full, result=result)
        sweep.recompute()
        sweep.flag_thresholds()
        sweep.record_breaches()
    if result.changes:
        sla_state_changed.send(sender=SlaItem, changes=result.changes, now=now)
    counts = result.as_dict()
    quiet = not any(v for k, v in counts.items() if not k.startswith("scanned"))
    if not quiet:
        inbox_changed()
    logger.log(logging.DEBUG if quiet else logging.INFO, "SLA sweep: %s", counts)
    return result


def incident_reply_due_refresh(*, incident_ids: Sequence[int] | None = None) -> int:
    """Copy the due time of each incident's open wait to ``Incident.reply_due_at``.

    The inbox sorts on that copy (an index) rather than joining every open wait. Only
    the sweep writes items, so it calls this for the incidents whose items it wrote;
    every incident when ``incident_ids`` is None. Writes only the rows whose due time
    changed, without touching ``updated_at`` (the sweep's own change mark). Returns
    how many changed.
    """
    due = Subquery(
        SlaItem.objects.filter(kind=Kind.INCIDENT, incident=OuterRef("pk"), stopped_at__isnull=True)
        .order_by("due_at")
        .values("due_at")[:1]
    )
    incidents = Incident.objects.order_by()
    if incident_ids is not None:
        incidents = incidents.filter(pk__in=incident_ids)
    changed = [
        pk
        for pk, copied, current in incidents.annotate(current=due).values_list(
            "pk", "reply_due_at", "current"
        )
        if copied != current
    ]
    for chunk in _chunks(changed):
        Incident.objects.filter(pk__in=chunk).update(reply_due_at=due)
    return len(changed)


def _try_lock() -> bool:
    """Take the sweep's transaction-scoped advisory lock (Postgres only).

    Elsewhere (the embedded SQLite demo) the transaction's write lock serialises
    sweeps instead.
    """
    if db_connection.vendor != "postgresql":
        return True
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SWEEP_LOCK_KEY])
        (locked,) = cursor.fetchone()
        # The candidate queries' correlated subqueries have high cost estimates, which
        # trigger JIT compilation that takes longer than running them.
        cursor.execute("SET LOCAL jit = off")
    return bool(locked)


@dataclass(slots=True)
class _Existing:
    pk: int
    state: str
    due_at: datetime
    warn_at: datetime
    stopped_at: datetime | None
    stop_reason: str
    policy_id: int | None


@dataclass(slots=True)
class _Source:
    """What the spans of one incident or thread are compared with."""

    kind: str
    object_id: int
    connection_id: int
    spans: list[Span]


_UPDATE_FIELDS = ("state", "due_at", "warn_at", "stopped_at", "stop_reason", "policy", "updated_at")


class _NewItem(NamedTuple):
    """A wait seen for the first time: an item row to insert."""

    kind: str
    connection_id: int
    incident_id: int | None
    thread_id: int | None
    audience: str
    policy_id: int | None
    started_at: datetime
    due_at: datetime
    warn_at: datetime
    state: str
    stopped_at: datetime | None
    stop_reason: str


_INSERT_COLUMNS = _NewItem._fields
_ALERTING = (State.NEARING, State.BREACHED)


class _Sweep:
    """One run of the sweep; collects writes and issues them in bulk."""

    def __init__(self, *, now: datetime, full: bool, result: SweepResult) -> None:
        self.now = now
        self.full = full
        self.result = result
        self._rules: dict[int, DeadlineRule] | None = None
        #: Items that need a breach row (answered ones get the item's stop time).
        self.breach_ids: list[int] = []
        #: Breached items answered late now: their breach gets the answer time.
        self.answer_ids: list[int] = []
        #: Breached items whose answer turned out to be on time after all.
        self.unbreach_ids: list[int] = []

    # (a) ------------------------------------------------------------------------------

    def rule(self, connection_id: int) -> DeadlineRule:
        if self._rules is None:
            by_preset = rules_by_preset()
            self._rules = {
                pk: rule_resolve(by_preset, code)
                for pk, code in MarketplaceConnection.objects.values_list("pk", "sla_policy")
            }
        rule = self._rules.get(connection_id)
        return rule if rule is not None else rule_resolve({}, "")

    def recompute(self) -> None:
        state, _ = SweepState.objects.get_or_create(key="default")
        last_message_id = Message.objects.aggregate(m=Max("pk"))["m"] or 0

        if self.full or state.threads_seen_at is None:
            threads = Thread.objects.all()
        else:
            threads = Thread.objects.filter(
                Q(synced_at__gt=state.threads_seen_at - SWEEP_OVERLAP)
                | Q(pk__in=Message.objects.filter(pk__gt=state.last_message_id).values("thread_id"))
            )
        if self.full or state.incidents_seen_at is None:
            incidents = Incident.objects.all()
        else:
            incidents = Incident.objects.filter(
                Q(updated_at__gt=state.incidents_seen_at - SWEEP_OVERLAP)
                | Q(order_id__in=threads.filter(order__isnull=False).values("order_id"))
            )

        # In batches of ids, so a first run over years of history keeps memory bounded.
        incident_ids = list(incidents.order_by("pk").values_list("pk", flat=True))
        thread_ids = list(threads.order_by("pk").values_list("pk", flat=True))
        self.result.scanned_incidents = len(incident_ids)
        self.result.scanned_threads = len(thread_ids)
        marks: dict[str, datetime | None] = {"incidents_seen_at": None, "threads_seen_at": None}
        for chunk in _chunks(incident_ids, _RECOMPUTE_BATCH):
            rows = incident_rows(Incident.objects.filter(pk__in=chunk))
            marks["incidents_seen_at"] = _latest(marks["incidents_seen_at"], max_changed(rows))
            sources = [
                _Source(Kind.INCIDENT, row.id, row.connection_id, [incident_span(row.facts)])
                for row in rows
            ]
            self._reconcile(sources, self._existing(Kind.INCIDENT, chunk))
        for chunk in _chunks(thread_ids, _RECOMPUTE_BATCH):
            rows = thread_rows(Thread.objects.filter(pk__in=chunk))
            marks["threads_seen_at"] = _latest(marks["threads_seen_at"], max_changed(rows))
            sources = [
                _Source(Kind.THREAD, row.id, row.connection_id, thread_spans(row.facts))
                for row in rows
            ]
            self._reconcile(sources, self._existing(Kind.THREAD, chunk))

        dirty = []
        for name, seen in marks.items():
            if seen is not None and (getattr(state, name) is None or seen > getattr(state, name)):
                setattr(state, name, seen)
                dirty.append(name)
        if last_message_id != state.last_message_id:
            state.last_message_id = last_message_id
            dirty.append("last_message_id")
        if dirty:
            state.updated_at = self.now
            state.save(update_fields=[*dirty, "updated_at"])

    @staticmethod
    def _existing(
        kind: str, object_ids: Sequence[int]
    ) -> dict[tuple[str, int], dict[tuple[str, datetime], _Existing]]:
        """The items of these incidents or threads, by object and then by wait key."""
        object_field = "incident_id" if kind == Kind.INCIDENT else "thread_id"
        found: dict[tuple[str, int], dict[tuple[str, datetime], _Existing]] = defaultdict(dict)
        for row in (
            SlaItem.objects.filter(kind=kind, **{f"{object_field}__in": object_ids})
            .order_by()
            .values_list(
                object_field,
                "audience",
                "started_at",
                "pk",
                "state",
                "due_at",
                "warn_at",
                "stopped_at",
                "stop_reason",
                "policy_id",
            )
        ):
            object_id, audience, started_at, *rest = row
            found[(kind, object_id)][(audience, started_at)] = _Existing(*rest)
        return found

    def _reconcile(
        self,
        sources: Sequence[_Source],
        existing: dict[tuple[str, int], dict[tuple[str, datetime], _Existing]],
    ) -> None:
        now = self.now
        new_rows: list[_NewItem] = []
        follow_up = False
        to_update: list[SlaItem] = []
        for source in sources:
            known = existing.get((source.kind, source.object_id), {})
            seen: set[tuple[str, datetime]] = set()
            for span in source.spans:
                key = (span.audience, span.started_at)
                seen.add(key)
                old = known.get(key)
                if old is None:
                    row = self._new_row(source, span)
                    new_rows.append(row)
                    follow_up = (
                        follow_up
                        or row.state in _ALERTING
                        or (row.stopped_at is not None and row.stopped_at > row.due_at)
                    )
                    continue
                item = self._updated_item(source, span, old)
                if item is not None:
                    to_update.append(item)
            for key, old in known.items():
                if key in seen or old.stopped_at is not None:
                    continue
                withdrawn = Span(key[1], max(now, key[1]), SlaItem.StopReason.WITHDRAWN, key[0])
                item = self._updated_item(source, withdrawn, old)
                if item is not None:
                    to_update.append(item)

        if to_update:
            SlaItem.objects.bulk_update(to_update, _UPDATE_FIELDS, batch_size=1000)
        if new_rows:
            # Only the sweep inserts items, under its lock: the new ones are above this.
            before = SlaItem.objects.aggregate(m=Max("pk"))["m"] or 0
            _insert_items(new_rows, self.now)
            self.result.created += len(new_rows)
            if follow_up:
                self._follow_up_new(before)
        # The inbox's copy of the due time follows the incidents' items written here.
        touched = {item.incident_id for item in to_update} | {row.incident_id for row in new_rows}
        touched.discard(None)
        if touched:
            incident_reply_due_refresh(incident_ids=sorted(touched))

    def _new_row(self, source: _Source, span: Span) -> _NewItem:
        """The item of a wait seen for the first time."""
        rule = self.rule(source.connection_id)
        due_at, warn_at = rule.due_and_warn(span.started_at)
        state = item_state(now=self.now, due_at=due_at, warn_at=warn_at, stopped_at=span.stopped_at)
        incident = source.kind == Kind.INCIDENT
        return _NewItem(
            source.kind,
            source.connection_id,
            source.object_id if incident else None,
            None if incident else source.object_id,
            span.audience,
            rule.policy_id,
            span.started_at,
            due_at,
            warn_at,
            state,
            span.stopped_at,
            span.stop_reason,
        )

    def _follow_up_new(self, after_pk: int) -> None:
        """Report the items just created nearing or breached; record their breaches."""
        rows = (
            SlaItem.objects.filter(pk__gt=after_pk, state__in=_ALERTING)
            .order_by("pk")
            .values_list(
                "pk", "kind", "connection_id", "incident_id", "thread_id", "state", "due_at"
            )
        )
        for row in rows:
            self._changed(StateChange(*row))
        # Breached, or answered after the deadline before any sweep saw it.
        self.result.breaches_created += _insert_breaches(
            "id > %s AND (state = %s OR stopped_at > due_at)",
            [after_pk, State.BREACHED],
            self.now,
        )

    def _updated_item(self, source: _Source, span: Span, old: _Existing) -> SlaItem | None:
        """The item with its new values, or None when nothing changed."""
        due_at, warn_at, policy_id = old.due_at, old.warn_at, old.policy_id
        if self.full and span.stopped_at is None:
            rule = self.rule(source.connection_id)
            due_at, warn_at = rule.due_and_warn(span.started_at)
            policy_id = rule.policy_id
        if (
            span.stopped_at == old.stopped_at
            and span.stop_reason == old.stop_reason
            and due_at == old.due_at
            and warn_at == old.warn_at
        ):
            return None
        if (due_at, warn_at) != (old.due_at, old.warn_at):
            self.result.rescheduled += 1
        state = item_state(now=self.now, due_at=due_at, warn_at=warn_at, stopped_at=span.stopped_at)
        incident = source.kind == Kind.INCIDENT
        item = SlaItem(
            pk=old.pk,
            kind=source.kind,
            connection_id=source.connection_id,
            incident_id=source.object_id if incident else None,
            thread_id=None if incident else source.object_id,
            state=state,
            due_at=due_at,
            warn_at=warn_at,
            stopped_at=span.stopped_at,
            stop_reason=span.stop_reason,
            policy_id=policy_id,
            updated_at=self.now,
        )
        if old.stopped_at is None and span.stopped_at is not None:
            self.result.stopped += 1
            late = span.stopped_at > due_at
            if old.state == State.BREACHED and late:
                self.answer_ids.append(old.pk)
            elif old.state == State.BREACHED:
                # The answer was on time after all: it reached us after the deadline.
                self.unbreach_ids.append(old.pk)
            elif late and span.stop_reason != SlaItem.StopReason.WITHDRAWN:
                self.breach_ids.append(old.pk)
        elif state != old.state and state in _ALERTING:
            self._changed(
                StateChange(
                    old.pk,
                    item.kind,
                    item.connection_id,
                    item.incident_id,
                    item.thread_id,
                    state,
                    due_at,
                )
            )
            if state == State.BREACHED:
                self.breach_ids.append(old.pk)
        return item

    def _changed(self, change: StateChange) -> None:
        if change.state == State.NEARING:
            self.result.nearing += 1
        else:
            self.result.breached += 1
        self.result.changes.append(change)

    # (b) ------------------------------------------------------------------------------

    def flag_thresholds(self) -> None:
        """Move running items past their thresholds: two UPDATE … RETURNING statements."""
        for from_states, to_state, condition in (
            ((State.ON_TIME, State.NEARING), State.BREACHED, "due_at < %s"),
            ((State.ON_TIME,), State.NEARING, "warn_at <= %s"),
        ):
            for pk, kind, connection_id, incident_id, thread_id, due_at in _update_returning(
                from_states, to_state, condition, self.now
            ):
                self._changed(
                    StateChange(
                        pk,
                        kind,
                        connection_id,
                        incident_id,
                        thread_id,
                        to_state,
                        _as_datetime(due_at),
                    )
                )
                if to_state == State.BREACHED:
                    self.breach_ids.append(pk)

    # (c) ------------------------------------------------------------------------------

    def record_breaches(self) -> None:
        """Breach rows for new breaches; answers and retractions for earlier ones."""
        ids = sorted(set(self.breach_ids))
        for chunk in _chunks(ids):
            self.result.breaches_created += _insert_breaches(
                f"id IN ({', '.join(['%s'] * len(chunk))})", list(chunk), self.now
            )
        if self.answer_ids:
            self.result.breaches_answered += SlaBreach.objects.filter(
                item_id__in=self.answer_ids, answered_at__isnull=True
            ).update(
                answered_at=Subquery(
                    SlaItem.objects.filter(pk=OuterRef("item_id")).values("stopped_at")[:1]
                )
            )
        if self.unbreach_ids:
            self.result.breaches_removed += SlaBreach.objects.filter(
                item_id__in=self.unbreach_ids
            ).delete()[0]


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def _chunks(values: Sequence[int], size: int = _BATCH) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _insert_items(rows: list[_NewItem], now: datetime) -> None:
    """Insert new items: ``COPY`` on Postgres, ``bulk_create`` elsewhere.

    Django's ``bulk_create`` spends most of its time preparing each value of each
    row; the first sweep of a large shop inserts every open wait at once.
    """
    if db_connection.vendor != "postgresql":
        SlaItem.objects.bulk_create(
            (
                SlaItem(
                    **dict(zip(_INSERT_COLUMNS, row, strict=True)), created_at=now, updated_at=now
                )
                for row in rows
            ),
            batch_size=500,
        )
        return
    null = "\\N"
    stamp = now.isoformat()
    lines = []
    for row in rows:
        (kind, connection, incident, thread, audience, policy, started, due, warn, state,
         stopped, reason) = row  # fmt: skip
        lines.append(
            f"{kind}\t{connection}\t{null if incident is None else incident}\t"
            f"{null if thread is None else thread}\t{_copy_text(audience)}\t"
            f"{null if policy is None else policy}\t{started.isoformat()}\t"
            f"{due.isoformat()}\t{warn.isoformat()}\t{state}\t"
            f"{null if stopped is None else stopped.isoformat()}\t{reason}\t"
            f"{stamp}\t{stamp}\n"
        )
    table = db_connection.ops.quote_name(SlaItem._meta.db_table)
    columns = ", ".join((*_INSERT_COLUMNS, "created_at", "updated_at"))
    with db_connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {table} ({columns}) FROM STDIN", io.StringIO("".join(lines))
        )


def _copy_text(value: str) -> str:
    """A string in ``COPY``'s text format."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _insert_breaches(condition: str, params: list, now: datetime) -> int:
    """One breach per item matching ``condition``, copied from it; existing ones are kept.

    ``INSERT … SELECT … ON CONFLICT (item_id) DO NOTHING``: the unique item key makes a
    duplicate impossible, and the rows never pass through Python. An item already
    answered gets its stop time as the answer time.
    """
    ops = db_connection.ops
    breach = ops.quote_name(SlaBreach._meta.db_table)
    item = ops.quote_name(SlaItem._meta.db_table)
    at = ops.adapt_datetimefield_value(now)
    sql = (
        f"INSERT INTO {breach} (item_id, connection_id, kind, incident_id, thread_id, "  # noqa: S608 - fixed identifiers
        "due_at, breached_at, answered_at, created_at) "
        "SELECT id, connection_id, kind, incident_id, thread_id, due_at, %s, stopped_at, "
        f"%s FROM {item} WHERE {condition} "
        "ON CONFLICT (item_id) DO NOTHING"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [at, at, *params])
        return cursor.rowcount


def _update_returning(
    from_states: Sequence[str], to_state: str, condition: str, now: datetime
) -> list[tuple]:
    """``UPDATE sla_slaitem SET state = … WHERE state IN … AND <condition> RETURNING …``."""
    ops = db_connection.ops
    table = ops.quote_name(SlaItem._meta.db_table)
    at = ops.adapt_datetimefield_value(now)
    placeholders = ", ".join(["%s"] * len(from_states))
    sql = (
        f"UPDATE {table} SET state = %s, updated_at = %s "  # noqa: S608 - fixed identifiers
        f"WHERE state IN ({placeholders}) AND {condition} "
        "RETURNING id, kind, connection_id, incident_id, thread_id, due_at"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [to_state, at, *from_states, at])
        return cursor.fetchall()


def _as_datetime(value: datetime | str) -> datetime:
    """A RETURNING value as an aware datetime (SQLite hands back text)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not a datetime: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
