"""Keeping the queue's table (:class:`sla.models.QueueEntry`) up to date.

The sweep calls :func:`queue_entries_refresh` with the orders whose incidents, threads,
messages or waits it saw change (every order on a first or full sweep). An order's rows
are written again whole: one per incident, and, when the order has no incident, one per
conversation. An incident's row carries every open wait of its order: its own first
reply, and the follow-ups owed on the order's threads, to the customer and the operator.
A handful of queries per batch of orders, whatever their number of messages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count, Max, Q
from django.db.models.functions import Substr
from django.utils import timezone

from core.models import MarketplaceReason, Order
from incidents.models import Incident
from messaging.models import Message, Party, Thread
from sla.models import QueueEntry, SlaItem
from sla.models.queue import PREVIEW_CHARS
from sla.queue_sql import queue_entries_rebuild

__all__ = ["PREVIEW_CHARS", "queue_entries_refresh", "queue_orders_of"]

_BATCH = 2000

#: From this many orders on (a large shop's first sync), their rows are written by the
#: set-based statements of :mod:`sla.queue_sql` (Postgres), every row of those orders
#: whether it changed or not: Django's ``bulk_create`` prepared each value of each row
#: in Python, the most of the sweep that followed.
SET_BASED_FROM = 5000

_TOPIC_REASON_CODE = "REASON_CODE"

Owed = QueueEntry.Owed


@dataclass(slots=True)
class _Waits:
    """What is owed on a row: the earliest deadline and warning, and to whom."""

    due_at: datetime | None = None
    warn_at: datetime | None = None
    customer: bool = False
    operator: bool = False

    def add(self, audience: str, due_at: datetime, warn_at: datetime) -> None:
        self.due_at = due_at if self.due_at is None else min(self.due_at, due_at)
        self.warn_at = warn_at if self.warn_at is None else min(self.warn_at, warn_at)
        if audience == SlaItem.Audience.OPERATOR:
            self.operator = True
        else:  # the customer, "anyone", or an incident's own wait (the customer's)
            self.customer = True

    def merge(self, other: _Waits) -> None:
        if other.due_at is not None and other.warn_at is not None:
            self.due_at = other.due_at if self.due_at is None else min(self.due_at, other.due_at)
            self.warn_at = (
                other.warn_at if self.warn_at is None else min(self.warn_at, other.warn_at)
            )
        self.customer = self.customer or other.customer
        self.operator = self.operator or other.operator

    @property
    def owed_to(self) -> str:
        if self.customer and self.operator:
            return Owed.BOTH
        if self.operator:
            return Owed.OPERATOR
        return Owed.CUSTOMER if self.customer else Owed.NONE


@dataclass(slots=True)
class _Messages:
    """A thread's (or an order's) message count and last inbound message."""

    count: int = 0
    last_id: int | None = None
    last_at: datetime | None = None
    last_author: str = ""
    preview: str = ""

    def merge(self, other: _Messages) -> None:
        self.count += other.count
        # The latest received is the one with the highest id (as in sla.queue_sql).
        if other.last_id is not None and (self.last_id is None or other.last_id > self.last_id):
            self.last_id, self.last_at = other.last_id, other.last_at
            self.last_author, self.preview = other.last_author, other.preview


@dataclass(slots=True)
class _Thread:
    id: int
    order_id: int
    connection_id: int
    topic_type: str
    topic_value: str
    created: datetime
    waits: _Waits = field(default_factory=_Waits)
    messages: _Messages = field(default_factory=_Messages)


def queue_orders_of(
    *, incident_ids: Iterable[int] = (), thread_ids: Iterable[int] = ()
) -> set[int]:
    """The orders of these incidents and threads (the rows to write again)."""
    orders: set[int] = set()
    incident_ids, thread_ids = list(incident_ids), list(thread_ids)
    for chunk in _chunks(incident_ids):
        orders.update(Incident.objects.filter(pk__in=chunk).values_list("order_id", flat=True))
    for chunk in _chunks(thread_ids):
        orders.update(
            Thread.objects.filter(pk__in=chunk, order__isnull=False).values_list(
                "order_id", flat=True
            )
        )
    return orders


def queue_entries_refresh(
    *, order_ids: Iterable[int] | None = None, now: datetime | None = None
) -> int:
    """Write the queue's rows of these orders again (every order when None).

    Returns the number of rows written. Runs in the caller's transaction (the sweep's)
    or its own.
    """
    now = now or timezone.now()
    if order_ids is not None:
        order_ids = sorted(set(order_ids))
    if connection.vendor == "postgresql" and (
        order_ids is None or len(order_ids) >= SET_BASED_FROM
    ):
        with transaction.atomic():
            return queue_entries_rebuild(now=now, order_ids=order_ids)
    if order_ids is None:
        with_rows = Q(pk__in=Incident.objects.values("order_id")) | Q(
            pk__in=Thread.objects.filter(order__isnull=False).values("order_id")
        )
        ids = list(Order.objects.filter(with_rows).order_by("pk").values_list("pk", flat=True))
        stale = QueueEntry.objects.exclude(order_id__in=Order.objects.filter(with_rows))
    else:
        ids = order_ids
        stale = None
    written = 0
    with transaction.atomic():
        if stale is not None:
            stale.delete()
        for chunk in _chunks(ids):
            written += _refresh_orders(chunk, now)
    return written


def _refresh_orders(order_ids: Sequence[int], now: datetime) -> int:
    numbers: dict[int, str] = {}
    incidents: list[tuple[int, int, int, str, str, str, datetime | None, datetime]] = []
    for pk, order_id, connection_id, code, label, state, closed_at, opened_at, number in (
        Incident.objects.filter(order_id__in=order_ids)
        .order_by()
        .values_list(
            "pk",
            "order_id",
            "connection_id",
            "reason_code",
            "reason_label",
            "state",
            "closed_at",
            "opened_at",
            "order__mirakl_id",
        )
    ):
        incidents.append((pk, order_id, connection_id, code, label, state, closed_at, opened_at))
        numbers[order_id] = number
    threads: dict[int, _Thread] = {}
    for pk, order_id, connection_id, topic_type, topic_value, created, number in (
        Thread.objects.filter(order_id__in=order_ids)
        .order_by()
        .values_list(
            "pk",
            "order_id",
            "connection_id",
            "topic_type",
            "topic_value",
            "date_created",
            "order__mirakl_id",
        )
    ):
        threads[pk] = _Thread(pk, order_id, connection_id, topic_type, topic_value, created)
        numbers[order_id] = number
    incident_waits: dict[int, _Waits] = defaultdict(_Waits)
    rows = (
        SlaItem.objects.filter(stopped_at__isnull=True)
        .filter(Q(incident_id__in=[row[0] for row in incidents]) | Q(thread_id__in=list(threads)))
        .order_by()
        .values_list("incident_id", "thread_id", "audience", "due_at", "warn_at")
    )
    for incident_id, thread_id, audience, due_at, warn_at in rows:
        if incident_id is not None:
            incident_waits[incident_id].add(audience, due_at, warn_at)
        elif thread_id in threads:
            threads[thread_id].waits.add(audience, due_at, warn_at)
    _read_messages(threads)

    by_order: dict[int, list[_Thread]] = defaultdict(list)
    for thread in threads.values():
        by_order[thread.order_id].append(thread)
    labels = _topic_labels(threads.values())
    entries: list[QueueEntry] = []
    with_incident: set[int] = set()
    for pk, order_id, connection_id, code, label, state, closed_at, opened_at in incidents:
        with_incident.add(order_id)
        waits, messages = _Waits(), _Messages()
        own = incident_waits.get(pk, _Waits())
        waits.merge(own)
        for thread in by_order.get(order_id, []):
            waits.merge(thread.waits)
            messages.merge(thread.messages)
        entries.append(
            _entry(
                QueueEntry.Kind.INCIDENT,
                order_id,
                connection_id,
                numbers.get(order_id, ""),
                waits,
                messages,
                now,
                incident_id=pk,
                reason_code=code,
                reason_label=label or code,
                incident_state=state,
                reply_due_at=own.due_at,
                opened_at=opened_at,
                is_open=closed_at is None or waits.due_at is not None,
            )
        )
    for thread in threads.values():
        if thread.order_id in with_incident:
            continue
        entries.append(
            _entry(
                QueueEntry.Kind.CONVERSATION,
                thread.order_id,
                thread.connection_id,
                numbers.get(thread.order_id, ""),
                thread.waits,
                thread.messages,
                now,
                thread_id=thread.id,
                reason_code=thread.topic_value if thread.topic_type == _TOPIC_REASON_CODE else "",
                reason_label=labels.get((thread.connection_id, thread.topic_value), "")
                if thread.topic_type == _TOPIC_REASON_CODE
                else thread.topic_value,
                opened_at=thread.created,
                is_open=thread.waits.due_at is not None,
            )
        )
    return _write(order_ids, entries)


#: What a row's refresh writes (its key, ``incident`` or ``thread``, stays).
_FIELDS = (
    "kind",
    "connection",
    "order",
    "order_number",
    "reason_code",
    "reason_label",
    "incident_state",
    "is_open",
    "owed_to",
    "due_at",
    "reply_due_at",
    "warn_at",
    "opened_at",
    "message_count",
    "last_inbound_at",
    "last_inbound_author",
    "last_inbound_preview",
    "updated_at",
)


#: The values compared to tell whether a row changed (all it shows but its time stamp).
_COMPARED = tuple(
    f"{name}_id" if name in ("connection", "order") else name
    for name in _FIELDS
    if name != "updated_at"
)


def _write(order_ids: Sequence[int], entries: list[QueueEntry]) -> int:
    """Upsert the rows that changed (a row keeps its id: links and selections stay
    valid) and remove the orders' rows that are no longer (a conversation whose order
    got an incident). Returns how many rows were written: a re-run with nothing new
    writes nothing."""
    existing = {
        (row["incident_id"], row["thread_id"]): row
        for row in QueueEntry.objects.filter(order_id__in=order_ids).values(
            "pk", "incident_id", "thread_id", *_COMPARED
        )
    }
    changed = []
    for entry in entries:
        old = existing.pop((entry.incident_id, entry.thread_id), None)
        if old is None or any(getattr(entry, name) != old[name] for name in _COMPARED):
            changed.append(entry)
    stale = [row["pk"] for row in existing.values()]
    if stale:
        QueueEntry.objects.filter(pk__in=stale).delete()
    incidents = [e for e in changed if e.incident_id is not None]
    threads = [e for e in changed if e.thread_id is not None]
    for rows, key in ((incidents, "incident"), (threads, "thread")):
        if rows:
            QueueEntry.objects.bulk_create(
                rows,
                batch_size=1000,
                update_conflicts=True,
                unique_fields=[key],
                update_fields=list(_FIELDS),
            )
    return len(changed)


def _entry(
    kind: str,
    order_id: int,
    connection_id: int,
    number: str,
    waits: _Waits,
    messages: _Messages,
    now: datetime,
    **fields: object,
) -> QueueEntry:
    return QueueEntry(
        kind=kind,
        order_id=order_id,
        connection_id=connection_id,
        order_number=number,
        owed_to=waits.owed_to,
        due_at=waits.due_at,
        warn_at=waits.warn_at,
        message_count=messages.count,
        last_inbound_at=messages.last_at,
        last_inbound_author=messages.last_author,
        last_inbound_preview=messages.preview,
        updated_at=now,
        **fields,
    )


def _read_messages(threads: dict[int, _Thread]) -> None:
    """Each thread's message count and last inbound message (two queries a batch)."""
    inbound = Q(author_type__in=(Party.CUSTOMER, Party.OPERATOR))
    last_ids: list[int] = []
    for thread_id, count, last_id in (
        Message.objects.filter(thread_id__in=list(threads))
        .order_by()
        .values("thread_id")
        .annotate(n=Count("pk"), last=Max("pk", filter=inbound))
        .values_list("thread_id", "n", "last")
    ):
        threads[thread_id].messages.count = count
        if last_id is not None:
            last_ids.append(last_id)
    for thread_id, pk, author, at, body in (
        Message.objects.filter(pk__in=last_ids)
        .annotate(start=Substr("body", 1, PREVIEW_CHARS * 2))
        .values_list("thread_id", "pk", "author_type", "date_created", "start")
    ):
        messages = threads[thread_id].messages
        messages.last_id, messages.last_at, messages.last_author = pk, at, author
        messages.preview = _one_line(body)


def _one_line(text: str) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def _topic_labels(threads: Iterable[_Thread]) -> dict[tuple[int, str], str]:
    """(connection, code) → the reason's label, for threads whose topic is a reason."""
    wanted = {(t.connection_id, t.topic_value) for t in threads if t.topic_type == "REASON_CODE"}
    if not wanted:
        return {}
    labels: dict[tuple[int, str], str] = {}
    for connection_id, code, label in MarketplaceReason.objects.filter(
        connection_id__in={c for c, _ in wanted}, code__in={v for _, v in wanted}
    ).values_list("connection_id", "code", "label"):
        labels.setdefault((connection_id, code), label or code)
    return labels


def _chunks(values: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), _BATCH):
        yield values[start : start + _BATCH]
