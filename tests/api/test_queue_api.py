"""``/api/v1/queue/``: the queue of what the shop owes, as the page lists it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import Party
from sla.services import sla_sweep
from tests.factories.core import MarketplaceConnectionFactory, OrderFactory
from tests.factories.messaging import MessageFactory, ThreadFactory

pytestmark = pytest.mark.django_db


def test_queue_lists_incidents_and_conversations(api_client_for, desk) -> None:
    other = MarketplaceConnectionFactory(code="mediamarkt", name="MediaMarkt")
    order = OrderFactory(connection=other, mirakl_id="MM-1")
    thread = ThreadFactory(connection=other, order=order)
    MessageFactory(
        thread=thread,
        author_type=Party.OPERATOR,
        date_created=timezone.now() - timedelta(hours=1),
        body="¿Podéis confirmar el envío?",
    )
    sla_sweep()
    client = api_client_for("agent")

    data = client.get("/api/v1/queue/").json()
    rows = {(r["kind"], r["order"]): r for r in data["results"]}
    assert set(rows) == {("incident", "59400123-A"), ("conversation", "MM-1")}
    row = rows[("conversation", "MM-1")]
    assert row["owed_to"] == "operator" and row["sla_state"] == "on_time"
    assert row["last_inbound_preview"] == "¿Podéis confirmar el envío?"
    assert row["url"] == f"/orders/{order.pk}/#thread-{thread.pk}"
    assert row["message_count"] == 1 and row["thread"] == thread.pk
    incident_row = rows[("incident", "59400123-A")]
    assert incident_row["url"] == f"/incidents/{desk['incident'].pk}/"

    def orders(**query) -> list[str]:
        return [r["order"] for r in client.get("/api/v1/queue/", query).json()["results"]]

    assert orders(kind="conversation") == ["MM-1"]
    assert orders(owed="operator") == ["MM-1"]
    assert orders(marketplace="mediamarkt") == ["MM-1"]
    assert orders(view="waiting") == [r["order"] for r in data["results"] if r["due_at"]]
    assert client.get("/api/v1/queue/", {"owed": "bogus"}).status_code == 400
    one = client.get(f"/api/v1/queue/{row['id']}/").json()
    assert one["order"] == "MM-1"


def test_queue_needs_a_token(api_client_for) -> None:
    assert api_client_for("anonymous").get("/api/v1/queue/").status_code in (401, 403)
