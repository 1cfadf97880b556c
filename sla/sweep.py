"""One run of the SLA sweep, in its transaction: recompute the waits that changed, flag
the items whose thresholds passed, record breaches (see :mod:`sla.services` for the
whole picture; :func:`sla.services.sla_sweep` runs it under its advisory lock).
"""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple, TypeVar

from django.db.models import Max, OuterRef, Q, Subquery

from core.expressions import id_in
from core.models import MarketplaceConnection
from incidents.models import Incident
from messaging.models import Message, Thread
from sla.business_hours import to_us
from sla.clock import Span, incident_span, mirakl_disagreement, thread_spans
from sla.facts import IncidentRow, ThreadRow, incident_rows, max_changed, thread_rows
from sla.indexes import lookup_indexes_set_aside
from sla.models import SlaBreach, SlaItem, SweepState
from sla.policies import DeadlineRule, rule_resolve, rules_by_preset
from sla.sweep_sql import (
    NewItem,
    as_datetime,
    insert_breaches,
    insert_items,
    update_returning,
)
from sla.watch import close_expected_refresh

__all__ = [
    "SWEEP_OVERLAP",
    "StateChange",
    "Sweep",
    "SweepResult",
    "chunks",
    "item_state",
]

logger = logging.getLogger(__name__)

State = SlaItem.State
Kind = SlaItem.Kind
#: Datetimes, or microseconds since the Unix epoch (``sla.business_hours.to_us``).
Moment = TypeVar("Moment", datetime, int)


#: Rows changed this long before the last mark are read again: a transaction that
#: started earlier may commit after a sweep has read past its timestamps.
SWEEP_OVERLAP = timedelta(minutes=5)


class StateChange(NamedTuple):
    """An item that turned nearing or breached in this sweep (a named tuple: a first
    sweep makes one per late wait, tens of thousands)."""

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
    #: Incidents awaiting close whose expected close changed, and those past it (the
    #: watch after resolving, :mod:`sla.watch`).
    close_expected: int = 0
    close_overdue: int = 0
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
            "close_expected": self.close_expected,
            "close_overdue": self.close_overdue,
        }


def item_state(*, now: Moment, due_at: Moment, warn_at: Moment, stopped_at: datetime | None) -> str:
    """The state of a wait at ``now``: answering exactly at the deadline is on time."""
    if stopped_at is not None:
        return State.STOPPED
    if now > due_at:
        return State.BREACHED
    if now >= warn_at:
        return State.NEARING
    return State.ON_TIME


_BATCH = 5000


_RECOMPUTE_BATCH = 10_000


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


@dataclass(slots=True)
class _Plan:
    """What one batch writes besides its new items."""

    to_update: list[SlaItem] = field(default_factory=list)
    #: Whether a new item is nearing or breached, or was answered late.
    follow_up: bool = False


def _incident_sources(rows: Iterable[IncidentRow]) -> Iterator[_Source]:
    for row in rows:
        yield _Source(Kind.INCIDENT, row.id, row.connection_id, [incident_span(row.facts)])


def _thread_sources(rows: Iterable[ThreadRow]) -> Iterator[_Source]:
    for row in rows:
        spans = thread_spans(row.facts)
        disagreement = mirakl_disagreement(row.facts, spans)
        if disagreement:
            # Rule T7: Mirakl's flag and our messages tell different stories.
            logger.info("SLA thread %s: %s", row.id, disagreement)
        yield _Source(Kind.THREAD, row.id, row.connection_id, spans)


_UPDATE_FIELDS = ("state", "due_at", "warn_at", "stopped_at", "stop_reason", "policy", "updated_at")


_ALERTING = (State.NEARING, State.BREACHED)

#: Running items (on time or nearing) past their deadline; ``%s`` is now.
_PAST_DUE = (
    f"(state = '{State.NEARING}' AND due_at < %s)"
    f" OR (state = '{State.ON_TIME}' AND warn_at < %s AND due_at < %s)"
)


class Sweep:
    """One run of the sweep; collects writes and issues them in bulk."""

    def __init__(self, *, now: datetime, full: bool, result: SweepResult) -> None:
        self.now = now
        self.now_us = to_us(now)
        self.full = full
        self.result = result
        self._rules: dict[int, DeadlineRule] | None = None
        #: Items that need a breach row (answered ones get the item's stop time).
        self.breach_ids: list[int] = []
        #: Breached items answered late now: their breach gets the answer time.
        self.answer_ids: list[int] = []
        #: Breached items whose answer turned out to be on time after all.
        self.unbreach_ids: list[int] = []
        #: What ``recompute`` read again (the queue's rows of their orders follow), and
        #: whether it read everything.
        self.incident_ids: list[int] = []
        self.thread_ids: list[int] = []
        self.read_all = full

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

        if state.threads_seen_at is None or state.incidents_seen_at is None:
            self.read_all = True
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
        self.incident_ids, self.thread_ids = incident_ids, thread_ids
        marks: dict[str, datetime | None] = {"incidents_seen_at": None, "threads_seen_at": None}
        # The first sweep of a large shop fills the empty tables of items and breaches:
        # their lookup indexes are built after (the block finds rows on their primary
        # and unique keys alone).
        waits = len(incident_ids) + len(thread_ids)
        # Only the sweep inserts items, under its lock: when there are none yet (the
        # first sweep ever), no incident or thread has one, and the lookup of each
        # batch's items (on a table being filled, its statistics those of an empty
        # one) is skipped.
        none_yet = self.read_all and not SlaItem.objects.exists()
        existing = _no_items if none_yet else self._existing
        with (
            lookup_indexes_set_aside(SlaItem._meta.db_table, rows=waits),
            lookup_indexes_set_aside(SlaBreach._meta.db_table, rows=waits),
        ):
            for chunk in chunks(incident_ids, _RECOMPUTE_BATCH):
                rows = incident_rows(Incident.objects.filter(pk__in=id_in(chunk)))
                marks["incidents_seen_at"] = _latest(marks["incidents_seen_at"], max_changed(rows))
                self._reconcile(_incident_sources(rows), existing(Kind.INCIDENT, chunk))
            for chunk in chunks(thread_ids, _RECOMPUTE_BATCH):
                rows = thread_rows(Thread.objects.filter(pk__in=id_in(chunk)))
                marks["threads_seen_at"] = _latest(marks["threads_seen_at"], max_changed(rows))
                self._reconcile(_thread_sources(rows), existing(Kind.THREAD, chunk))

        # The watch after resolving: the expected close of what was read (sla.watch).
        self.result.close_expected = close_expected_refresh(
            incident_ids=incident_ids, rule_of=self.rule
        )

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
            SlaItem.objects.filter(kind=kind, **{f"{object_field}__in": id_in(object_ids)})
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
        sources: Iterable[_Source],
        existing: dict[tuple[str, int], dict[tuple[str, datetime], _Existing]],
    ) -> None:
        """Write what changed for these sources: new items and updated ones.

        The new items stream into ``COPY`` as they are computed, so Postgres inserts
        and indexes one part of a batch while Python works out the next (a first sweep
        over a large shop is half Python, half Postgres).
        """
        plan = _Plan()
        new_rows = self._plan(sources, existing, plan)
        first = next(new_rows, None)
        if first is not None:
            # Only the sweep inserts items, under its lock: the new ones are above this.
            before = SlaItem.objects.aggregate(m=Max("pk"))["m"] or 0
            self.result.created += insert_items(itertools.chain((first,), new_rows), self.now)
            if plan.follow_up:
                self._follow_up_new(before)
        if plan.to_update:
            SlaItem.objects.bulk_update(plan.to_update, _UPDATE_FIELDS, batch_size=1000)

    def _plan(
        self,
        sources: Iterable[_Source],
        existing: dict[tuple[str, int], dict[tuple[str, datetime], _Existing]],
        plan: _Plan,
    ) -> Iterator[NewItem]:
        """The items to insert, one by one; the updates go into ``plan``."""
        now = self.now
        for source in sources:
            known = existing.get((source.kind, source.object_id), {})
            seen: set[tuple[str, datetime]] = set()
            for span in source.spans:
                key = (span.audience, span.started_at)
                seen.add(key)
                old = known.get(key)
                if old is None:
                    row = self._new_row(source, span)
                    plan.follow_up = (
                        plan.follow_up
                        or row.state in _ALERTING
                        or (row.stopped_at is not None and to_us(row.stopped_at) > row.due_us)
                    )
                    yield row
                else:
                    item = self._updated_item(source, span, old)
                    if item is not None:
                        plan.to_update.append(item)
            for key, old in known.items():
                if key in seen or old.stopped_at is not None:
                    continue
                withdrawn = Span(key[1], max(now, key[1]), SlaItem.StopReason.WITHDRAWN, key[0])
                item = self._updated_item(source, withdrawn, old)
                if item is not None:
                    plan.to_update.append(item)

    def _new_row(self, source: _Source, span: Span) -> NewItem:
        """The item of a wait seen for the first time."""
        rule = self.rule(source.connection_id)
        started = to_us(span.started_at)
        due, warn = rule.due_and_warn_us(started)
        state = item_state(now=self.now_us, due_at=due, warn_at=warn, stopped_at=span.stopped_at)
        incident = source.kind == Kind.INCIDENT
        return NewItem(
            source.kind,
            source.connection_id,
            source.object_id if incident else None,
            None if incident else source.object_id,
            span.audience,
            rule.policy_id,
            started,
            due,
            warn,
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
        self.result.breaches_created += insert_breaches(
            "id > %s AND (state = %s OR stopped_at > due_at)",
            [after_pk, State.BREACHED],
            self.now,
            new_items=True,
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
        """Move running items past their thresholds: two UPDATE … RETURNING statements.

        Running items past their deadline are those nearing, and those on time past
        their warning too (it never comes after the deadline): each found on a partial
        index of its state, rather than among every open item due before now, the
        missed ones included (a quiet sweep read them all).
        """
        for to_state, condition in (
            (State.BREACHED, _PAST_DUE),
            (State.NEARING, f"state = '{State.ON_TIME}' AND warn_at <= %s"),
        ):
            for pk, kind, connection_id, incident_id, thread_id, due_at in update_returning(
                to_state, condition, self.now
            ):
                self._changed(
                    StateChange(
                        pk,
                        kind,
                        connection_id,
                        incident_id,
                        thread_id,
                        to_state,
                        as_datetime(due_at),
                    )
                )
                if to_state == State.BREACHED:
                    self.breach_ids.append(pk)

    # (c) ------------------------------------------------------------------------------

    def record_breaches(self) -> None:
        """Breach rows for new breaches; answers and retractions for earlier ones."""
        ids = sorted(set(self.breach_ids))
        for chunk in chunks(ids):
            self.result.breaches_created += insert_breaches(
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


def _no_items(
    kind: str, object_ids: Sequence[int]
) -> dict[tuple[str, int], dict[tuple[str, datetime], _Existing]]:
    """:meth:`Sweep._existing` when the sweep began with no item at all."""
    return {}


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def chunks(values: Sequence[int], size: int = _BATCH) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
