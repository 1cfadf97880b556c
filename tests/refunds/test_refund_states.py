"""Refund states as Mirakl now writes them: ``refund_state`` first, the deprecated ``state``
as a fallback, and ``WAITING_REFUND_TAX_CONFIRMATION`` known, translated and pending."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from django.test import Client
from django.urls import reverse

from core.sync.runner import marketplace_sync
from mirakl.schemas import LineRefund, OrderPage
from refunds.models import Refund
from tests.conftest import SANDBOX_KEY
from tests.factories.core import OrderLineFactory, UserFactory
from tests.factories.incidents import IncidentFactory
from tests.factories.refunds import RefundFactory
from tests.refunds.test_api import client_of

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent.parent / "fixtures" / "mirakl"
TAX = "WAITING_REFUND_TAX_CONFIRMATION"


def _refund(**fields) -> LineRefund:
    return LineRefund.model_validate({"id": "1", "amount": "1.00", **fields})


def test_refund_state_is_read_first_and_state_only_when_it_is_missing() -> None:
    assert _refund(refund_state=TAX, state="WAITING_REFUND").current_state == TAX
    assert _refund(refund_state="REFUNDED", state="REFUNDED").current_state == "REFUNDED"
    # Mirakl's own OR11 example sends only the deprecated field.
    assert _refund(state="WAITING_REFUND_PAYMENT").current_state == "WAITING_REFUND_PAYMENT"
    assert _refund(refund_state=TAX).current_state == TAX
    assert _refund().current_state is None


def test_a_recorded_order_without_refund_state_keeps_its_state() -> None:
    payload = json.loads((FIXTURES / "OR11-orders-with-refunds.json").read_text())
    (order,) = OrderPage.from_payload(payload).orders
    states = [r.current_state for line in order.order_lines for r in line.refunds]
    assert states and all(states)


def test_the_sandbox_sends_both_fields_and_the_sync_stores_refund_state(
    connection, sandbox, sandbox_client
) -> None:
    orders, offset, total = [], 0, 1
    while offset < total:
        page = requests.get(
            f"{sandbox.base_url}/api/orders",
            params={"max": 100, "offset": offset},
            headers={"Authorization": SANDBOX_KEY},
            timeout=5,
        ).json()
        orders += page["orders"]
        offset, total = offset + 100, page["total_count"]
    refunds = [
        refund for order in orders for line in order["order_lines"] for refund in line["refunds"]
    ]
    assert refunds and all("refund_state" in r and "state" in r for r in refunds)
    waiting_tax = [r for r in refunds if r["refund_state"] == TAX]
    assert waiting_tax, "the seeded shop has refunds waiting for the tax confirmation"
    # The deprecated field does not know the newer state: it shows the one that follows.
    assert {r["state"] for r in waiting_tax} == {"WAITING_REFUND"}
    others = [r for r in refunds if r["refund_state"] != TAX]
    assert all(r["state"] == r["refund_state"] for r in others)

    marketplace_sync(connection=connection, client=sandbox_client)

    stored = dict(Refund.objects.values_list("mirakl_id", "state"))
    for refund in refunds:
        assert stored[refund["id"]] == refund["refund_state"]
    assert Refund.objects.filter(state=TAX).count() >= len(waiting_tax)


def test_a_refund_waiting_for_its_tax_confirmation_is_pending_and_translated() -> None:
    line = OrderLineFactory(state="INCIDENT_OPEN")
    incident = IncidentFactory(line=line, order=line.order, connection=line.order.connection)
    refund = RefundFactory(line=line, state=TAX)
    paid = RefundFactory(line=line, state="REFUNDED")
    assert refund.is_pending and not paid.is_pending

    agent = UserFactory(username="ines", role="agent")
    client = Client()
    client.force_login(agent)
    client.cookies["django_language"] = "es"
    page = client.get(reverse("desk:incident", args=[incident.pk])).content.decode()
    panel = page[page.index('id="refunds"') :]
    assert '<span class="badge warn">Pendiente de confirmación de impuestos</span>' in panel
    assert TAX not in panel  # no raw Mirakl code on screen

    body = client_of(agent).get("/api/v1/refunds/", {"order": line.order.mirakl_id}).json()
    by_id = {r["mirakl_id"]: r for r in body["results"]}
    assert by_id[refund.mirakl_id]["state"] == TAX
    assert by_id[refund.mirakl_id]["pending"] is True
    assert by_id[paid.mirakl_id]["pending"] is False
