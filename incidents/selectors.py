"""Reads of the incidents app."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import (
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from incidents.filtersets import STATUS_CLOSED, IncidentFilterSet
from incidents.health import ConnectionHealth, connection_health
from incidents.models import (
    AuditEntry,
    Incident,
    IncidentNote,
    IncidentSeen,
    MarketplaceConnection,
    Order,
    SyncCursor,
)

__all__ = [
    "ConnectionOverview",
    "HistoryEntry",
    "assignable_users",
    "connection_reasons",
    "connection_reasons_forget",
    "connections_overview",
    "incident_detail",
    "incident_documents",
    "incident_history",
    "incident_list",
    "incident_notes",
    "incident_rows",
    "order_reasons",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: A safety net only: the reasons sync empties the cache at once.
REASONS_CACHE_SECONDS = 600


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


def connections_overview() -> list[ConnectionOverview]:
    """Every active connection with its counts, in five queries whatever the data size."""
    from messaging.models import Thread

    overviews = {
        c.pk: ConnectionOverview(connection=c)
        for c in MarketplaceConnection.objects.filter(is_active=True).order_by("name")
    }
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
    from messaging.models import Message, Party

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


def incident_list(
    *, filters: Any, user: Any, request: Any = None
) -> tuple[IncidentFilterSet, QuerySet[Incident]]:
    """The inbox: the FilterSet (for its form) and the filtered incidents, sorted.

    The queryset is narrow on purpose: ids and sort keys only, most urgent first (the
    due time of the open SLA wait, then the oldest opened; closed incidents: latest
    opened first), :func:`incident_rows` loads the 25 rows of a page. Both orders are
    walked on an index (``incident_open_due_idx``, ``incident_closed_opened_idx``):
    the due time is the copy the SLA sweep keeps on the incident (``reply_due_at``).
    """
    filterset = IncidentFilterSet(filters, queryset=Incident.objects.all(), request=request)
    incidents = filterset.qs.only("pk")
    if filterset.form.cleaned_data.get("status") == STATUS_CLOSED:
        return filterset, incidents.order_by(F("opened_at").desc(), F("id").desc())
    due = F("reply_due_at").asc(nulls_last=True)
    return filterset, incidents.order_by(due, "opened_at", "id")


def incident_rows(*, ids: list[int], user: Any) -> list[Incident]:
    """The inbox rows of these incidents, in this order, in one query.

    Each carries its marketplace, order and assignee, the SLA due time and state of
    its open wait (``sla_due_at``, ``sla_state``) and ``unread_count``.
    """
    from sla.selectors import incident_due_annotate

    rows = incident_due_annotate(
        Incident.objects.filter(pk__in=ids).select_related(
            "connection", "order", "assignment__assignee"
        )
    ).annotate(unread_count=_unread_count(user))
    by_pk = {row.pk: row for row in rows}
    return [by_pk[pk] for pk in ids if pk in by_pk]


def incident_detail(*, pk: int, viewer: Any = None) -> Incident:
    """One incident with what its page header needs (SLA included), in one query.

    The same query brings the order's other open incidents (the resolution panel offers
    them too), in ``order_open_incidents``: by line, the incident itself excluded. With
    a ``viewer``, ``viewer_seen_at`` is when they last saw it (None: never).
    """
    from sla.selectors import incident_due_annotate

    queryset = Incident.objects.all()
    if viewer is not None:
        queryset = queryset.annotate(
            viewer_seen_at=Subquery(
                IncidentSeen.objects.filter(incident=OuterRef("pk"), user=viewer).values("seen_at")[
                    :1
                ]
            )
        )
    rows = list(
        incident_due_annotate(
            queryset.select_related(
                "connection",
                "order",
                "line",
                "resolved_by",
                "assignment__assignee",
                "assignment__assigned_by",
            )
        )
        .filter(order_id=Subquery(Incident.objects.filter(pk=pk).values("order_id")[:1]))
        .filter(Q(pk=pk) | Q(closed_at__isnull=True))
        .order_by("line__index", "line__mirakl_id", "pk")
    )
    incident = next((row for row in rows if row.pk == pk), None)
    if incident is None:
        raise Incident.DoesNotExist(f"Incident {pk} does not exist.")
    incident.order_open_incidents = [row for row in rows if row.pk != pk]
    return incident


def _shop_reasons(connection_id: int) -> QuerySet:
    """The connection's reasons the shop may use (RE01 ``is_shop_right``, or not said)."""
    from incidents.models import MarketplaceReason

    return MarketplaceReason.objects.filter(connection_id=connection_id).exclude(
        is_shop_right=False
    )


def order_reasons(*, connection_id: int, reason_type: str) -> list[tuple[str, str]]:
    """(code, label) of the reasons of one type the shop may use, read now (services
    check codes against it; pages use the cached :func:`connection_reasons`)."""
    return list(
        _shop_reasons(connection_id)
        .filter(type=reason_type)
        .order_by("code")
        .values_list("code", "label")
    )


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A line of the history panel: who did what, when and why, from which source."""

    at: datetime
    label: str
    actor: Any
    source: str
    detail: str = ""
    actor_name: str = ""
    action: str = ""
    from_state: str = ""
    to_state: str = ""
    from_label: str = ""
    to_label: str = ""


def incident_history(*, incident: Incident) -> list[HistoryEntry]:
    """The incident's audit entries, oldest first (one query)."""
    entries = (
        AuditEntry.objects.filter(incident=incident).select_related("actor").order_by("at", "pk")
    )
    return [
        HistoryEntry(
            at=entry.at,
            label=str(entry.get_action_display()),
            actor=entry.actor,
            source=str(entry.get_source_display()),
            detail=entry.detail,
            actor_name=entry.actor_name,
            action=entry.action,
            from_state=entry.from_state,
            to_state=entry.to_state,
            from_label=str(entry.get_from_state_display()) if entry.from_state else "",
            to_label=str(entry.get_to_state_display()) if entry.to_state else "",
        )
        for entry in entries
        if entry.incident_id == incident.pk
    ]


def incident_notes(*, incident: Incident) -> QuerySet[IncidentNote]:
    """Internal notes, newest first."""
    return incident.notes.select_related("author").order_by("-created_at", "-pk")


def incident_documents(
    *, order_id: int, messages: Iterable[Any] | None = None
) -> list[dict[str, Any]]:
    """Attachments of every message of the order: id, name, size, when and from whom.

    ``messages``: the order's synced messages when already read (the incident page's
    conversations), in any order.
    """
    from messaging.models import Message

    if messages is None:
        rows: Iterable[tuple[Any, str, Any]] = (
            Message.objects.filter(thread__order_id=order_id)
            .exclude(attachments=[])
            .order_by("date_created", "pk")
            .values_list("date_created", "author_type", "attachments")
        )
    else:
        rows = [
            (m.date_created, m.author_type, m.attachments)
            for m in sorted(messages, key=lambda m: (m.date_created, m.pk))
            if m.attachments
        ]
    documents: list[dict[str, Any]] = []
    for date_created, author_type, attachments in rows:
        for attachment in attachments or []:
            if isinstance(attachment, dict) and attachment.get("id"):
                documents.append(
                    {
                        "id": str(attachment["id"]),
                        "name": attachment.get("name") or str(attachment["id"]),
                        "size": attachment.get("size"),
                        "at": date_created,
                        "author_type": author_type,
                    }
                )
    return documents


def _reasons_cache_key(connection_id: int) -> str:
    return f"incidents:reasons:v1:{connection_id}"


def connection_reasons(*, connection_id: int) -> dict[str, list[tuple[str, str]]]:
    """(code, label) of every reason the shop may use (RE01 ``is_shop_right``), by type:
    what :func:`order_reasons` gives for one type, for all of them in one query.

    Kept in Django's cache (every incident page shows them, only the reasons sync
    changes them: it calls :func:`connection_reasons_forget`)."""
    key = _reasons_cache_key(connection_id)
    cached = cache.get(key)
    if cached is None:
        cached = _connection_reasons(connection_id)
        cache.set(key, cached, REASONS_CACHE_SECONDS)
    return cached


def connection_reasons_forget(*, connection_id: int) -> None:
    """Empty the cache of :func:`connection_reasons` for one connection."""
    cache.delete(_reasons_cache_key(connection_id))


def _connection_reasons(connection_id: int) -> dict[str, list[tuple[str, str]]]:
    reasons: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for reason_type, code, label in (
        _shop_reasons(connection_id).order_by("type", "code").values_list("type", "code", "label")
    ):
        reasons[reason_type].append((code, label))
    return dict(reasons)


def assignable_users() -> QuerySet:
    """Active users who may be given an incident (those who can reply)."""
    users = get_user_model().objects.filter(is_active=True)
    can_reply = (
        Q(is_superuser=True)
        | Q(
            groups__permissions__codename="reply_incident",
            groups__permissions__content_type__app_label="incidents",
        )
        | Q(
            user_permissions__codename="reply_incident",
            user_permissions__content_type__app_label="incidents",
        )
    )
    return users.filter(can_reply).distinct().order_by("first_name", "username")
