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
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, F, Min, Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.models import MarketplaceConnection, OrderLine
from core.shop_account import ShopAccountSnapshot
from core.sync.models import SyncRun
from incidents.models import Incident
from sla.health import projection as proj
from sla.health.banner import ShopStateChoices, shop_state_label
from sla.health.criteria import CRITERIA, Criterion, CriterionKey, Unit
from sla.health.rulebook import rulebook_for, rulebook_thresholds
from sla.health.rules import Comparison, Level, Standing, Threshold, level_of, standing_of
from sla.kpis import active_counts, day_start
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

WINDOW_DAYS = 30
SPARK_DAYS = 30
#: Order line states that were never accepted: not in the incident rate's denominator.
NOT_ACCEPTED_LINE_STATES = ("STAGING", "WAITING_ACCEPTANCE", "REFUSED")
#: How far back closed incidents tell how long incidents stay open.
DURATION_HISTORY = timedelta(days=90)
#: How many open incidents the page lists (the ones weighing most first).
INCIDENT_ROWS = 50
#: Past this difference ours and Mirakl's "disagree", and the page says why.
TOLERANCE = {
    Unit.PERCENT: Decimal("0.5"),
    Unit.HOURS: Decimal("1"),
    Unit.COUNT: Decimal("0.5"),
    Unit.STARS: Decimal("0.1"),
}
K = CriterionKey


def format_figure(value: Decimal | float | None, criterion: Criterion) -> str:
    """A figure with its unit, Spanish style when Spanish is active (``7,60 %``)."""
    from django.utils.formats import number_format

    if value is None:
        return "—"
    number = number_format(
        Decimal(str(value)).quantize(criterion.quantum, ROUND_HALF_UP),
        decimal_pos=criterion.places,
        use_l10n=True,
    )
    suffix = {Unit.PERCENT: "\u00a0%", Unit.HOURS: "\u00a0h", Unit.STARS: "\u00a0★"}
    return f"{number}{suffix.get(criterion.unit, '')}"


def _q(value: float | Decimal | None, criterion: Criterion) -> Decimal | None:
    if value is None:
        return None
    return criterion.clamp(Decimal(str(value))).quantize(criterion.quantum, ROUND_HALF_UP)


@dataclass(slots=True)
class IncidentRow:
    """An open incident as the projection sees it."""

    pk: int
    order_id: str
    state: str
    state_label: str
    opened_at: datetime
    age: timedelta
    expected_close: datetime | None
    resolved: bool

    @property
    def badge(self) -> str:
        """The colour of the state's badge (:class:`incidents.models.Incident.State`)."""
        return Incident.State.badge_of(self.state)


@dataclass(slots=True)
class WhatIf:
    """ "Resolving these N incidents brings the figure to X": what, how many, the figure
    seven days ahead, and whether it stays clear of the thresholds."""

    text: str
    count: int
    value: Decimal | None
    clears: bool | None = None
    incident_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class CriterionHealth:
    """One criterion of one marketplace, as the page, the API and the watchdog see it."""

    criterion: Criterion
    alert: Threshold
    limit: Threshold
    mirakl: Decimal | None = None
    mirakl_at: datetime | None = None
    ours: Decimal | None = None
    #: ``k`` days ahead (index 0 = now) for ours, and for the judged figure.
    ours_path: list[Decimal | None] = field(default_factory=list)
    path: list[Decimal | None] = field(default_factory=list)
    #: ``"shifted"`` (Mirakl's moved by ours), ``"ours"``, ``"trend"`` or ``""`` (none).
    basis: str = ""
    spark_ours: list[Decimal | None] = field(default_factory=list)
    spark_mirakl: list[Decimal | None] = field(default_factory=list)
    explanations: list[str] = field(default_factory=list)
    what_if: WhatIf | None = None
    note: str = ""

    @property
    def key(self) -> str:
        return self.criterion.key

    @property
    def judged(self) -> Decimal | None:
        """The figure the marketplace decides on: Mirakl's, else ours."""
        return self.mirakl if self.mirakl is not None else self.ours

    @property
    def standing(self) -> Standing:
        return standing_of(self.judged, alert=self.alert, limit=self.limit)

    @property
    def projected(self) -> Decimal | None:
        """The judged figure at the end of the horizon."""
        return self.path[-1] if len(self.path) > 1 else None

    @property
    def projected_standing(self) -> Standing:
        return standing_of(self.projected, alert=self.alert, limit=self.limit)

    @property
    def level(self) -> Level:
        return level_of(self.judged, self.path[1:], alert=self.alert, limit=self.limit)

    @property
    def crossing(self) -> tuple[Standing, int, Threshold] | None:
        """The first threshold the projection meets that the figure has not: ``("limit"
        or "alert", days from now, threshold)``."""
        now = self.standing
        for day, value in enumerate(self.path[1:], start=1):
            if now != Standing.LIMIT and self.limit.met_by(value):
                return (Standing.LIMIT, day, self.limit)
            if now not in (Standing.ALERT, Standing.LIMIT) and self.alert.met_by(value):
                return (Standing.ALERT, day, self.alert)
        return None

    @property
    def unknown_thresholds(self) -> bool:
        return self.alert.is_unknown or self.limit.is_unknown

    @property
    def disagrees(self) -> bool:
        if self.mirakl is None or self.ours is None:
            return False
        return abs(self.mirakl - self.ours) > TOLERANCE[self.criterion.unit]

    def fmt(self, value: Decimal | float | None) -> str:
        return format_figure(value, self.criterion)

    def threshold_text(self, threshold: Threshold) -> str:
        """``≥ 8,00 %``, or "unknown" / "none"."""
        if threshold.is_set:
            return f"{Comparison(threshold.comparison).label} {self.fmt(threshold.value)}"
        return _("unknown") if threshold.is_unknown else _("none")

    @property
    def alert_text(self) -> str:
        return self.threshold_text(self.alert)

    @property
    def limit_text(self) -> str:
        return self.threshold_text(self.limit)


@dataclass(slots=True)
class MarketplaceHealth:
    """Everything the health page shows of one marketplace."""

    connection: MarketplaceConnection
    now: datetime
    rulebook: Any
    account: ShopAccountSnapshot | None
    statistics: ShopStatisticsSnapshot | None
    channel_statistics: list[ShopStatisticsSnapshot]
    criteria: list[CriterionHealth]
    incidents: list[IncidentRow]
    incidents_open: int
    calls: list[DailyCall]
    history_since: datetime | None
    spark_days: list[date]

    @property
    def level(self) -> Level:
        return max((c.level for c in self.criteria), default=Level.OK)

    @property
    def shop_state(self) -> str:
        return self.account.shop_state if self.account else ""

    @property
    def shop_state_label(self) -> str:
        return shop_state_label(self.shop_state)

    @property
    def shop_state_badge(self) -> str:
        return ShopStateChoices.badge_of(self.shop_state)

    def criterion(self, key: str) -> CriterionHealth:
        return next(c for c in self.criteria if c.key == key)


# --------------------------------------------------------------------------- loading


@dataclass(slots=True)
class _Data:
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


def _load(connection: MarketplaceConnection, now: datetime, days: list[date]) -> _Data:
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

    return _Data(
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


# --------------------------------------------------------------------------- criteria


def _rolling(values: Sequence[Any], figure: Any, window: int = WINDOW_DAYS) -> list[Any]:
    """``figure(values[i - window + 1 : i + 1])`` for each of the last ``SPARK_DAYS`` days."""
    n = len(values)
    return [figure(values[max(0, i - window + 1) : i + 1]) for i in range(n - SPARK_DAYS, n)]


def _ratio(num: Sequence[float], den: Sequence[float]) -> float | None:
    d = sum(den)
    return 100.0 * sum(num) / d if d else None


def _mean_delay(answered: Sequence[tuple[float, int]]) -> float | None:
    count = sum(c for _, c in answered)
    return sum(s for s, _ in answered) / count if count else None


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


def _threshold_below(item: CriterionHealth) -> Threshold | None:
    """The threshold a what-if aims to stay clear of: the alert when known, else the limit."""
    if item.alert.is_set:
        return item.alert
    if item.limit.is_set:
        return item.limit
    return None


WINDOW = slice(-WINDOW_DAYS, None)


@dataclass(slots=True)
class _Context:
    """What the per-criterion functions below share."""

    data: _Data
    now: datetime
    open_incidents: list[proj.OpenIncident]
    review: Any
    day_ends: list[datetime]
    typical: timedelta | None


def _incident_rate(item: CriterionHealth, ctx: _Context) -> list[float | None]:
    num, den = ctx.data.incident_lines, ctx.data.accepted_lines
    item.spark_ours = [
        _q(v, item.criterion) for v in _rolling(list(zip(num, den, strict=True)), _rate_of_pairs)
    ]
    item.note = _(
        "Resolving an incident does not lower this rate (the line had an incident); "
        "it falls as the days with incidents leave the 30-day window."
    )
    return proj.rate_projection(num[WINDOW], den[WINDOW])


def _active_incidents(item: CriterionHealth, ctx: _Context) -> list[float | None]:
    counts = ctx.data.day_end_open
    arrivals = proj.pace(ctx.data.incident_lines[WINDOW])

    def project(incidents: Sequence[proj.OpenIncident]) -> list[float | None]:
        return proj.active_average_projection(
            counts[WINDOW],
            incidents,
            day_ends=ctx.day_ends,
            arrivals_per_day=arrivals,
            typical_duration=ctx.typical,
        )

    item.spark_ours = [_q(v, item.criterion) for v in _rolling(counts, lambda c: sum(c) / len(c))]
    item.what_if = _what_if_resolve(item, project, ctx.open_incidents, ctx.review, ctx.now)
    return project(ctx.open_incidents)


def _response_time(item: CriterionHealth, ctx: _Context) -> list[float | None]:
    criterion = item.criterion
    answered = ctx.data.answered[WINDOW]
    offset = len(ctx.data.days) - WINDOW_DAYS
    pending = [
        proj.PendingWait(day - offset, age) for day, age in ctx.data.pending_waits if day >= offset
    ]
    arrivals = proj.pace(ctx.data.waits_started[WINDOW])
    path = proj.mean_delay_projection(answered, pending, arrivals_per_day=arrivals)
    item.spark_ours = [_q(v, criterion) for v in _rolling(ctx.data.answered, _mean_delay)]
    if pending and path[0] is not None:
        # What if every waiting message were answered now: its age becomes its delay.
        folded = [[total, count] for total, count in answered]
        for wait in pending:
            folded[wait.day][0] += wait.age_hours
            folded[wait.day][1] += 1
        answered_now = proj.mean_delay_projection(
            [(float(t), int(c)) for t, c in folded], [], arrivals_per_day=arrivals
        )
        judged = proj.shifted(
            float(item.mirakl) if item.mirakl is not None else path[0], [path[0], answered_now[-1]]
        )[-1]
        value = _q(judged, criterion)
        item.what_if = WhatIf(
            text=ngettext(
                "Answering the %(n)d message waiting now brings the response time to "
                "%(value)s in 7 days.",
                "Answering the %(n)d messages waiting now brings the response time to "
                "%(value)s in 7 days.",
                len(pending),
            )
            % {"n": len(pending), "value": format_figure(value, criterion)},
            count=len(pending),
            value=value,
            clears=_clears(item, value),
        )
    return path


def _reply_compliance(item: CriterionHealth, ctx: _Context) -> list[float | None]:
    criterion, data = item.criterion, ctx.data
    item.spark_ours = [
        _q(v, criterion)
        for v in _rolling(list(zip(data.on_time, data.due, strict=True)), _rate_of_pairs)
    ]
    upcoming = len(data.pending_due_in)
    if upcoming:
        answered = proj.compliance_projection(
            data.due[WINDOW], data.on_time[WINDOW], data.pending_due_in, answered_on_time=upcoming
        )
        value = _q(answered[-1], criterion)
        item.what_if = WhatIf(
            text=ngettext(
                "Answering in time the %(n)d wait due in the next 7 days keeps this figure "
                "at %(value)s.",
                "Answering in time the %(n)d waits due in the next 7 days keeps this figure "
                "at %(value)s.",
                upcoming,
            )
            % {"n": upcoming, "value": format_figure(value, criterion)},
            count=upcoming,
            value=value,
            clears=_clears(item, value),
        )
    return proj.compliance_projection(data.due[WINDOW], data.on_time[WINDOW], data.pending_due_in)


#: The criteria we compute a figure of our own for, and how.
_OURS: dict[str, Callable[[CriterionHealth, _Context], list[float | None]]] = {
    K.INCIDENT_RATE: _incident_rate,
    K.ACTIVE_INCIDENTS: _active_incidents,
    K.RESPONSE_TIME: _response_time,
    K.REPLY_COMPLIANCE: _reply_compliance,
}


def marketplace_health(
    *, connection: MarketplaceConnection, now: datetime | None = None
) -> MarketplaceHealth:
    """The health of one marketplace now (a fixed number of queries)."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    days = [today - timedelta(days=n) for n in range(WINDOW_DAYS + SPARK_DAYS - 2, -1, -1)]
    spark_days = days[-SPARK_DAYS:]
    window_start = day_start(days[-WINDOW_DAYS])
    data = _load(connection, now, days)

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

    ctx = _Context(
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
        ours = _OURS.get(key)
        ours_path = ours(item, ctx) if ours is not None else None
        if ours_path is not None:
            item.ours = _q(ours_path[0], criterion)
            item.ours_path = [_q(v, criterion) for v in ours_path]
        if item.mirakl is not None and ours_path is not None and ours_path[0] is not None:
            item.path = [_q(v, criterion) for v in proj.shifted(float(item.mirakl), ours_path)]
            item.basis = "shifted"
        elif ours_path is not None and item.ours is not None:
            item.path = list(item.ours_path)
            item.basis = "ours"
        elif item.mirakl is not None:
            trend = _trend(snapshots, key, now)
            if trend is not None:
                item.path = [_q(v, criterion) for v in trend]
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


def _rate_of_pairs(pairs: Sequence[tuple[int, int]]) -> float | None:
    return _ratio([a for a, _ in pairs], [b for _, b in pairs])


def _clears(item: CriterionHealth, value: Decimal | None) -> bool | None:
    target = _threshold_below(item)
    if target is None or value is None:
        return None
    return not target.met_by(value)


def _what_if_resolve(
    item: CriterionHealth,
    project: Any,
    open_incidents: Sequence[proj.OpenIncident],
    review: Any,
    now: datetime,
) -> WhatIf | None:
    """Which incidents to resolve now, and where the average is then in 7 days."""
    unresolved = [i for i in open_incidents if not i.resolved]
    if not unresolved:
        return None
    criterion = item.criterion

    def resolve(incident: proj.OpenIncident) -> proj.OpenIncident:
        return replace(incident, expected_close=max(now, review(now)), resolved=True)

    target = _threshold_below(item)
    if target is not None:
        found = proj.resolutions_needed(
            project,
            open_incidents,
            resolve=resolve,
            below=lambda v: not target.met_by(_q(v, criterion)),
        )
        if found is not None:
            chosen, path = found
            if not chosen:
                return None
            value = _q(path[-1], criterion)
            return WhatIf(
                text=ngettext(
                    "Resolving this %(n)d incident now keeps the average at %(value)s in "
                    "7 days, below the %(which)s.",
                    "Resolving these %(n)d incidents now keeps the average at %(value)s in "
                    "7 days, below the %(which)s.",
                    len(chosen),
                )
                % {
                    "n": len(chosen),
                    "value": format_figure(value, criterion),
                    "which": _("alert") if target is item.alert else _("limit"),
                },
                count=len(chosen),
                value=value,
                clears=True,
                incident_ids=[i.key for i in chosen],
            )
    changed = {i.key: i for i in open_incidents}
    for incident in unresolved:
        changed[incident.key] = resolve(incident)
    path = project(list(changed.values()))
    value = _q(path[-1], criterion)
    return WhatIf(
        text=ngettext(
            "Resolving the %(n)d unresolved incident now brings the average to %(value)s "
            "in 7 days.",
            "Resolving the %(n)d unresolved incidents now brings the average to %(value)s "
            "in 7 days.",
            len(unresolved),
        )
        % {"n": len(unresolved), "value": format_figure(value, criterion)},
        count=len(unresolved),
        value=value,
        clears=_clears(item, value),
        incident_ids=[i.key for i in unresolved],
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
