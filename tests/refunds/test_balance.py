"""A refund above the last known payable balance: warned before sending (in Spanish, with
the guide's advice and the balance's age), sent anyway if the agent confirms, recorded."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.models import AuditEntry
from refunds.balance import is_balance_refusal, refund_balance_check
from refunds.models import RefundRequest
from tests.api.conftest import api_client_for as api_client_for  # fixture
from tests.factories.refunds import RefundRequestFactory
from tests.factories.sla import ShopAccountSnapshotFactory
from tests.refunds.test_views import _client, _confirm_data

pytestmark = pytest.mark.django_db

NBSP = "\xa0"


@pytest.fixture
def incident(shop):
    return shop["incident"]


@pytest.fixture
def es_client(agent):
    return _client(agent, language="es")


def _review(client, incident) -> str:
    data = {"reason_code": "17", "idempotency_key": str(uuid.uuid4())}
    response = client.post(reverse("refunds:full", args=[incident.pk]), data)
    assert response.status_code == 200
    return response.content.decode()


def test_above_the_balance_the_review_warns_in_spanish_and_the_agent_may_proceed(
    es_client, incident, shop
) -> None:
    ShopAccountSnapshotFactory(
        connection=shop["connection"],
        payable_balance=Decimal("100.00"),
        fetched_at=timezone.now() - timedelta(hours=2, minutes=5),
    )
    page = _review(es_client, incident)
    warning = page[page.index("data-balance-warning") :].split("</p>", 1)[0]
    assert f"100,00{NBSP}€" in warning and "de hace 2 horas" in warning
    assert "consultad con vuestro Account Manager" in warning
    assert "data-confirm" in page  # the agent can still send it

    confirm = _confirm_data(page)
    response = es_client.post(reverse("refunds:full", args=[incident.pk]), confirm)
    assert response.status_code == 302
    request = RefundRequest.objects.get()
    assert request.state == RefundRequest.State.QUEUED  # Mirakl decides
    entry = AuditEntry.objects.get(action=AuditEntry.Action.REFUND_REQUESTED)
    assert entry.data["above_payable_balance"] is True
    assert entry.data["payable_balance"] == "100.00"


def test_within_the_balance_the_review_only_says_what_it_is(es_client, incident, shop) -> None:
    ShopAccountSnapshotFactory(connection=shop["connection"], payable_balance=Decimal("5000"))
    page = _review(es_client, incident)
    assert "data-balance-warning" not in page
    assert "data-balance-known" in page and f"5{NBSP}000,00{NBSP}€" in page


def test_without_a_known_balance_nothing_is_said(es_client, incident) -> None:
    page = _review(es_client, incident)
    assert "data-balance-warning" not in page and "data-balance-known" not in page


def test_refunds_asked_since_the_balance_was_read_count_against_it(shop) -> None:
    connection = shop["connection"]
    ShopAccountSnapshotFactory(
        connection=connection,
        payable_balance=Decimal("150.00"),
        fetched_at=timezone.now() - timedelta(hours=5),
    )
    # Asked before the balance was read: already in it. Refused: counts for nothing.
    RefundRequestFactory(
        order=shop["order"], total=Decimal("500.00"), created_at=timezone.now() - timedelta(days=1)
    )
    RefundRequestFactory(
        order=shop["order"], total=Decimal("80.00"), state=RefundRequest.State.REFUSED
    )
    RefundRequestFactory(order=shop["order"], total=Decimal("60.00"))
    check = refund_balance_check(connection=connection, total=Decimal("137.70"))
    assert (check.payable, check.asked_since, check.available) == (
        Decimal("150.00"),
        Decimal("60.00"),
        Decimal("90.00"),
    )
    assert check.exceeds and "60" in check.warning
    assert not refund_balance_check(connection=connection, total=Decimal("90.00")).exceeds


def test_a_negative_balance_warns_for_any_refund(shop) -> None:
    ShopAccountSnapshotFactory(connection=shop["connection"], payable_balance=Decimal("-259.20"))
    assert refund_balance_check(connection=shop["connection"], total=Decimal("0.01")).exceeds


@pytest.mark.parametrize(
    ("message", "balance"),
    [
        ("The shop does not have a sufficient payable balance for the refund", True),
        ("Insufficient balance to refund order 123", True),
        ("Saldo insuficiente para el reembolso", True),
        ("Order line is not refundable", False),
        ("", False),
        (None, False),
    ],
)
def test_which_refusals_are_for_balance(message, balance) -> None:
    assert is_balance_refusal(message) is balance


def test_the_api_says_so_when_the_refund_is_above_the_balance(api_client_for, shop) -> None:
    ShopAccountSnapshotFactory(connection=shop["connection"], payable_balance=Decimal("10.00"))
    client = api_client_for("agent")
    body = {"order": shop["order"].mirakl_id, "kind": "full", "reason_code": "17"}
    response = client.post(
        "/api/v1/refunds/",
        body,
        format="json",
        headers={"Idempotency-Key": str(uuid.uuid4()), "Accept-Language": "es"},
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["state"] in ("queued", "awaiting_approval")
    assert "Account Manager" in data["balance_warning"]
    assert data["refusal"] is None and data["refused_for_balance"] is False
