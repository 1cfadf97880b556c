"""Mirakl's own figures for a connection: A01 (shop state, balances) and A21 (quality
statistics, overall and per channel when the shop sells on several), kept as history.

Beat calls :func:`shop_health_sync` for every active connection every few minutes; the
gate (:mod:`sla.health.gate`) lets each call through once a day, so most runs ask Mirakl
nothing. An admin's "refresh now" (:func:`shop_health_refresh`) asks for the same sync
at once, and says when each call will next be allowed when it is too early.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.models import MarketplaceConnection
from core.shop_account import ShopAccountSnapshot
from mirakl.constants import RATE_KPIS, SECONDS_KPIS
from mirakl.schemas import ShopAccount, ShopStatistics
from sla.health.banner import shop_state_banners_forget
from sla.health.criteria import CRITERIA, Unit
from sla.health.gate import account_fetch, daily_call_next_allowed, statistics_fetch
from sla.models.health import DailyCall, ShopStatisticsSnapshot
from sla.tasks import shop_health_sync_task

__all__ = [
    "CallPlan",
    "HealthSyncResult",
    "account_snapshot_store",
    "shop_health_refresh",
    "shop_health_sync",
    "statistics_figures",
    "statistics_snapshot_store",
]

logger = logging.getLogger(__name__)

Call = DailyCall.Call
_SECONDS_PER_HOUR = Decimal(3600)


@dataclass(slots=True)
class HealthSyncResult:
    """What one sync asked and stored; ``refused`` lists the calls that were too early,
    with when each is next allowed."""

    account: ShopAccountSnapshot | None = None
    statistics: list[ShopStatisticsSnapshot] = field(default_factory=list)
    refused: dict[str, datetime] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def statistics_figures(statistics: ShopStatistics) -> dict[str, str]:
    """Each criterion Mirakl measures, in our units, for the period it is judged over:
    rates in percent (whatever scale Mirakl used), delays in hours, the grade as sent."""
    figures: dict[str, str] = {}
    for criterion in CRITERIA.values():
        kpi = criterion.mirakl_kpi
        if kpi is None:
            continue
        period = criterion.mirakl_period
        value: Decimal | None
        if kpi in RATE_KPIS:
            rate = statistics.rate(kpi, period)
            value = None if rate is None else rate * 100
        elif kpi in SECONDS_KPIS:
            raw = statistics.value(kpi, period)
            value = None if raw is None else raw / _SECONDS_PER_HOUR
        else:
            value = statistics.value(kpi, period)
        if value is None:
            continue
        if criterion.unit == Unit.PERCENT:
            value = min(max(value, Decimal(0)), Decimal(100))
        figures[criterion.key] = str(value.quantize(criterion.quantum, ROUND_HALF_UP))
    return figures


def _payload(statistics: ShopStatistics) -> dict[str, Any]:
    return {
        "rate_scale": statistics.rate_scale,
        "kpis": {
            kpi: {entry.period: None if entry.value is None else str(entry.value) for entry in s}
            for kpi, s in statistics.kpis().items()
        },
    }


def _money(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    value = value.quantize(Decimal("0.01"), ROUND_HALF_UP)
    # A balance beyond the column (12 digits of euros) is not a balance worth trusting.
    return value if abs(value) < Decimal("1e12") else None


def account_snapshot_store(
    *, connection: MarketplaceConnection, account: ShopAccount, now: datetime
) -> ShopAccountSnapshot:
    """Keep one A01 answer as a history row."""
    details = account.payment_details
    return ShopAccountSnapshot.objects.create(
        connection=connection,
        fetched_at=now,
        shop_state=(account.shop_state or "")[:20],
        suspension_type=(account.suspension_type or "")[:40],
        closed_from=account.closed_from,
        closed_to=account.closed_to,
        currency=(account.currency_iso_code or "")[:3],
        payable_balance=_money(details.payable_balance if details else None),
        pending_balance=_money(details.pending_balance if details else None),
        paid_balance=_money(details.paid_balance if details else None),
        channels=list(account.channels),
        mirakl_updated_at=account.last_updated_date,
        payload=account.model_dump(mode="json"),
    )


def statistics_snapshot_store(
    *,
    connection: MarketplaceConnection,
    statistics: ShopStatistics,
    channel: str,
    now: datetime,
) -> ShopStatisticsSnapshot:
    """Keep one A21 answer as a history row, with the criteria's figures in our units."""
    return ShopStatisticsSnapshot.objects.create(
        connection=connection,
        channel=channel[:40],
        fetched_at=now,
        mirakl_updated_at=statistics.last_updated_date,
        figures=statistics_figures(statistics),
        payload=_payload(statistics),
    )


def _channels(connection: MarketplaceConnection, account: ShopAccount | None) -> list[str]:
    """The channels to ask A21 for one by one: those of A01 (or of the last A01 kept),
    only when there are several (with one, the overall figures are that channel's)."""
    if account is not None:
        channels = list(account.channels)
    else:
        last = (
            ShopAccountSnapshot.objects.filter(connection=connection)
            .order_by("-fetched_at", "-pk")
            .values_list("channels", flat=True)
            .first()
        )
        channels = [str(c) for c in (last or [])]
    unique = list(dict.fromkeys(c for c in channels if c))
    return unique if len(unique) > 1 else []


def shop_health_sync(
    *, connection: MarketplaceConnection, now: datetime | None = None
) -> HealthSyncResult:
    """Ask Mirakl what the gate allows (A01, A21 overall, A21 per channel) and keep it.

    Each call is independent: a refused or failed one does not stop the others.
    """

    now = now or timezone.now()
    result = HealthSyncResult()
    fetched = account_fetch(connection=connection, now=now)
    if fetched.value is not None:
        result.account = account_snapshot_store(
            connection=connection, account=fetched.value, now=now
        )
        transaction.on_commit(shop_state_banners_forget)
    elif fetched.refused and fetched.next_allowed_at:
        result.refused[Call.ACCOUNT] = fetched.next_allowed_at
    elif fetched.error is not None:
        result.errors[Call.ACCOUNT] = str(fetched.error)

    for channel in ["", *_channels(connection, fetched.value)]:
        label = f"{Call.STATISTICS}:{channel}" if channel else Call.STATISTICS
        stats = statistics_fetch(connection=connection, channel=channel, now=now)
        if stats.value is not None:
            result.statistics.append(
                statistics_snapshot_store(
                    connection=connection, statistics=stats.value, channel=channel, now=now
                )
            )
        elif stats.refused and stats.next_allowed_at:
            result.refused[label] = stats.next_allowed_at
        elif stats.error is not None:
            result.errors[label] = str(stats.error)
    if result.account or result.statistics:
        logger.info(
            "Shop health of %s: account %s, %d statistics answer(s)",
            connection.code,
            "stored" if result.account else "not asked",
            len(result.statistics),
        )
    return result


@dataclass(frozen=True, slots=True)
class CallPlan:
    """Whether "refresh now" may ask Mirakl now, per call; when not, when it may."""

    due: bool
    next_allowed_at: datetime | None
    calls: dict[str, datetime | None]


def shop_health_refresh(
    *, connection: MarketplaceConnection, now: datetime | None = None
) -> CallPlan:
    """An admin's "refresh now": queue the sync if any of its calls is allowed now, and
    say when the others are (nothing is asked of Mirakl here; the gate decides again
    when the task runs)."""

    now = now or timezone.now()
    rows = {
        (row.call, row.channel): row.last_called_at
        for row in DailyCall.objects.filter(connection=connection)
    }
    wanted = [(Call.ACCOUNT, ""), (Call.STATISTICS, "")]
    wanted += [(Call.STATISTICS, c) for c in _channels(connection, None)]
    calls: dict[str, datetime | None] = {}
    for call, channel in wanted:
        allowed = daily_call_next_allowed(rows.get((call, channel)))
        calls[f"{call}:{channel}" if channel else call] = (
            None if allowed is None or allowed <= now else allowed
        )
    due = any(when is None for when in calls.values())
    if due:
        transaction.on_commit(lambda: shop_health_sync_task.delay(connection.pk))
    later = [when for when in calls.values() if when is not None]
    return CallPlan(due=due, next_allowed_at=min(later) if later else None, calls=calls)
