"""A marketplace's health figures on pinned data: ours, Mirakl's, the projection moved
onto Mirakl's, the what-if and the reasons they differ (hand-computed values)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from incidents.models import Incident
from sla.health.criteria import CriterionKey as K
from sla.health.figures import marketplace_health
from sla.health.rules import Level, Standing
from sla.models import SlaItem
from tests.factories.core import OrderLineFactory
from tests.factories.incidents import IncidentFactory
from tests.factories.sla import ShopStatisticsSnapshotFactory, SlaItemFactory
from tests.sla.conftest import madrid

pytestmark = pytest.mark.django_db

NOW = madrid(2026, 12, 10, 12, 0)  # a Thursday; the window is Nov 11 - Dec 10


def _lines(connection, n: int, created) -> list:
    return [
        OrderLineFactory(order__connection=connection, order__created_date=created)
        for _ in range(n)
    ]


def _wait(connection, started, stopped=None):
    return SlaItemFactory(
        for_thread=True,
        thread__connection=connection,
        connection=connection,
        started_at=started,
        due_at=started + timedelta(hours=48),
        warn_at=started + timedelta(hours=36),
        state=SlaItem.State.STOPPED if stopped else SlaItem.State.ON_TIME,
        stopped_at=stopped,
        stop_reason=SlaItem.StopReason.SHOP_REPLY if stopped else "",
    )


@pytest.fixture
def shop(pccomponentes):
    """20 lines created on Dec 9, two of them with an incident opened that day and still
    open; two messages answered in 10 h and 24 h, one waiting for 4 h; Mirakl's figures
    of Dec 10 at 09:00 (incident rate 7.60 %, response time 19 h)."""
    lines = _lines(pccomponentes, 20, madrid(2026, 12, 9, 9))
    for line in lines[:2]:
        IncidentFactory(line=line, opened_at=madrid(2026, 12, 9, 10))
    _wait(pccomponentes, madrid(2026, 12, 8, 10), madrid(2026, 12, 8, 20))
    _wait(pccomponentes, madrid(2026, 12, 9, 10), madrid(2026, 12, 10, 10))
    _wait(pccomponentes, madrid(2026, 12, 10, 8))
    ShopStatisticsSnapshotFactory(
        connection=pccomponentes,
        fetched_at=madrid(2026, 12, 10, 9),
        mirakl_updated_at=madrid(2026, 12, 10, 4),
    )
    return pccomponentes


def test_incident_rate_ours_and_mirakls(shop, django_assert_max_num_queries) -> None:
    with django_assert_max_num_queries(20):
        health = marketplace_health(connection=shop, now=NOW)
    rate = health.criterion(K.INCIDENT_RATE)
    # Ours: 2 lines with an incident / 20 accepted lines. The pace (7 days before today:
    # 2 incident lines, 20 lines) equals the window, and only empty days leave it: flat.
    assert rate.ours == Decimal("10.00")
    assert rate.ours_path == [Decimal("10.00")] * 8
    assert (rate.mirakl, rate.mirakl_at) == (Decimal("7.60"), madrid(2026, 12, 10, 4))
    assert rate.judged == Decimal("7.60") and rate.standing == Standing.OK
    assert rate.basis == "shifted" and rate.path == [Decimal("7.60")] * 8
    assert (rate.alert_text, rate.limit_text) == ("≥ 8,00\xa0%", "≥ 9,00\xa0%")
    assert rate.level == Level.OK and rate.crossing is None
    # They disagree by 2.4 points: the page says why.
    assert rate.disagrees
    assert any("líneas de pedido aceptadas" in reason for reason in rate.explanations)
    assert any("últimos 30 días" in reason for reason in rate.explanations)
    assert rate.note  # resolving does not lower the rate


def test_lines_opened_after_mirakls_calculation_explain_the_difference(shop) -> None:
    line = _lines(shop, 1, madrid(2026, 12, 10, 9))[0]
    IncidentFactory(line=line, opened_at=madrid(2026, 12, 10, 10))
    rate = marketplace_health(connection=shop, now=NOW).criterion(K.INCIDENT_RATE)
    # 3 / 21 lines; +1 day: (3 + 2/7) / (21 + 20/7) = 23/167.
    assert rate.ours == Decimal("14.29") and rate.ours_path[1] == Decimal("13.77")
    assert "10/12/2026 04:00" in rate.explanations[0]
    assert " 1 " in rate.explanations[0]  # the one incident opened since then


def test_active_incidents_average_and_its_projection(shop) -> None:
    active = marketplace_health(connection=shop, now=NOW).criterion(K.ACTIVE_INCIDENTS)
    # Open at day end: 2 on Dec 9 and 2 now -> 4 / 30 = 0.13.
    assert active.ours == Decimal("0.1")
    # Nothing ever closed: no expected close, new ones (2/7 a day) stay open.
    # +7 days: (4 + sum over j=0..6 of (2 + (j+1) * 2/7)) / 30 = (4 + 14 + 8) / 30 = 0.87
    assert active.path[-1] == Decimal("0.9")
    assert active.mirakl is None and active.basis == "ours"
    assert active.alert.is_unknown and active.unknown_thresholds  # PcComponentes publishes none
    assert active.what_if is not None and active.what_if.count == 2


def test_response_time_projection_crosses_the_alert_and_the_what_if_clears_it(shop) -> None:
    response = marketplace_health(connection=shop, now=NOW).criterion(K.RESPONSE_TIME)
    # Ours: (10 + 24) / 2 = 17 h.
    assert response.ours == Decimal("17.0")
    # +1 day: answers 34 h over 2, the waiting message answered then (4 + 24 h), new
    # messages at 2 a week at 17 h: (34 + 28 + 2/7 * 17) / (3 + 2/7) = 468/23 = 20.35 h.
    assert response.ours_path[1] == Decimal("20.3")
    # Mirakl's 19 h moved by the same change: 19 + 3.35 = 22.35 h >= the alert (20 h).
    assert response.path[1] == Decimal("22.3")
    assert response.crossing == ("alert", 1, response.alert)
    # +2 days: (34 + 52 + 4/7 * 17) / (3 + 4/7) = 26.8 h; on Mirakl's 28.8 h > 24 h.
    assert response.path[2] == Decimal("28.8")
    assert response.level == Level.PROJECTED_LIMIT
    # Answering the waiting message now: its 4 h join the answers, (38 + 2 * 38/3) / 5 =
    # 12.67 h in 7 days; on Mirakl's: 19 - (17 - 12.67) = 14.67 h, under the alert.
    assert response.what_if.count == 1
    assert response.what_if.value == Decimal("14.7")
    assert response.what_if.clears is True


def test_criteria_only_mirakl_measures_follow_its_trend(pccomponentes) -> None:
    for day, value in ((7, "96.8"), (8, "96.6"), (9, "96.4")):
        ShopStatisticsSnapshotFactory(
            connection=pccomponentes,
            fetched_at=madrid(2026, 12, day, 12),
            figures={"acceptance_rate": value},
        )
    health = marketplace_health(connection=pccomponentes, now=NOW)
    acceptance = health.criterion(K.ACCEPTANCE_RATE)
    assert acceptance.ours is None and acceptance.basis == "trend"
    # -0.2 a day from 96.4: +2 days 96.0 (not < 96), +3 days 95.8 (< 96: the limit)
    assert acceptance.path[:4] == [Decimal(v) for v in ("96.4", "96.2", "96.0", "95.8")]
    assert acceptance.standing == Standing.ALERT  # < 97
    assert acceptance.crossing == ("limit", 3, acceptance.limit)
    assert acceptance.level == Level.PROJECTED_LIMIT
    assert acceptance.spark_mirakl[-4:] == [Decimal("96.8"), Decimal("96.6"), Decimal("96.4"), None]


def test_open_incidents_listed_with_ages_and_expected_closes(shop) -> None:
    # One incident closed after 4 days: the open ones (1 day old) expect the same.
    line = _lines(shop, 1, madrid(2026, 11, 20, 9))[0]
    IncidentFactory(
        line=line,
        opened_at=madrid(2026, 11, 20, 10),
        closed_at=madrid(2026, 11, 24, 10),
        state=Incident.State.CLOSED,
    )
    health = marketplace_health(connection=shop, now=NOW)
    assert health.incidents_open == 2
    row = health.incidents[0]
    assert row.age == timedelta(days=1, hours=2)
    # Past incidents that lasted longer than 26 h: one of 4 days -> 4 days - 26 h more.
    assert row.expected_close == NOW + timedelta(days=4) - timedelta(days=1, hours=2)
