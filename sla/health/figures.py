"""A marketplace's health, criterion by criterion: Mirakl's figure (with its date), ours
(live, from the synced data), the thresholds, a 30-day sparkline and the 7-day
projection, with a what-if and the reasons ours and Mirakl's may differ (reads only).

Where each figure comes from (also in the README, "Shop health"):

- **Mirakl's**: the last A21 answer kept (:class:`~sla.models.health.ShopStatisticsSnapshot`,
  overall), for the period the marketplace judges the criterion over; its date is when
  Mirakl calculated it (``last_updated_date``), else when we asked.
- **Ours**, over the 30 local days ending today (Madrid):
  incident rate = order lines with an incident opened in the window / lines of orders
  created in the window, except those refused or never accepted; active incidents =
  average of the incidents open at each day's end (now for today); response time =
  average time from a customer's message to the shop's reply, over the messages that
  arrived in the window and were answered; replies within the deadline = share of the
  waits (incidents and messages) due in the window, past due, answered by then.
- **Projection**: :mod:`sla.health.projection`. Ours where we have a figure; Mirakl's
  moved by the change projected for ours when Mirakl gives the criterion too; for the
  criteria only Mirakl gives, the trend of its recent daily answers.

The judged figure (what the marketplace decides on) is Mirakl's when there is one, else
ours; the watchdog reads :attr:`CriterionHealth.level` from it and its projection.

This module puts the pieces together: :mod:`sla.health.series` loads the daily series,
:mod:`sla.health.ours` turns them into our figure, projection and what-if per criterion,
and :mod:`sla.health.criterion_health` holds what the result is made of.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.models import MarketplaceConnection
from core.shop_account import ShopAccountSnapshot
from core.sync.models import SyncRun
from incidents.models import Incident
from sla.health import projection as proj
from sla.health.criteria import CRITERIA, CriterionKey
from sla.health.criterion_health import (
    CriterionHealth,
    IncidentRow,
    MarketplaceHealth,
    WhatIf,
    format_figure,
    quantize,
)
from sla.health.ours import OURS, OursContext
from sla.health.rulebook import rulebook_for, rulebook_thresholds
from sla.health.series import SPARK_DAYS, WINDOW_DAYS, load_series
from sla.kpis import day_start
from sla.models import SlaItem
from sla.models.health import DailyCall, ShopStatisticsSnapshot
from sla.policies import rule_for

__all__ = [
    "SPARK_DAYS",
    "WINDOW_DAYS",
    "CriterionHealth",
    "IncidentRow",
    "MarketplaceHealth",
    "WhatIf",
    "format_figure",
    "marketplace_health",
    "marketplaces_health",
]

#: How many open incidents the page lists (the ones weighing most first).
INCIDENT_ROWS = 50
K = CriterionKey


def marketplace_health(
    *, connection: MarketplaceConnection, now: datetime | None = None
) -> MarketplaceHealth:
    """The health of one marketplace now (a fixed number of queries)."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    days = [today - timedelta(days=n) for n in range(WINDOW_DAYS + SPARK_DAYS - 2, -1, -1)]
    spark_days = days[-SPARK_DAYS:]
    window_start = day_start(days[-WINDOW_DAYS])
    data = load_series(connection, now, days)

    rulebook = rulebook_for(connection.sla_policy)
    thresholds = rulebook_thresholds(rulebook)
    snapshots = list(
        ShopStatisticsSnapshot.objects.filter(
            connection=connection, channel="", fetched_at__gte=day_start(spark_days[0])
        ).order_by("fetched_at", "pk")
    )
    latest = (
        snapshots[-1]
        if snapshots
        else ShopStatisticsSnapshot.objects.filter(connection=connection, channel="")
        .order_by("-fetched_at", "-pk")
        .first()
    )
    # The last answer per channel (no DISTINCT ON: the embedded default is SQLite).
    by_channel: dict[str, ShopStatisticsSnapshot] = {}
    for snap in (
        ShopStatisticsSnapshot.objects.filter(
            connection=connection, fetched_at__gte=now - timedelta(days=WINDOW_DAYS)
        )
        .exclude(channel="")
        .order_by("-fetched_at", "-pk")
    ):
        by_channel.setdefault(snap.channel, snap)
    channel_statistics = [by_channel[c] for c in sorted(by_channel)]
    account = (
        ShopAccountSnapshot.objects.filter(connection=connection)
        .order_by("-fetched_at", "-pk")
        .first()
    )
    history_since = SyncRun.objects.filter(connection=connection).aggregate(
        first=Min("started_at")
    )["first"]

    rule = rule_for(connection)
    is_closed = rule.calendar.is_closed if rule.calendar is not None else None
    review_days = rulebook.review_business_days if rulebook is not None else 3

    def review(moment: datetime) -> datetime:
        local = timezone.localtime(moment)
        return proj.add_business_days(local, review_days, is_closed=is_closed)

    durations = proj.Durations(data.durations)
    open_rows: list[IncidentRow] = []
    open_incidents: list[proj.OpenIncident] = []
    labels = dict(Incident.State.choices)
    for row in data.open_incidents:
        resolved = row["state"] == Incident.State.RESOLVED
        expected = proj.expected_close(
            opened_at=row["opened_at"],
            now=now,
            resolved_at=row["resolved_at"] if resolved else None,
            review=review,
            durations=durations,
        )
        open_incidents.append(proj.OpenIncident(row["pk"], row["opened_at"], expected, resolved))
        open_rows.append(
            IncidentRow(
                pk=row["pk"],
                order_id=row["order__mirakl_id"],
                state=row["state"],
                state_label=str(labels.get(row["state"], row["state"])),
                opened_at=row["opened_at"],
                age=now - row["opened_at"],
                expected_close=expected,
                resolved=resolved,
            )
        )
    far = now + timedelta(days=3650)
    open_rows.sort(key=lambda r: (-(r.expected_close or far).timestamp(), r.opened_at))

    ctx = OursContext(
        data=data,
        now=now,
        open_incidents=open_incidents,
        review=review,
        day_ends=[day_start(today + timedelta(days=2 + j)) for j in range(proj.HORIZON_DAYS)],
        typical=(
            timedelta(seconds=statistics.median(d.total_seconds() for d in data.durations))
            if data.durations
            else None
        ),
    )
    criteria: list[CriterionHealth] = []
    for key, criterion in CRITERIA.items():
        alert, limit = thresholds[key]
        item = CriterionHealth(criterion=criterion, alert=alert, limit=limit)
        if latest is not None:
            item.mirakl = latest.figure(key)
            if item.mirakl is not None:
                item.mirakl_at = latest.mirakl_updated_at or latest.fetched_at
        item.spark_mirakl = _mirakl_spark(snapshots, key, spark_days)
        ours = OURS.get(key)
        ours_path = ours(item, ctx) if ours is not None else None
        if ours_path is not None:
            item.ours = quantize(ours_path[0], criterion)
            item.ours_path = [quantize(v, criterion) for v in ours_path]
        if item.mirakl is not None and ours_path is not None and ours_path[0] is not None:
            shifted = proj.shifted(float(item.mirakl), ours_path)
            item.path = [quantize(v, criterion) for v in shifted]
            item.basis = "shifted"
        elif ours_path is not None and item.ours is not None:
            item.path = list(item.ours_path)
            item.basis = "ours"
        elif item.mirakl is not None:
            trend = _trend(snapshots, key, now)
            if trend is not None:
                item.path = [quantize(v, criterion) for v in trend]
                item.basis = "trend"
        item.explanations = _explanations(
            item,
            connection=connection,
            statistics=latest,
            history_since=history_since,
            now=now,
            window_start=window_start,
        )
        criteria.append(item)

    return MarketplaceHealth(
        connection=connection,
        now=now,
        rulebook=rulebook,
        account=account,
        statistics=latest,
        channel_statistics=channel_statistics,
        criteria=criteria,
        incidents=open_rows[:INCIDENT_ROWS],
        incidents_open=len(open_rows),
        calls=list(DailyCall.objects.filter(connection=connection)),
        history_since=history_since,
        spark_days=spark_days,
    )


def marketplaces_health(
    *,
    connections: Sequence[MarketplaceConnection] | None = None,
    now: datetime | None = None,
) -> list[MarketplaceHealth]:
    """Every (active) marketplace's health, by name."""
    now = now or timezone.now()
    if connections is None:
        connections = list(MarketplaceConnection.objects.filter(is_active=True).order_by("name"))
    return [marketplace_health(connection=c, now=now) for c in connections]


def _mirakl_spark(
    snapshots: Sequence[ShopStatisticsSnapshot], key: str, days: Sequence[date]
) -> list[Decimal | None]:
    """Mirakl's figure as last answered on each day (``None`` on days without answer)."""
    by_day: dict[date, Decimal | None] = {}
    for snap in snapshots:  # oldest first: the day's last answer wins
        by_day[timezone.localtime(snap.fetched_at).date()] = snap.figure(key)
    return [by_day.get(day) for day in days]


def _trend(
    snapshots: Sequence[ShopStatisticsSnapshot], key: str, now: datetime
) -> list[float | None] | None:
    points = [
        ((snap.fetched_at - now).total_seconds() / 86400, float(value))
        for snap in snapshots
        if (value := snap.figure(key)) is not None
    ]
    return proj.linear_trend(points[-14:])


def _explanations(
    item: CriterionHealth,
    *,
    connection: MarketplaceConnection,
    statistics: ShopStatisticsSnapshot | None,
    history_since: datetime | None,
    now: datetime,
    window_start: datetime,
) -> list[str]:
    """Why ours and Mirakl's may differ, most likely first (only when they disagree)."""
    if not item.disagrees or item.mirakl_at is None:
        return []
    reasons: list[str] = []
    since = item.mirakl_at
    when = timezone.localtime(since).strftime("%d/%m/%Y %H:%M")
    if item.key == K.INCIDENT_RATE:
        opened = Incident.objects.filter(
            connection=connection, opened_at__gt=since, opened_at__lte=now
        ).count()
        if opened:
            reasons.append(
                ngettext(
                    "Mirakl calculated its figure on %(when)s; ours is live and already "
                    "counts the %(n)d incident opened since then (lines opened today "
                    "included).",
                    "Mirakl calculated its figure on %(when)s; ours is live and already "
                    "counts the %(n)d incidents opened since then (lines opened today "
                    "included).",
                    opened,
                )
                % {"when": when, "n": opened}
            )
        reasons.append(
            _(
                "Mirakl divides by the accepted order lines; we divide by the lines of the "
                "orders created in the window, except those refused or never accepted."
            )
        )
    elif item.key == K.RESPONSE_TIME:
        answered = SlaItem.objects.filter(
            connection=connection,
            kind=SlaItem.Kind.THREAD,
            stopped_at__gt=since,
            stopped_at__lte=now,
            stop_reason=SlaItem.StopReason.SHOP_REPLY,
        ).count()
        if answered:
            reasons.append(
                ngettext(
                    "Mirakl calculated its figure on %(when)s; ours already counts the "
                    "%(n)d reply sent since then.",
                    "Mirakl calculated its figure on %(when)s; ours already counts the "
                    "%(n)d replies sent since then.",
                    answered,
                )
                % {"when": when, "n": answered}
            )
        reasons.append(
            _(
                "Ours runs from a customer's message to the shop's reply, in wall-clock "
                "hours, over the messages that arrived in the window and were answered; "
                "messages still waiting are not in it yet."
            )
        )
    else:
        reasons.append(
            _("Mirakl calculated its figure on %(when)s; ours is live.") % {"when": when}
        )
    if history_since is not None and history_since > window_start:
        reasons.append(
            _(
                "Our history starts with the first sync (%(date)s): the days before it are "
                "missing from our window, and incidents closed before it are not visible."
            )
            % {"date": timezone.localtime(history_since).strftime("%d/%m/%Y")}
        )
    reasons.append(
        _(
            "Mirakl does not document whether its “last month” is the previous calendar "
            "month or the last 30 days; ours is the last 30 days, Madrid time."
        )
    )
    if statistics is not None and now - statistics.fetched_at > timedelta(days=2):
        reasons.append(
            _("Mirakl's figure is %(days)d days old.")
            % {"days": (now - statistics.fetched_at).days}
        )
    return reasons
