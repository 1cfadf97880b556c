"""The daily series one marketplace's own figures are computed from (a fixed number of
queries over incidents, order lines and waits), and the rolling arithmetic over them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, F, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from core.models import MarketplaceConnection, OrderLine
from incidents.models import Incident
from sla.health import projection as proj
from sla.kpis import active_counts, day_start
from sla.models import SlaItem

WINDOW_DAYS = 30
SPARK_DAYS = 30
#: Order line states that were never accepted: not in the incident rate's denominator.
NOT_ACCEPTED_LINE_STATES = ("STAGING", "WAITING_ACCEPTANCE", "REFUSED")
#: How far back closed incidents tell how long incidents stay open.
DURATION_HISTORY = timedelta(days=90)
#: How many open incidents the page lists (the ones weighing most first).


@dataclass(slots=True)
class DailySeries:
    """The daily series of one marketplace over ``days`` (oldest first, today last)."""

    days: list[date]
    incident_lines: list[int]
    accepted_lines: list[int]
    day_end_open: list[int]
    answered: list[tuple[float, int]]
    waits_started: list[int]
    pending_waits: list[tuple[int, float]]
    due: list[int]
    on_time: list[int]
    pending_due_in: list[float]
    open_incidents: list[Any]
    durations: list[timedelta]


def _series(rows: Any, days: Sequence[date], key: str = "n") -> list[int]:
    by_day = {row["day"]: row[key] for row in rows}
    return [int(by_day.get(day, 0)) for day in days]


def load_series(connection: MarketplaceConnection, now: datetime, days: list[date]) -> DailySeries:
    start = day_start(days[0])
    index = {day: i for i, day in enumerate(days)}

    incident_lines = _series(
        Incident.objects.filter(connection=connection, opened_at__gte=start, opened_at__lt=now)
        .annotate(day=TruncDate("opened_at", tzinfo=timezone.get_default_timezone()))
        .values("day")
        .annotate(n=Count("line_id", distinct=True))
        .order_by(),
        days,
    )
    accepted_lines = _series(
        OrderLine.objects.filter(
            order__connection=connection,
            order__created_date__gte=start,
            order__created_date__lt=now,
        )
        .exclude(state__in=NOT_ACCEPTED_LINE_STATES)
        .annotate(day=TruncDate("order__created_date", tzinfo=timezone.get_default_timezone()))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by(),
        days,
    )

    spans = list(
        Incident.objects.filter(connection=connection, opened_at__lt=now)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gt=start))
        .values("pk", "opened_at", "closed_at", "resolved_at", "state", "order__mirakl_id")
        .order_by("opened_at", "pk")
    )
    day_end_open = active_counts([(s["opened_at"], s["closed_at"]) for s in spans], days, now)
    open_incidents = [s for s in spans if s["closed_at"] is None or s["closed_at"] > now]
    durations: list[timedelta] = []
    for opened, closed in Incident.objects.filter(
        connection=connection, closed_at__gte=now - DURATION_HISTORY, closed_at__lte=now
    ).values_list("opened_at", "closed_at"):
        if closed is not None and closed > opened:
            durations.append(closed - opened)

    answered_sum: dict[int, float] = defaultdict(float)
    answered_count: dict[int, int] = defaultdict(int)
    started: dict[int, int] = defaultdict(int)
    pending_waits: list[tuple[int, float]] = []
    waits = SlaItem.objects.filter(
        connection=connection,
        kind=SlaItem.Kind.THREAD,
        audience__in=(SlaItem.Audience.CUSTOMER, SlaItem.Audience.ANY),
        started_at__gte=start,
        started_at__lt=now,
    ).values_list("started_at", "stopped_at", "stop_reason")
    for started_at, stopped_at, reason in waits:
        i = index.get(timezone.localtime(started_at).date())
        if i is None:
            continue
        if stopped_at is None:
            pending_waits.append((i, (now - started_at).total_seconds() / 3600))
            started[i] += 1
        elif reason == SlaItem.StopReason.SHOP_REPLY:
            answered_sum[i] += (stopped_at - started_at).total_seconds() / 3600
            answered_count[i] += 1
            started[i] += 1

    compliance_rows = (
        SlaItem.objects.filter(connection=connection, due_at__gte=start, due_at__lt=now)
        .annotate(day=TruncDate("due_at", tzinfo=timezone.get_default_timezone()))
        .values("day")
        .annotate(
            n=Count("pk"),
            on_time=Count("pk", filter=Q(stopped_at__isnull=False, stopped_at__lte=F("due_at"))),
        )
        .order_by()
    )
    compliance = list(compliance_rows)
    pending_due_in = [
        (due_at - now).total_seconds() / 86400
        for due_at in SlaItem.objects.filter(
            connection=connection,
            stopped_at__isnull=True,
            due_at__gte=now,
            due_at__lt=now + timedelta(days=proj.HORIZON_DAYS),
        ).values_list("due_at", flat=True)
    ]

    return DailySeries(
        days=days,
        incident_lines=incident_lines,
        accepted_lines=accepted_lines,
        day_end_open=day_end_open,
        answered=[(answered_sum[i], answered_count[i]) for i in range(len(days))],
        waits_started=[started[i] for i in range(len(days))],
        pending_waits=pending_waits,
        due=_series(compliance, days),
        on_time=_series(compliance, days, "on_time"),
        pending_due_in=pending_due_in,
        open_incidents=open_incidents,
        durations=durations,
    )


def rolling(values: Sequence[Any], figure: Any, window: int = WINDOW_DAYS) -> list[Any]:
    """``figure(values[i - window + 1 : i + 1])`` for each of the last ``SPARK_DAYS`` days."""
    n = len(values)
    return [figure(values[max(0, i - window + 1) : i + 1]) for i in range(n - SPARK_DAYS, n)]


def ratio(num: Sequence[float], den: Sequence[float]) -> float | None:
    d = sum(den)
    return 100.0 * sum(num) / d if d else None


def mean_delay(answered: Sequence[tuple[float, int]]) -> float | None:
    count = sum(c for _, c in answered)
    return sum(s for s, _ in answered) / count if count else None


def rate_of_pairs(pairs: Sequence[tuple[int, int]]) -> float | None:
    return ratio([a for a, _ in pairs], [b for _, b in pairs])
