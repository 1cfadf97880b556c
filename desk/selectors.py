"""Reads of the pages that compose several apps: the overview and the inbox."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import connections, router
from django.db.models import (
    BigIntegerField,
    Count,
    Exists,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.expressions import AnyOf
from core.models import MarketplaceConnection, Order
from core.precompiled import PrecompiledQuery
from core.scoping import scope_queryset
from core.sync.health import ConnectionHealth, connection_health
from core.sync.models import SyncCursor
from desk.filtersets import STATUS_CLOSED, QueueFilterSet
from incidents.models import Incident, IncidentSeen
from incidents.selectors import orders_held_by_open_incidents
from messaging.models import Message, Party, Thread
from sla.models import QueueEntry
from sla.models.queue import queue_sla_state

__all__ = [
    "ConnectionOverview",
    "QueueRow",
    "connections_overview",
    "queue_entries",
    "queue_list",
    "queue_rows",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class ConnectionOverview:
    """What the overview shows of one connection."""

    connection: MarketplaceConnection
    orders: int = 0
    open_incidents: dict[str, int] = field(default_factory=dict)
    threads_waiting: int = 0
    cursors: list[SyncCursor] = field(default_factory=list)
    #: Set once the cursors are read (:func:`connections_overview`).
    health: ConnectionHealth | None = None
    #: Orders with an open incident, and their total value: the marketplace does not pay
    #: the shop for them while the incident lasts.
    held_orders: int = 0
    held_value: Decimal = Decimal(0)

    @property
    def open_total(self) -> int:
        return sum(self.open_incidents.values())

    @property
    def state_counts(self) -> list[tuple[str, str, int]]:
        """(state, label, count) for every state an open incident can be in."""
        return [
            (state, str(label), self.open_incidents.get(state, 0))
            for state, label in Incident.State.choices
            if state != Incident.State.CLOSED
        ]


def connections_overview(*, user: Any = None) -> list[ConnectionOverview]:
    """Every active connection ``user`` sees (:mod:`core.scoping`; all without a user)
    with its counts, in six queries whatever the data size."""
    connections = MarketplaceConnection.objects.filter(is_active=True)
    if user is not None:
        connections = scope_queryset(connections, user, "pk")
    overviews = {c.pk: ConnectionOverview(connection=c) for c in connections.order_by("name")}
    for row in (
        Order.objects.filter(connection__in=overviews)
        .values("connection")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        overviews[row["connection"]].orders = row["n"]
    by_state: dict[int, dict[str, int]] = defaultdict(dict)
    for row in (
        Incident.objects.filter(connection__in=overviews, closed_at__isnull=True)
        .values("connection", "state")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        by_state[row["connection"]][row["state"]] = row["n"]
    for pk, states in by_state.items():
        overviews[pk].open_incidents = states
    for row in (
        Thread.objects.filter(connection__in=overviews, shop_reply_needed_since__isnull=False)
        .values("connection")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        overviews[row["connection"]].threads_waiting = row["n"]
    for pk, (n, value) in orders_held_by_open_incidents(connection_ids=overviews).items():
        overviews[pk].held_orders, overviews[pk].held_value = n, value
    for cursor in SyncCursor.objects.filter(connection__in=overviews).order_by("resource"):
        overviews[cursor.connection_id].cursors.append(cursor)
    now = timezone.now()
    for overview in overviews.values():
        overview.health = connection_health(overview.connection, overview.cursors, now=now)
    return list(overviews.values())


def _unread_count(user: Any) -> Coalesce:
    """Inbound messages on the incident's order that nobody answered and ``user`` has not seen.

    A message counts when it came from the customer or the operator, no shop message
    followed it in its thread, and it is newer than the user's last visit of the page.
    """
    seen = IncidentSeen.objects.filter(incident=OuterRef(OuterRef("pk")), user=user).values(
        "seen_at"
    )[:1]
    answered = Message.objects.filter(
        thread=OuterRef("thread"),
        author_type=Party.SHOP,
        date_created__gt=OuterRef("date_created"),
    )
    unread = (
        Message.objects.filter(
            thread__order_id=OuterRef("order_id"),
            author_type__in=(Party.CUSTOMER, Party.OPERATOR),
            date_created__gt=Coalesce(Subquery(seen), Value(_EPOCH)),
        )
        .exclude(Exists(answered))
        .order_by()
        .values("thread__order_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(unread), Value(0))


def _unread_counts(*, incident_ids: list[int], user_id: int) -> QuerySet[Any, Any]:
    """(incident id, :func:`_unread_count`) of these incidents (Postgres: the ids as one
    array, so the query's SQL is the same for any page)."""
    from django.contrib.postgres.fields import ArrayField

    ids = Value(incident_ids, output_field=ArrayField(BigIntegerField()))
    return (
        Incident.objects.filter(AnyOf(F("pk"), ids))
        .annotate(n=_unread_count(user_id))
        .order_by()  # read into a dict: the incidents' default order is a sort for nothing
        .values_list("pk", "n")
    )


#: Written once per process: compiling its nested subqueries cost more than running it.
_UNREAD_QUERY = PrecompiledQuery(
    _unread_counts, incident_ids=[-1_999_999_003], user_id=-1_999_999_002
)


def queue_entries(*, user: Any) -> QuerySet[QueueEntry]:
    """Every row of the queue ``user`` may see (the marketplaces they are scoped to):
    what the page and the API filter."""
    return scope_queryset(QueueEntry.objects.all(), user)


def queue_list(
    *, filters: Any, user: Any, request: Any = None
) -> tuple[QueueFilterSet, QuerySet[QueueEntry]]:
    """The queue of what the shop owes: the FilterSet (for its form) and the filtered
    rows, sorted. The one place the queue's query is built (page and API).

    Narrow on purpose, ids and sort keys only: most urgent first (the earliest open
    deadline of any wait on the row, none last, then the oldest), closed rows latest
    first; :func:`queue_rows` loads the rows of one page. Both orders are walked on an
    index of the queue's table (``queue_open_due_idx``, ``queue_closed_idx``).
    """
    filterset = QueueFilterSet(filters, queryset=queue_entries(user=user), request=request)
    entries = filterset.qs.only("pk")
    if filterset.form.cleaned_data.get("status") == STATUS_CLOSED:
        return filterset, entries.order_by(F("opened_at").desc(), F("id").desc())
    return filterset, entries.order_by(F("due_at").asc(nulls_last=True), "opened_at", "id")


@dataclass(slots=True)
class QueueRow:
    """What the queue shows of one row (:class:`sla.models.QueueEntry`), with its
    marketplace's name, the order's customer, the incident's state and the assignee."""

    pk: int
    kind: str
    connection_name: str
    incident_id: int | None
    thread_id: int | None
    order_id: int
    order_number: str
    customer_name: str
    reason_label: str
    incident_state: str
    incident_watch: str
    incident_close_expected_at: datetime | None
    incident_closed_at: datetime | None
    owed_to: str
    due_at: datetime | None
    warn_at: datetime | None
    opened_at: datetime
    message_count: int
    last_inbound_author: str
    last_inbound_preview: str
    assignee_name: str
    #: Inbound messages on the incident's order the user has not seen (0: a conversation).
    unread_count: int = 0

    def sla_state(self, now: datetime | None = None) -> str:
        """``breached``, ``nearing``, ``on_time``, or "" when nothing is owed."""
        return queue_sla_state(self.due_at, self.warn_at, now or timezone.now())

    def cache_parts(self) -> tuple[object, ...]:
        """Every value the row's cells show but the deadline (which changes with time)."""
        return (
            self.pk, self.kind, self.connection_name, self.incident_id, self.thread_id,
            self.order_id, self.order_number, self.customer_name, self.reason_label,
            self.incident_state, self.incident_watch, self.incident_close_expected_at,
            self.incident_closed_at, self.owed_to, self.opened_at, self.message_count,
            self.last_inbound_author, self.last_inbound_preview, self.assignee_name,
            self.unread_count,
        )  # fmt: skip


_QUEUE_ROW_FIELDS = (
    "pk",
    "kind",
    "connection__name",
    "incident_id",
    "thread_id",
    "order_id",
    "order_number",
    "order__customer_first_name",
    "order__customer_last_name",
    "reason_label",
    "incident__state",
    "incident__watch",
    "incident__close_expected_at",
    "incident__closed_at",
    "owed_to",
    "due_at",
    "warn_at",
    "opened_at",
    "message_count",
    "last_inbound_author",
    "last_inbound_preview",
    "incident__assignment__assignee__first_name",
    "incident__assignment__assignee__last_name",
    "incident__assignment__assignee__username",
)


def _rows_of(*, ids: list[int]) -> QuerySet[Any, Any]:
    """The values of :data:`_QUEUE_ROW_FIELDS` of these rows (Postgres: the ids as one
    array, so the query's SQL is the same for any page)."""
    from django.contrib.postgres.fields import ArrayField

    wanted = Value(ids, output_field=ArrayField(BigIntegerField()))
    return QueueEntry.objects.filter(AnyOf(F("pk"), wanted)).values_list(*_QUEUE_ROW_FIELDS)


#: Written once per process: compiling its five joins cost more than running it.
_ROWS_QUERY = PrecompiledQuery(_rows_of, ids=[-1_999_999_004])


def queue_rows(*, ids: list[int], user: Any) -> list[QueueRow]:
    """The queue rows of these ids, in this order: two queries (the rows with their
    marketplace, order, incident and assignee, as values; the unread counts of the
    incidents among them).

    An incident's row carries ``unread_count`` (:func:`_unread_count`); a
    conversation's, 0.
    """
    if not ids:
        return []
    using = router.db_for_read(QueueEntry)
    if connections[using].vendor == "postgresql":
        found = _ROWS_QUERY.rows(using, ids=ids)
    else:
        found = list(QueueEntry.objects.filter(pk__in=ids).values_list(*_QUEUE_ROW_FIELDS))
    by_pk: dict[int, QueueRow] = {}
    for (
        pk, kind, connection_name, incident_id, thread_id, order_id, order_number, first,
        last, reason_label, state, watch, close_expected_at, closed_at, owed_to, due_at,
        warn_at, opened_at, message_count, author, preview, a_first, a_last, a_username,
    ) in found:  # fmt: skip
        by_pk[pk] = QueueRow(
            pk=pk,
            kind=kind,
            connection_name=connection_name,
            incident_id=incident_id,
            thread_id=thread_id,
            order_id=order_id,
            order_number=order_number,
            customer_name=f"{first} {last}".strip(),
            reason_label=reason_label,
            incident_state=state or "",
            incident_watch=watch or "",
            incident_close_expected_at=close_expected_at,
            incident_closed_at=closed_at,
            owed_to=owed_to,
            due_at=due_at,
            warn_at=warn_at,
            opened_at=opened_at,
            message_count=message_count,
            last_inbound_author=author,
            last_inbound_preview=preview,
            assignee_name=(f"{a_first} {a_last}".strip() or a_username) if a_username else "",
        )
    incident_ids = [row.incident_id for row in by_pk.values() if row.incident_id is not None]
    if incident_ids:
        if connections[using].vendor == "postgresql":
            counted = _UNREAD_QUERY.rows(using, incident_ids=incident_ids, user_id=user.pk)
        else:
            counted = list(
                Incident.objects.filter(pk__in=incident_ids)
                .annotate(n=_unread_count(user))
                .values_list("pk", "n")
            )
        unread = dict(counted)
        for row in by_pk.values():
            if row.incident_id is not None:
                row.unread_count = unread.get(row.incident_id, 0)
    return [by_pk[pk] for pk in ids if pk in by_pk]
