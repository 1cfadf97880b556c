"""A01 and A21: kept as history, asked at most once a day each, enforced in one place.

The sandbox counts every request it receives per call (``state.stats``), so these tests
see exactly how often Mirakl was asked.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import responses
from django.db import connection as db_connection
from django.utils import timezone

from core.shop_account import ShopAccountSnapshot
from mirakl.sandbox import SandboxServer
from mirakl.schemas import ShopStatistics
from sla.health.gate import MIN_INTERVAL, account_fetch, daily_call_claim, statistics_fetch
from sla.health.sync import shop_health_refresh, shop_health_sync, statistics_figures
from sla.models.health import DailyCall, ShopStatisticsSnapshot
from tests.conftest import SANDBOX_KEY
from tests.factories.core import MarketplaceConnectionFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "mirakl"
H = timedelta(hours=1)


def _asked(sandbox, call: str) -> int:
    return sandbox.state.stats[call]


# --------------------------------------------------------------------------- the gate


def test_a_claim_is_refused_until_24_hours_after_the_previous_call(connection) -> None:
    now = timezone.now()
    first = daily_call_claim(connection=connection, call="A01", now=now)
    assert first.allowed and first.previous_call_at is None
    for later in (now, now + H, now + MIN_INTERVAL - timedelta(seconds=1)):
        refused = daily_call_claim(connection=connection, call="A01", now=later)
        assert not refused.allowed
        assert refused.next_allowed_at == now + MIN_INTERVAL
    # Each call and channel has its own day.
    assert daily_call_claim(connection=connection, call="A21", now=now).allowed
    assert daily_call_claim(connection=connection, call="A21", channel="PT", now=now).allowed
    again = daily_call_claim(connection=connection, call="A01", now=now + MIN_INTERVAL)
    assert again.allowed and again.previous_call_at == now


@pytest.mark.django_db(transaction=True)
def test_two_claims_at_once_let_one_call_through(connection) -> None:
    """Two workers claiming the same call at the same instant: the row lock serialises
    them and only one is allowed (real Postgres, two connections)."""
    now = timezone.now()
    barrier = threading.Barrier(2)
    outcomes: list[bool] = []

    def claim() -> None:
        try:
            barrier.wait()
            outcomes.append(daily_call_claim(connection=connection, call="A01", now=now).allowed)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes) == [False, True]
    assert DailyCall.objects.filter(connection=connection, call="A01").count() == 1


def test_a_refused_claim_asks_mirakl_nothing(connection, sandbox) -> None:
    now = timezone.now()
    assert account_fetch(connection=connection, now=now).ok
    assert _asked(sandbox, "A01") == 1
    second = account_fetch(connection=connection, now=now + 23 * H)
    assert second.refused and second.value is None
    assert second.next_allowed_at == now + MIN_INTERVAL
    assert _asked(sandbox, "A01") == 1


@responses.activate
def test_a_failed_call_still_counts_and_is_never_retried_at_once(connection) -> None:
    """A 500 (or a timeout) may have reached Mirakl: it counts, and the client sends it
    once (no automatic retry)."""
    url = f"{connection.base_url}/api/account"
    responses.get(url, status=500, json={"message": "boom"})
    now = timezone.now()
    failed = account_fetch(connection=connection, now=now)
    assert failed.error is not None and not failed.ok
    assert len(responses.calls) == 1
    row = DailyCall.objects.get(connection=connection, call="A01")
    assert row.last_called_at == now and row.failing and row.last_success_at is None
    assert account_fetch(connection=connection, now=now + H).refused
    assert len(responses.calls) == 1


def test_a_call_that_never_left_gives_its_claim_back(db) -> None:
    """Connection refused: nothing reached Mirakl, so the day is not used up."""
    with SandboxServer(host="127.0.0.1", port=0, api_key=SANDBOX_KEY, seed=7) as server:
        base_url = server.base_url
    # The server is stopped: its port refuses connections.
    closed = MarketplaceConnectionFactory(base_url=base_url, api_key=SANDBOX_KEY)
    now = timezone.now()
    failed = account_fetch(connection=closed, now=now)
    assert failed.error is not None and failed.error.sent is False
    row = DailyCall.objects.get(connection=closed, call="A01")
    assert row.last_called_at is None and row.failing
    assert daily_call_claim(connection=closed, call="A01", now=now + H).allowed


def test_only_the_gate_calls_a01_and_a21() -> None:
    """The once-a-day rule holds only if nothing else asks: no module outside the gate
    (and the client and sandbox themselves) calls ``get_account`` or ``get_statistics``."""
    pattern = re.compile(r"\.(get_account|get_statistics)\(")
    offenders = []
    for path in ROOT.glob("**/*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith((".venv/", "tests/", "mirakl/", "bench/")):
            continue
        if relative == "sla/health/gate.py":
            continue
        if pattern.search(path.read_text(encoding="utf-8")):
            offenders.append(relative)
    assert offenders == []


# --------------------------------------------------------------------------- the sync


def test_sync_keeps_a01_and_a21_as_history_and_asks_once_a_day(connection, sandbox) -> None:
    now = timezone.now()
    result = shop_health_sync(connection=connection, now=now)
    assert result.account is not None and len(result.statistics) == 1
    account = ShopAccountSnapshot.objects.get(connection=connection)
    assert (account.shop_state, account.currency) == ("OPEN", "EUR")
    assert account.payable_balance == Decimal("5000.00")
    assert account.channels == ["ES"]
    stats = ShopStatisticsSnapshot.objects.get(connection=connection)
    assert stats.channel == "" and stats.mirakl_updated_at is not None
    # The sandbox's seeded LAST_MONTH figures (0-1 fractions, seconds) in our units.
    assert stats.figures == {
        "incident_rate": "7.60",
        "response_time": "19.0",
        "acceptance_time": "14.0",
        "acceptance_rate": "97.5",
        "late_shipment_rate": "6.2",
        "valid_tracking_rate": "93.4",
        "rating": "4.10",
    }
    assert stats.payload["rate_scale"] == "fraction"

    # Beat runs every few minutes: nothing more is asked that day...
    for minutes in (10, 600, 24 * 60 - 1):
        later = shop_health_sync(connection=connection, now=now + timedelta(minutes=minutes))
        assert later.account is None and later.statistics == []
        assert set(later.refused) == {"A01", "A21"}
    assert (_asked(sandbox, "A01"), _asked(sandbox, "A21")) == (1, 1)

    # ...and the next day both are asked again, kept as a second history row.
    sandbox_act = sandbox.state
    with sandbox_act.lock:
        sandbox_act.account.payable_balance = Decimal("-120.50")
    next_day = shop_health_sync(connection=connection, now=now + MIN_INTERVAL)
    assert next_day.account is not None and len(next_day.statistics) == 1
    assert (_asked(sandbox, "A01"), _asked(sandbox, "A21")) == (2, 2)
    balances = list(
        ShopAccountSnapshot.objects.filter(connection=connection)
        .order_by("fetched_at")
        .values_list("payable_balance", flat=True)
    )
    assert balances == [Decimal("5000.00"), Decimal("-120.50")]
    assert ShopStatisticsSnapshot.objects.filter(connection=connection).count() == 2


@pytest.fixture
def multichannel(db):
    with SandboxServer(
        host="127.0.0.1", port=0, api_key=SANDBOX_KEY, seed=7, channels=("ES", "PT")
    ) as server:
        yield server


def test_a_shop_on_several_channels_gets_a21_per_channel_once_a_day_each(multichannel) -> None:
    connection = MarketplaceConnectionFactory(base_url=multichannel.base_url, api_key=SANDBOX_KEY)
    now = timezone.now()
    result = shop_health_sync(connection=connection, now=now)
    assert sorted(s.channel for s in result.statistics) == ["", "ES", "PT"]
    assert _asked(multichannel, "A21") == 3
    pt = ShopStatisticsSnapshot.objects.get(connection=connection, channel="PT")
    assert pt.figures["incident_rate"] != ""  # a channel's own figures
    # The channels are remembered from the last A01: still gated the same day.
    later = shop_health_sync(connection=connection, now=now + H)
    assert set(later.refused) == {"A01", "A21", "A21:ES", "A21:PT"}
    assert _asked(multichannel, "A21") == 3


def test_refresh_now_queues_the_sync_only_when_mirakl_allows_it(
    connection, sandbox, django_capture_on_commit_callbacks
) -> None:
    now = timezone.now()
    with django_capture_on_commit_callbacks() as callbacks:
        plan = shop_health_refresh(connection=connection, now=now)
    assert plan.due and plan.next_allowed_at is None and len(callbacks) == 1

    shop_health_sync(connection=connection, now=now)
    with django_capture_on_commit_callbacks() as callbacks:
        plan = shop_health_refresh(connection=connection, now=now + 2 * H)
    assert not plan.due and callbacks == []
    assert plan.next_allowed_at == now + MIN_INTERVAL
    assert plan.calls == {"A01": now + MIN_INTERVAL, "A21": now + MIN_INTERVAL}


def test_the_refresh_task_goes_through_the_gate(connection, sandbox) -> None:
    from sla.tasks import shop_health_sync_task

    shop_health_sync_task.apply(args=[connection.pk])
    shop_health_sync_task.apply(args=[connection.pk])  # a double click: refused by the gate
    assert (_asked(sandbox, "A01"), _asked(sandbox, "A21")) == (1, 1)


def test_statistics_figures_of_the_documented_fixture_and_of_a_percent_answer() -> None:
    """The A21 fixture (schema-built, values 0) and an answer written in percent."""
    fixture = json.loads((FIXTURES / "A21-statistics.json").read_text())
    figures = statistics_figures(ShopStatistics.model_validate(fixture))
    assert set(figures) <= {
        "incident_rate",
        "response_time",
        "acceptance_time",
        "acceptance_rate",
        "late_shipment_rate",
        "valid_tracking_rate",
        "rating",
    }
    percent = ShopStatistics.model_validate(
        {
            "incident_rate": [{"period": "LAST_MONTH", "value": 8.6}],
            "approval_rate": [{"period": "LAST_MONTH", "value": 96.2}],
            "order_messages_response_delay": [{"period": "LAST_MONTH", "value": 90000}],
            "grade": [{"period": "LAST_THREE_MONTHS", "value": 3.4}],
            "late_shipment_rate": [{"period": "ALL_SINCE_BEGINNING", "value": 5}],
        }
    )
    assert statistics_figures(percent) == {
        "incident_rate": "8.60",
        "acceptance_rate": "96.2",
        "response_time": "25.0",
        "rating": "3.40",
    }


def test_statistics_fetch_asks_one_channel(connection, sandbox) -> None:
    fetched = statistics_fetch(connection=connection, channel="ES", now=timezone.now())
    assert fetched.ok and fetched.value.channel == "ES"
