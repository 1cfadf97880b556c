"""Reads of SLA state for the inbox and dashboards (built later), without N+1 queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import router
from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from core.expressions import in_subquery
from core.models import MarketplaceConnection
from core.precompiled import PrecompiledQuery
from incidents.models import Incident
from messaging.models import Thread
from sla.models import Notification, SlaBreach, SlaItem

__all__ = [
    "BREAKDOWN_LIMIT",
    "incident_due_annotate",
    "incident_next_due_set",
    "notification_list",
    "sla_breach_breakdown",
    "sla_breach_list",
    "sla_item_counts",
    "sla_items_open",
    "thread_due_annotate",
]


def sla_items_open(*, connection: MarketplaceConnection | None = None) -> QuerySet[SlaItem]:
    """Waits not answered yet, most urgent first."""
    items = SlaItem.objects.filter(stopped_at__isnull=True)
    if connection is not None:
        items = items.filter(connection=connection)
    return items.select_related("connection", "incident__order", "thread__order").order_by(
        "due_at", "pk"
    )


def _annotate_open_item(queryset: QuerySet, items: QuerySet[SlaItem]) -> QuerySet:
    first = items.filter(stopped_at__isnull=True).order_by("due_at", "pk")
    return queryset.annotate(
        sla_due_at=Subquery(first.values("due_at")[:1]),
        sla_warn_at=Subquery(first.values("warn_at")[:1]),
        sla_state=Subquery(first.values("state")[:1]),
    )


def incident_due_annotate(queryset: QuerySet[Incident]) -> QuerySet[Incident]:
    """Incidents with ``sla_due_at``, ``sla_warn_at`` and ``sla_state`` of their open wait.

    All three are None when nothing waits. Sort most urgent first with
    ``.order_by(F("sla_due_at").asc(nulls_last=True))``.
    """
    return _annotate_open_item(
        queryset,
        SlaItem.objects.filter(
            kind=SlaItem.Kind.INCIDENT,
            incident=OuterRef("pk"),
            # A closed incident owes nothing, even before the next sweep stops its wait.
            incident__closed_at__isnull=True,
        ),
    )


def _next_due_query(
    *, incident_id: int, order_id: int
) -> QuerySet[SlaItem, tuple[datetime, datetime, str]]:
    # The order's threads as an array (``thread_id = ANY(ARRAY(…))``, on Postgres), not a
    # join: with the join in the OR, Postgres scanned every thread and every open wait
    # three times (0.3-0.5 s a page over 100,000 threads); with the array it reads the
    # incident's and the threads' waits on their indexes (a bitmap OR, under 1 ms).
    order_threads = Thread.objects.filter(order_id=order_id).values("pk")
    of_threads = in_subquery("thread_id", order_threads) & Q(kind=SlaItem.Kind.THREAD)
    return (
        SlaItem.objects.filter(
            Q(kind=SlaItem.Kind.INCIDENT, incident_id=incident_id) | of_threads,
            stopped_at__isnull=True,
        )
        .order_by("due_at", "pk")
        .values_list("due_at", "warn_at", "state")[:1]
    )


#: Written once per process: compiling it on every page cost more than running it.
_NEXT_DUE_QUERY = PrecompiledQuery(
    _next_due_query, incident_id=-1_999_999_011, order_id=-1_999_999_012
)


def incident_next_due_set(incidents: Sequence[Any]) -> None:
    """The incident page's one deadline: the soonest open wait of the incident and of
    its order's conversations (``sla_due_at``, ``sla_warn_at``, ``sla_state``, set on
    each incident), so the header never shows a later due time than a conversation below
    it. None once the incident is closed (its conversations show their own waits).

    A query per open incident (the page reads one), written once per process.
    """
    using = router.db_for_read(SlaItem)
    for incident in incidents:
        row: tuple[Any, ...] | None = None
        if incident.closed_at is None:
            rows = _NEXT_DUE_QUERY.rows(using, incident_id=incident.pk, order_id=incident.order_id)
            row = rows[0] if rows else None
        incident.sla_due_at, incident.sla_warn_at, incident.sla_state = row or (None,) * 3


def thread_due_annotate(queryset: QuerySet[Thread]) -> QuerySet[Thread]:
    """Threads with the due time, warning time and state of their most urgent open wait,
    and who is owed (``sla_owed_audience``: ``CUSTOMER``, ``OPERATOR`` or ``ANY``) and by
    when (``sla_owed_due_at``) on the oldest open wait: the reply box offers that party."""
    items = SlaItem.objects.filter(kind=SlaItem.Kind.THREAD, thread=OuterRef("pk"))
    oldest = items.filter(stopped_at__isnull=True).order_by("started_at", "pk")
    return _annotate_open_item(queryset, items).annotate(
        sla_owed_audience=Subquery(oldest.values("audience")[:1]),
        sla_owed_due_at=Subquery(oldest.values("due_at")[:1]),
    )


def sla_item_counts(*, connection: MarketplaceConnection | None = None) -> dict[str, int]:
    """How many open waits are in each state (``on_time``, ``nearing``, ``breached``)."""
    items = SlaItem.objects.filter(stopped_at__isnull=True)
    if connection is not None:
        items = items.filter(connection=connection)
    counts = dict(items.order_by().values_list("state").annotate(n=Count("pk")))
    open_states = (SlaItem.State.ON_TIME, SlaItem.State.NEARING, SlaItem.State.BREACHED)
    return {state.value: counts.get(state, 0) for state in open_states}


def sla_breach_list(
    *,
    connection: MarketplaceConnection | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
) -> QuerySet[SlaBreach]:
    """Missed deadlines, latest deadline first (answered ones included).

    Each row has ``lateness_at_now``: from the deadline to the answer, or to ``now``.
    """
    at = now or timezone.now()
    breaches = SlaBreach.objects.annotate(
        lateness_at_now=ExpressionWrapper(
            Coalesce(F("answered_at"), Value(at)) - F("due_at"), output_field=DurationField()
        )
    )
    if connection is not None:
        breaches = breaches.filter(connection=connection)
    if since is not None:
        breaches = breaches.filter(due_at__gte=since)
    return breaches.select_related("connection", "incident__order", "thread__order").order_by(
        "-due_at", "-pk"
    )


#: Rows per breakdown table (days, marketplaces, agents) on the review page.
BREAKDOWN_LIMIT = 60


def sla_breach_breakdown(*, breaches: QuerySet[SlaBreach]) -> dict[str, list[dict]]:
    """Counts of ``breaches`` by deadline day (Madrid), marketplace and current agent.

    The agent is the incident's assignee now (messages have none): unassigned
    breaches count under ``None``. Three queries.
    """
    base = breaches.order_by()
    by_day = list(
        base.annotate(day=TruncDate("due_at", tzinfo=timezone.get_default_timezone()))
        .values("day")
        .annotate(n=Count("pk"), open=Count("pk", filter=Q(answered_at__isnull=True)))
        .order_by("-day")[:BREAKDOWN_LIMIT]
    )
    by_marketplace = list(
        base.values("connection_id", "connection__name")
        .annotate(n=Count("pk"), open=Count("pk", filter=Q(answered_at__isnull=True)))
        .order_by("-n", "connection__name")[:BREAKDOWN_LIMIT]
    )
    by_agent: list[dict] = []
    if hasattr(Incident, "assignment"):
        by_agent = list(
            base.values("incident__assignment__assignee__username")
            .annotate(n=Count("pk"), open=Count("pk", filter=Q(answered_at__isnull=True)))
            .order_by("-n", "incident__assignment__assignee__username")[:BREAKDOWN_LIMIT]
        )
        for row in by_agent:
            row["agent"] = row.pop("incident__assignment__assignee__username")
    return {"by_day": by_day, "by_marketplace": by_marketplace, "by_agent": by_agent}


def notification_list(*, user, limit: int = 100) -> list:
    """The user's latest notifications, newest first."""

    return list(
        Notification.objects.filter(user=user)
        .select_related("item__thread", "connection")
        .order_by("-created_at", "-pk")[:limit]
    )
