"""Marketplace KPIs over a period, per marketplace and per day (reads only).

Days are calendar days in the desk's time zone (``TIME_ZONE``, Europe/Madrid); a period
runs from the start of its first day to the end of its last (both included). Definitions:

- **Reply-time compliance %**: of the waits (incident and message items) whose
  deadline fell in the period and has passed, the share answered (stopped) at or
  before the deadline. None when no deadline fell in it.
- **First-reply time** (median and p90): per incident opened in the period, the first
  message written by the shop on the incident's order at or after the opening, minus
  the opening. Incidents not answered yet are left out. Percentiles interpolate
  linearly between ranks (Postgres ``percentile_cont``).
- **Incident rate %**: incidents opened in the period / orders created in it × 100.
  Its daily chart is a rolling rate: the incidents opened in the 7 days ending that day
  over the orders created in them, left out (a gap) while those 7 days have fewer than
  ``INCIDENT_RATE_MIN_ORDERS`` orders: one incident on a day of two orders is not 50 %.
- **Average active incidents** (PcComponentes): mean, over the 30 days ending with
  the period's last day, of the incidents open at each day's end (at ``now`` for
  today); an incident is open at an instant when opened before it and not closed
  at or before it.
- **Open breaches**: missed deadlines not answered yet, now.

Each KPI with a threshold in the marketplace's quality rulebook (incident rate, average
active incidents, replies within the deadline) is marked at its **alert** or its
**limit** (:mod:`sla.health.rules`); an unknown threshold marks nothing and says so.

The review page reads them through :func:`kpis_cached`: computed once per SLA sweep (the
sweep stamps the cache once it has run, :func:`kpis_stamp_bump`), period and set of
marketplaces, since reading a month of waits, orders and incidents costs a few hundred
milliseconds. The CSV computes them afresh.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time as clock
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.cache import cache
from django.db.models import Count, F, Min, OuterRef, Q, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone

from core.cache_ahead import cache_get
from core.models import MarketplaceConnection, Order
from incidents.models import Incident
from messaging.models import Message, Party
from sla.health.criteria import CriterionKey
from sla.health.rulebook import rulebook_for, rulebook_thresholds
from sla.health.rules import Standing, Threshold, standing_of
from sla.models import SlaBreach, SlaItem

__all__ = [
    "ACTIVE_WINDOW_DAYS",
    "DEFAULT_PERIOD_DAYS",
    "INCIDENT_RATE_MIN_ORDERS",
    "INCIDENT_RATE_WINDOW_DAYS",
    "KPIS_CACHE_SECONDS",
    "MarketplaceKpis",
    "Period",
    "active_counts",
    "kpis_cached",
    "kpis_compute",
    "kpis_stamp_bump",
    "percentile",
    "period_default",
    "risk_of",
]

logger = logging.getLogger(__name__)

DEFAULT_PERIOD_DAYS = 30
ACTIVE_WINDOW_DAYS = 30
#: The incident-rate chart's rolling window (days) and the fewest orders it needs.
INCIDENT_RATE_WINDOW_DAYS = 7
INCIDENT_RATE_MIN_ORDERS = 20
_ONE_DECIMAL = Decimal("0.1")
#: Changed by every SLA sweep (:func:`kpis_stamp_bump`): the KPIs kept before it are old.
KPIS_STAMP_KEY = "sla:kpis-stamp"
#: The longest the review page shows KPIs kept in the cache (should the sweep stop).
KPIS_CACHE_SECONDS = 300


@dataclass(frozen=True, slots=True)
class Period:
    """Local days ``first``..``last`` (both included)."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return day_start(self.first)

    @property
    def end(self) -> datetime:
        return day_start(self.last + timedelta(days=1))

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def day_start(day: date) -> datetime:
    """Local midnight at the start of ``day`` (aware)."""
    return datetime.combine(day, time(0), tzinfo=timezone.get_default_timezone())


def period_default(*, now: datetime | None = None, days: int = DEFAULT_PERIOD_DAYS) -> Period:
    """The last ``days`` days, today included."""
    today = timezone.localtime(now or timezone.now()).date()
    return Period(first=today - timedelta(days=days - 1), last=today)


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` percentile of ``values``, interpolating linearly between ranks."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * fraction
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _pct(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(_ONE_DECIMAL, ROUND_HALF_UP)


def _hours(seconds: float | None) -> Decimal | None:
    if seconds is None:
        return None
    return (Decimal(seconds) / 3600).quantize(_ONE_DECIMAL, ROUND_HALF_UP)


def risk_of(value: Decimal | None, thresholds: tuple[Threshold, Threshold] | None) -> str:
    """``"limit"`` or ``"alert"`` when ``value`` reaches that threshold of the rulebook,
    else ``""``."""
    if thresholds is None:
        return ""
    standing = standing_of(value, alert=thresholds[0], limit=thresholds[1])
    return standing.value if standing in (Standing.ALERT, Standing.LIMIT) else ""


def active_counts(
    spans: Sequence[tuple[datetime, datetime | None]], days: Sequence[date], now: datetime
) -> list[int]:
    """Per day, how many ``(opened_at, closed_at)`` spans are open at the day's end.

    A span is open at ``at`` when it opened before and had not closed at or before it.
    Counted with two sorted lists and binary search, so a long history stays cheap: for a
    span that ever opened (closed after it opened, or not closed), "closed at or before
    ``at``" implies "opened before ``at``", hence open = opened before - closed by.
    """
    return _open_at_day_ends(_sorted_ends(spans), days, now)


def _sorted_ends(
    spans: Sequence[tuple[datetime, datetime | None]],
) -> tuple[list[datetime], list[datetime]]:
    """The opening and closing instants of the spans that ever opened, each sorted."""
    valid = [(o, c) for o, c in spans if c is None or c > o]
    opens = sorted(o for o, _ in valid)
    closes = sorted(c for _, c in valid if c is not None)
    return opens, closes


def _open_at_day_ends(
    ends: tuple[list[datetime], list[datetime]], days: Sequence[date], now: datetime
) -> list[int]:
    opens, closes = ends
    counts = []
    for day in days:
        at = min(day_start(day + timedelta(days=1)), now)
        counts.append(bisect_left(opens, at) - bisect_right(closes, at))
    return counts


@dataclass(slots=True)
class MarketplaceKpis:
    """The KPIs of one marketplace over a period, with their daily series."""

    connection: MarketplaceConnection
    period: Period
    items_due: int = 0
    items_on_time: int = 0
    compliance_pct: Decimal | None = None
    replied_incidents: int = 0
    first_reply_median_h: Decimal | None = None
    first_reply_p90_h: Decimal | None = None
    incidents_opened: int = 0
    orders_created: int = 0
    incident_rate_pct: Decimal | None = None
    active_incidents_avg: Decimal | None = None
    open_breaches: int = 0
    #: ``(alert, limit)`` of the marketplace's rulebook, per KPI.
    incident_rate_thresholds: tuple[Threshold, Threshold] | None = None
    active_incidents_thresholds: tuple[Threshold, Threshold] | None = None
    compliance_thresholds: tuple[Threshold, Threshold] | None = None
    incident_rate_risk: str = ""
    active_incidents_risk: str = ""
    compliance_risk: str = ""
    daily: list[dict[str, object]] = field(default_factory=list)
    #: The marketplace's SLA policy in words (set by the review page).
    policy_text: str = ""

    @property
    def at_risk(self) -> bool:
        return bool(self.incident_rate_risk or self.active_incidents_risk or self.compliance_risk)

    @property
    def unknown_thresholds(self) -> bool:
        """A KPI's alert or limit is still unknown in the rulebook."""
        return any(
            threshold.is_unknown
            for pair in (
                self.incident_rate_thresholds,
                self.active_incidents_thresholds,
                self.compliance_thresholds,
            )
            if pair is not None
            for threshold in pair
        )


def _by_day(rows) -> dict[tuple[int, date], dict[str, int]]:
    out: dict[tuple[int, date], dict[str, int]] = {}
    for row in rows:
        out[(row["connection_id"], row["day"])] = row
    return out


def _rolling_rate(
    connection_id: int,
    day: date,
    opened: dict[tuple[int, date], dict[str, int]],
    orders: dict[tuple[int, date], dict[str, int]],
) -> Decimal | None:
    """The incident rate of the ``INCIDENT_RATE_WINDOW_DAYS`` ending with ``day``; None
    below ``INCIDENT_RATE_MIN_ORDERS`` orders (too few for a rate)."""
    days = [day - timedelta(days=n) for n in range(INCIDENT_RATE_WINDOW_DAYS)]
    n_orders = sum(orders.get((connection_id, d), {}).get("n", 0) for d in days)
    if n_orders < INCIDENT_RATE_MIN_ORDERS:
        return None
    n_opened = sum(opened.get((connection_id, d), {}).get("n", 0) for d in days)
    return _pct(n_opened, n_orders)


def kpis_compute(
    *,
    period: Period,
    now: datetime | None = None,
    connections: Sequence[MarketplaceConnection] | None = None,
) -> list[MarketplaceKpis]:
    """Every marketplace's KPIs over ``period`` (a fixed number of queries)."""
    now = now or timezone.now()
    if connections is None:
        connections = list(MarketplaceConnection.objects.order_by("name", "pk"))
    ids = [c.pk for c in connections]
    start, end = period.start, period.end
    due_until = min(end, now)

    items = (
        SlaItem.objects.filter(connection_id__in=ids, due_at__gte=start, due_at__lt=due_until)
        .annotate(day=TruncDate("due_at", tzinfo=timezone.get_default_timezone()))
        .values("connection_id", "day")
        .annotate(
            # Counted from the index alone (``slaitem_conn_due_idx``): no column outside it.
            due=Count("*"),
            on_time=Count(
                "stopped_at", filter=Q(stopped_at__isnull=False, stopped_at__lte=F("due_at"))
            ),
        )
        .order_by()
    )
    items_by_day = _by_day(items)

    # From the days before the period too: the rolling incident rate of its first days.
    rate_start = day_start(period.first - timedelta(days=INCIDENT_RATE_WINDOW_DAYS - 1))
    orders = (
        Order.objects.filter(
            connection_id__in=ids, created_date__gte=rate_start, created_date__lt=end
        )
        .annotate(day=TruncDate("created_date", tzinfo=timezone.get_default_timezone()))
        .values("connection_id", "day")
        # COUNT(*), not of the id: read from ``order_conn_created_idx`` alone (a month of
        # orders was a scan of the whole table).
        .annotate(n=Count("*"))
        .order_by()
    )
    orders_by_day = _by_day(orders)

    breaches = (
        SlaBreach.objects.filter(connection_id__in=ids, due_at__gte=start, due_at__lt=end)
        .annotate(day=TruncDate("due_at", tzinfo=timezone.get_default_timezone()))
        .values("connection_id", "day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    breaches_by_day = _by_day(breaches)
    open_breaches = dict(
        SlaBreach.objects.filter(connection_id__in=ids, answered_at__isnull=True)
        .values_list("connection_id")
        .annotate(n=Count("pk"))
        .order_by()
    )

    first_shop_message = (
        Message.objects.filter(
            thread__order_id=OuterRef("order_id"),
            author_type=Party.SHOP,
            date_created__gte=OuterRef("opened_at"),
        )
        .order_by()
        .values("thread__order_id")
        .annotate(first=Min("date_created"))
        .values("first")[:1]
    )
    opened = (
        Incident.objects.filter(connection_id__in=ids, opened_at__gte=start, opened_at__lt=end)
        .annotate(first_reply_at=Subquery(first_shop_message))
        .values_list("connection_id", "opened_at", "first_reply_at")
        .order_by()
    )
    opened_by_conn: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for connection_id, opened_at, first_reply_at in opened:
        opened_by_conn[connection_id].append((opened_at, first_reply_at))

    rate_opened = _by_day(
        Incident.objects.filter(connection_id__in=ids, opened_at__gte=rate_start, opened_at__lt=end)
        .annotate(day=TruncDate("opened_at", tzinfo=timezone.get_default_timezone()))
        .values("connection_id", "day")
        .annotate(n=Count("pk"))
        .order_by()
    )

    window = Period(first=period.last - timedelta(days=ACTIVE_WINDOW_DAYS - 1), last=period.last)
    span_from = min(window.start, start)
    spans = Incident.objects.filter(
        Q(closed_at__isnull=True) | Q(closed_at__gt=span_from),
        connection_id__in=ids,
        opened_at__lt=min(end, now),
    ).values_list("connection_id", "opened_at", "closed_at")
    spans_by_conn: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for connection_id, opened_at, closed_at in spans:
        spans_by_conn[connection_id].append((opened_at, closed_at))

    window_days = [d for d in window.days if day_start(d) < now]
    chart_days = [d for d in period.days if day_start(d) < now]
    results = []

    rulebooks: dict[str, dict[str, tuple[Threshold, Threshold]]] = {}
    for conn in connections:
        kpis = MarketplaceKpis(connection=conn, period=period)
        if conn.sla_policy not in rulebooks:
            rulebooks[conn.sla_policy] = rulebook_thresholds(rulebook_for(conn.sla_policy))
        thresholds = rulebooks[conn.sla_policy]
        kpis.incident_rate_thresholds = thresholds[CriterionKey.INCIDENT_RATE]
        kpis.active_incidents_thresholds = thresholds[CriterionKey.ACTIVE_INCIDENTS]
        kpis.compliance_thresholds = thresholds[CriterionKey.REPLY_COMPLIANCE]

        incidents = opened_by_conn.get(conn.pk, [])
        delays = [(r - o).total_seconds() for o, r in incidents if r is not None]
        kpis.replied_incidents = len(delays)
        kpis.first_reply_median_h = _hours(percentile(delays, 0.5))
        kpis.first_reply_p90_h = _hours(percentile(delays, 0.9))
        kpis.incidents_opened = len(incidents)
        kpis.open_breaches = open_breaches.get(conn.pk, 0)

        # Sorted once for both series (the window's average and the chart).
        conn_ends = _sorted_ends(spans_by_conn.get(conn.pk, []))
        window_counts = _open_at_day_ends(conn_ends, window_days, now)
        if window_counts:
            kpis.active_incidents_avg = (
                Decimal(sum(window_counts)) / Decimal(len(window_counts))
            ).quantize(_ONE_DECIMAL, ROUND_HALF_UP)
        active_by_day = dict(
            zip(chart_days, _open_at_day_ends(conn_ends, chart_days, now), strict=True)
        )

        delays_by_day: dict[date, list[float]] = defaultdict(list)
        opened_by_day: dict[date, int] = defaultdict(int)
        for o, r in incidents:
            local_day = timezone.localtime(o).date()
            opened_by_day[local_day] += 1
            if r is not None:
                delays_by_day[local_day].append((r - o).total_seconds())

        for day in period.days:
            item_row = items_by_day.get((conn.pk, day), {})
            due, on_time = item_row.get("due", 0), item_row.get("on_time", 0)
            n_orders = orders_by_day.get((conn.pk, day), {}).get("n", 0)
            kpis.items_due += due
            kpis.items_on_time += on_time
            kpis.orders_created += n_orders
            if day not in active_by_day:
                continue
            kpis.daily.append(
                {
                    "day": day,
                    "items_due": due,
                    "items_on_time": on_time,
                    "compliance_pct": _pct(on_time, due),
                    "first_reply_median_h": _hours(percentile(delays_by_day[day], 0.5)),
                    "incidents_opened": opened_by_day[day],
                    "orders_created": n_orders,
                    "incident_rate_pct": _pct(opened_by_day[day], n_orders),
                    "incident_rate_7d_pct": _rolling_rate(conn.pk, day, rate_opened, orders_by_day),
                    "active_incidents": active_by_day[day],
                    "breaches": breaches_by_day.get((conn.pk, day), {}).get("n", 0),
                }
            )
        kpis.compliance_pct = _pct(kpis.items_on_time, kpis.items_due)
        kpis.incident_rate_pct = _pct(kpis.incidents_opened, kpis.orders_created)
        kpis.incident_rate_risk = risk_of(kpis.incident_rate_pct, kpis.incident_rate_thresholds)
        kpis.active_incidents_risk = risk_of(
            kpis.active_incidents_avg, kpis.active_incidents_thresholds
        )
        kpis.compliance_risk = risk_of(kpis.compliance_pct, kpis.compliance_thresholds)
        results.append(kpis)
    return results


def kpis_stamp_bump() -> None:
    """A sweep has run: the review page computes its KPIs again (called by
    :func:`sla.services.sla_sweep` once its transaction is over)."""
    try:
        cache.set(KPIS_STAMP_KEY, clock.time_ns(), timeout=None)
    except Exception:  # the cache is down: kept KPIs expire after KPIS_CACHE_SECONDS
        logger.warning("Could not stamp the KPIs", exc_info=True)


def _kpis_stamp() -> int | None:
    try:
        stamp = cache_get(KPIS_STAMP_KEY)  # read ahead by the review page
        if stamp is None:  # no sweep stamped yet (or the key was evicted): start one
            cache.add(KPIS_STAMP_KEY, clock.time_ns(), timeout=None)
            stamp = cache.get(KPIS_STAMP_KEY)
    except Exception:
        logger.warning("Could not read the KPIs stamp", exc_info=True)
        return None
    return None if stamp is None else int(stamp)


def kpis_cached(
    *,
    period: Period,
    now: datetime | None = None,
    connections: Sequence[MarketplaceConnection],
) -> list[MarketplaceKpis]:
    """:func:`kpis_compute`, kept in the cache until the next SLA sweep (at most
    :data:`KPIS_CACHE_SECONDS`) for this period and these marketplaces.

    The figures are those of the first request after the sweep: what a sweep changes
    (deadlines met or missed, replies, incidents and orders it read) shows after it, as
    on the queue; the marketplaces' names and policies are part of the key.
    """
    stamp = _kpis_stamp()
    if stamp is None:
        return kpis_compute(period=period, now=now, connections=connections)
    scope = [(c.pk, c.name, c.sla_policy) for c in connections]
    digest = hashlib.blake2b(repr((period, scope)).encode(), digest_size=16).hexdigest()
    key = f"sla:kpis:{stamp}:{digest}"
    try:
        kept = cache.get(key)
    except Exception:
        logger.warning("Could not read the kept KPIs", exc_info=True)
        kept = None
    if kept is not None:
        by_pk = {c.pk: c for c in connections}
        return [MarketplaceKpis(connection=by_pk[pk], **values) for pk, values in kept]
    kpis = kpis_compute(period=period, now=now, connections=connections)
    # The figures without the connection objects: those carry the marketplace's API key,
    # which never leaves the database decrypted.
    kept = [
        (k.connection.pk, {f.name: getattr(k, f.name) for f in fields(k) if f.name != "connection"})
        for k in kpis
    ]
    try:
        cache.set(key, kept, KPIS_CACHE_SECONDS)
    except Exception:
        logger.warning("Could not keep the KPIs", exc_info=True)
    return kpis
