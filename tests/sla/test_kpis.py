"""KPIs on a small known data set, with exact figures."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from messaging.models import Party
from sla.health.rules import Comparison, Threshold
from sla.kpis import (
    Period,
    active_counts,
    kpis_cached,
    kpis_compute,
    kpis_stamp_bump,
    percentile,
    period_default,
    risk_of,
)
from sla.models import Rulebook, SlaItem
from tests.factories.core import OrderFactory
from tests.factories.incidents import IncidentFactory
from tests.factories.messaging import MessageFactory, ThreadFactory
from tests.factories.sla import SlaBreachFactory, SlaItemFactory
from tests.sla.conftest import madrid

pytestmark = pytest.mark.django_db

NOW = madrid(2026, 12, 31, 12)
DEC_1_10 = Period(first=date(2026, 12, 1), last=date(2026, 12, 10))
H = timedelta(hours=1)
State = SlaItem.State


def incident(conn, opened, closed=None, *, ordered=None, replies=()):
    inc = IncidentFactory(
        line__order__connection=conn,
        line__order__created_date=ordered or opened,
        connection=conn,
        opened_at=opened,
        closed_at=closed,
    )
    thread = ThreadFactory(connection=conn, order=inc.order)
    MessageFactory(thread=thread, author_type=Party.CUSTOMER, date_created=opened + H / 2)
    for author, at in replies:
        MessageFactory(thread=thread, author_type=author, date_created=at)
    return inc


def item(carrier, due, stopped=None):
    return SlaItemFactory(
        incident=carrier,
        started_at=due - 48 * H,
        warn_at=due - 12 * H,
        due_at=due,
        state=State.STOPPED if stopped else State.BREACHED,
        stopped_at=stopped,
    )


@pytest.fixture
def data_set(mediamarkt, pccomponentes):
    book = Rulebook.objects.get(preset="mediamarkt")
    book.thresholds.filter(criterion="incident_rate").update(
        alert_state="set", alert_value=Decimal("12"), limit_state="set", limit_value=Decimal("15")
    )
    book.thresholds.filter(criterion="active_incidents").update(
        alert_state="set", alert_value=Decimal("0.5"), limit_state="set", limit_value=Decimal("0.7")
    )
    shop = Party.SHOP
    # Opened in the period: first shop replies after 2 h, 4 h, 24 h, none, 1 h.
    incident(
        mediamarkt,
        madrid(2026, 12, 2, 10),
        madrid(2026, 12, 4, 12),
        replies=[(shop, madrid(2026, 12, 1, 9)), (shop, madrid(2026, 12, 2, 12))],
    )
    incident(mediamarkt, madrid(2026, 12, 3, 9), replies=[(shop, madrid(2026, 12, 3, 13))])
    incident(
        mediamarkt,
        madrid(2026, 12, 5, 8),
        madrid(2026, 12, 6, 0),  # closed exactly at the end of Dec 5: not active then
        replies=[(shop, madrid(2026, 12, 6, 8)), (shop, madrid(2026, 12, 7, 8))],
    )
    incident(mediamarkt, madrid(2026, 12, 6, 10), madrid(2026, 12, 8, 10))
    incident(mediamarkt, madrid(2026, 12, 9, 23, 30), replies=[(shop, madrid(2026, 12, 10, 0, 30))])
    # Opened before the period, active Nov 11–19 in the 30-day window; carries the waits.
    carrier = incident(mediamarkt, madrid(2026, 11, 1), madrid(2026, 11, 20, 12))
    # Orders: 5 above plus 35 in the period; two just outside it.
    OrderFactory.create_batch(35, connection=mediamarkt, created_date=madrid(2026, 12, 5, 12))
    OrderFactory(connection=mediamarkt, created_date=madrid(2026, 11, 30, 23, 59))
    OrderFactory(connection=mediamarkt, created_date=madrid(2026, 12, 11, 0, 0))
    # Waits due in the period: on time, late, unanswered, answered exactly at the deadline.
    item(carrier, madrid(2026, 12, 2, 10), madrid(2026, 12, 2, 9))
    late = item(carrier, madrid(2026, 12, 3, 10), madrid(2026, 12, 3, 11))
    open_ = item(carrier, madrid(2026, 12, 4, 10))
    item(carrier, madrid(2026, 12, 4, 12), madrid(2026, 12, 4, 12))
    item(carrier, madrid(2026, 11, 30, 23, 30), madrid(2026, 12, 1, 1))  # before the period
    item(carrier, madrid(2026, 12, 12, 10))  # after it
    SlaBreachFactory(item=late, answered_at=late.stopped_at)
    SlaBreachFactory(item=open_)
    return mediamarkt, pccomponentes


def test_every_kpi_on_the_known_data_set(data_set, django_assert_max_num_queries) -> None:
    mediamarkt, pccomponentes = data_set

    with django_assert_max_num_queries(12):
        results = kpis_compute(period=DEC_1_10, now=NOW)

    mm, pcc = sorted(results, key=lambda k: k.connection.name)
    assert mm.connection == mediamarkt
    assert (mm.items_due, mm.items_on_time, mm.compliance_pct) == (4, 2, Decimal("50.0"))
    assert mm.replied_incidents == 4
    assert mm.first_reply_median_h == Decimal("3.0")  # of 1, 2, 4, 24 h
    assert mm.first_reply_p90_h == Decimal("18.0")  # 4 + (24 - 4) × 0.7
    assert (mm.incidents_opened, mm.orders_created) == (5, 40)
    assert mm.incident_rate_pct == Decimal("12.5")
    # Open at day end in Nov 11 – Dec 10: 9 + 2 + 8 + 0 + 2 + 2 = 23 incident-days / 30.
    assert mm.active_incidents_avg == Decimal("0.8")
    assert mm.open_breaches == 1
    # 12.5 % reaches the alert (12) not the limit (15); 0.8 reaches the limit (0.7).
    assert (mm.incident_rate_risk, mm.active_incidents_risk) == ("alert", "limit")
    assert mm.compliance_risk == ""  # its thresholds are unknown: nothing marked...
    assert mm.unknown_thresholds  # ...and said so
    assert mm.at_risk

    assert pcc.connection == pccomponentes
    assert pcc.compliance_pct is None and pcc.incident_rate_pct is None
    assert pcc.first_reply_median_h is None and pcc.active_incidents_avg == Decimal("0.0")
    assert not pcc.at_risk


def test_the_review_keeps_the_kpis_until_the_next_sweep(
    data_set, django_assert_num_queries
) -> None:
    """Kept for a period and a set of marketplaces until a sweep runs: the same
    figures as computed afresh, and the sweep's changes show after it."""
    from core.models import MarketplaceConnection
    from sla.services import sla_sweep

    connections = list(MarketplaceConnection.objects.order_by("name", "pk"))
    first = kpis_cached(period=DEC_1_10, now=NOW, connections=connections)
    assert first == kpis_compute(period=DEC_1_10, now=NOW, connections=connections)
    with django_assert_num_queries(0):
        assert kpis_cached(period=DEC_1_10, now=NOW, connections=connections) == first
    # Another period, or another set of marketplaces, is computed apart.
    other = kpis_cached(period=DEC_1_10, now=NOW, connections=connections[:1])
    assert [k.connection for k in other] == connections[:1]

    mediamarkt = data_set[0]
    OrderFactory.create_batch(10, connection=mediamarkt, created_date=madrid(2026, 12, 5, 12))
    assert kpis_cached(period=DEC_1_10, now=NOW, connections=connections)[0].orders_created == 40
    sla_sweep(now=NOW)
    assert kpis_cached(period=DEC_1_10, now=NOW, connections=connections)[0].orders_created == 50
    kpis_stamp_bump()
    assert kpis_cached(period=DEC_1_10, now=NOW, connections=connections)[0].orders_created == 50


def test_the_kept_kpis_carry_no_api_key(data_set, monkeypatch) -> None:
    import pickle

    from django.core.cache import cache

    from core.models import MarketplaceConnection

    kept: list[bytes] = []
    set_ = cache.set
    monkeypatch.setattr(
        cache,
        "set",
        lambda key, value, *a, **kw: (kept.append(pickle.dumps(value)), set_(key, value, *a, **kw)),
    )
    connections = list(MarketplaceConnection.objects.order_by("name", "pk"))
    kpis = kpis_cached(period=DEC_1_10, now=NOW, connections=connections)
    again = kpis_cached(period=DEC_1_10, now=NOW, connections=connections)
    assert again == kpis and again[0].connection is connections[0]
    secret = connections[0].api_key
    assert kept and secret and not any(secret.encode() in blob for blob in kept)


def test_daily_series_use_madrid_days(data_set) -> None:
    mm = next(k for k in kpis_compute(period=DEC_1_10, now=NOW) if k.connection == data_set[0])
    days = {d["day"]: d for d in mm.daily}

    assert len(mm.daily) == 10
    assert (days[date(2026, 12, 4)]["items_due"], days[date(2026, 12, 4)]["compliance_pct"]) == (
        2,
        Decimal("50.0"),
    )
    assert days[date(2026, 12, 9)]["incidents_opened"] == 1  # 23:30 Madrid, 22:30 UTC
    assert days[date(2026, 12, 9)]["first_reply_median_h"] == Decimal("1.0")
    assert days[date(2026, 12, 5)]["incident_rate_pct"] == Decimal("2.8")  # 1 / 36
    assert [days[date(2026, 12, d)]["active_incidents"] for d in range(1, 11)] == [
        0, 1, 2, 1, 1, 2, 2, 1, 2, 2,
    ]  # fmt: skip
    assert [days[date(2026, 12, d)]["breaches"] for d in (3, 4)] == [1, 1]


def test_today_is_counted_at_now_and_the_future_is_left_out(mediamarkt) -> None:
    incident(mediamarkt, madrid(2026, 12, 10, 9), madrid(2026, 12, 10, 20))
    now = madrid(2026, 12, 10, 12)

    (mm,) = kpis_compute(period=Period(date(2026, 12, 9), date(2026, 12, 12)), now=now)

    assert [(d["day"], d["active_incidents"]) for d in mm.daily] == [
        (date(2026, 12, 9), 0),
        (date(2026, 12, 10), 1),
    ]


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([1, 2, 4, 24], 0.5) == 3.0
    assert percentile([24, 1, 4, 2], 0.9) == pytest.approx(18.0)
    assert percentile(list(range(1, 11)), 0.9) == pytest.approx(9.1)


PCC_INCIDENT_RATE = (
    Threshold("set", Decimal("8"), Comparison.GTE),
    Threshold("set", Decimal("9"), Comparison.GTE),
)


@pytest.mark.parametrize(
    ("value", "thresholds", "expected"),
    [
        (None, PCC_INCIDENT_RATE, ""),
        (Decimal("5"), None, ""),
        (Decimal("7.9"), PCC_INCIDENT_RATE, ""),
        (Decimal("8.0"), PCC_INCIDENT_RATE, "alert"),
        (Decimal("8.9"), PCC_INCIDENT_RATE, "alert"),
        (Decimal("9.0"), PCC_INCIDENT_RATE, "limit"),
        (Decimal("50"), (Threshold("unknown"), Threshold("unknown")), ""),
    ],
)
def test_risk_at_the_rulebooks_alert_and_limit(value, thresholds, expected) -> None:
    assert risk_of(value, thresholds) == expected


def test_active_counts_closing_at_day_end_is_not_active() -> None:
    days = [date(2026, 12, 1), date(2026, 12, 2)]
    spans = [(madrid(2026, 12, 1, 10), madrid(2026, 12, 2, 0)), (madrid(2026, 12, 1, 10), None)]
    assert active_counts(spans, days, NOW) == [1, 1]


def test_default_period_is_the_last_30_days_in_madrid() -> None:
    period = period_default(now=madrid(2026, 12, 31, 0, 30))  # still Dec 30 in UTC
    assert (period.first, period.last) == (date(2026, 12, 2), date(2026, 12, 31))
    assert period.start == madrid(2026, 12, 2) and period.end == madrid(2027, 1, 1)
