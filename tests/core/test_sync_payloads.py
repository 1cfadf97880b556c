"""The sync on recorded Mirakl payloads, including malformed records."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import responses

from core.models import MarketplaceReason, Order
from core.sync.models import SyncRun
from core.sync.runner import marketplace_sync
from incidents.models import Incident
from messaging.models import Message, Thread
from mirakl.client import MiraklClient
from refunds.models import Refund
from tests.factories.core import MarketplaceConnectionFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent.parent / "fixtures" / "mirakl"
BASE = "https://pccomponentes-prod.mirakl.net"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def mirakl_payloads():
    refunds_order = load("OR11-orders-with-refunds.json")["orders"][0]
    incident_order = load("OR11-order-with-incident.json")["orders"][0]
    broken_order = {"order_id": "BROKEN-1", "created_date": "not a date", "order_lines": "x"}
    thread = load("M10-thread-with-messages.json")
    broken_thread = {"id": "broken-thread", "date_created": 12, "metadata": "nope"}
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.get(
            f"{BASE}/api/reasons",
            json={
                "reasons": [
                    {
                        "code": "18",
                        "label": "Artículo no recibido",
                        "type": "REFUND",
                        "is_shop_right": True,
                        "sort_index": 3,
                    }
                ]
            },
        )
        mock.get(
            f"{BASE}/api/orders",
            json={"orders": [refunds_order, broken_order, incident_order], "total_count": 3},
        )
        mock.get(f"{BASE}/api/inbox/threads", json={"data": [thread, broken_thread]})
        yield mock


def test_malformed_records_are_skipped_with_their_id_and_the_rest_lands(mirakl_payloads) -> None:
    connection = MarketplaceConnectionFactory(base_url=BASE, api_key="k")
    client = MiraklClient(base_url=BASE, api_key="k", sleep=lambda _: None)

    results = {r.resource: r for r in marketplace_sync(connection=connection, client=client)}

    assert all(r.ok for r in results.values())
    assert results["orders"].created == 2
    assert [r["id"] for r in results["orders"].skipped_records] == ["BROKEN-1"]
    assert [r["id"] for r in results["threads"].skipped_records] == ["broken-thread"]
    run = SyncRun.objects.get(resource="orders")
    assert run.skipped == 1 and run.skipped_records[0]["id"] == "BROKEN-1"

    assert set(Order.objects.values_list("mirakl_id", flat=True)) == {
        "1234561-A",
        "DKFSLFKZ-SDF993-A",
    }
    # Money stays exact from JSON to Postgres.
    assert sorted(Refund.objects.values_list("mirakl_id", "amount", "shipping_amount")) == [
        ("1120", Decimal("2.81"), Decimal("0.00")),
        ("1121", Decimal("20.00"), Decimal("0.20")),
        ("1122", Decimal("0.00"), Decimal("0.01")),
    ]
    incident = Incident.objects.get()
    assert (incident.order.mirakl_id, incident.line.mirakl_id) == ("DKFSLFKZ-SDF993-A", "MY-LINE")
    assert incident.state == Incident.State.NEW

    thread = Thread.objects.get()
    assert thread.mirakl_id == "e8dfae89-ee90-4282-a233-ea4582d67f00"
    assert thread.entity_id == "59452730-A"
    assert thread.shop_reply_needed_since is not None
    assert list(Message.objects.order_by("date_created").values_list("author_type", flat=True)) == [
        "CUSTOMER",
        "OPERATOR",
        "OPERATOR",
    ]
    assert Message.objects.filter(attachments__0__name="captura.png").exists()
    assert MarketplaceReason.objects.get().label == "Artículo no recibido"
