"""The order page: an order without incident has a page, tabs, and every action of the
incident page (reply, no reply required, new conversation, refunds)."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from core.models import Order
from incidents.models import AuditEntry
from messaging.models import OutboundMessage, Party, Thread
from tests.factories.core import UserFactory
from tests.messaging import fixtures
from tests.messaging.test_views import BODY, reply_data, sandbox_bodies

pytestmark = pytest.mark.django_db

agent = fixtures.agent
agent_client = fixtures.agent_client
synced = fixtures.synced


def order_without_incident_thread() -> tuple[Order, Thread]:
    """An order with no incident and a customer thread."""
    for thread in (
        Thread.objects.filter(order__isnull=False, order__incidents__isnull=True)
        .select_related("order")
        .order_by("pk")
    ):
        if any(p.get("type") == Party.CUSTOMER for p in thread.authorized_participants):
            return thread.order, thread
    raise AssertionError("the sandbox has no conversation without an incident")


def test_page_needs_login_and_permission(client, synced) -> None:
    order, _thread = order_without_incident_thread()
    url = reverse("desk:order", args=[order.pk])
    assert client.get(url).status_code == 302
    client.force_login(UserFactory(username="sinpermisos"))
    assert client.get(url).status_code == 403


def test_unknown_order_is_404(agent_client) -> None:
    assert agent_client.get(reverse("desk:order", args=[999999])).status_code == 404


def test_order_without_incident_shows_every_tab(agent_client, synced) -> None:
    order, thread = order_without_incident_thread()
    html = agent_client.get(reverse("desk:order", args=[order.pk])).content.decode()
    assert order.mirakl_id in html
    for key in ("details", "shipping", "messages", "history", "documents"):
        assert f'id="tab-{key}"' in html and f'href="#tab-{key}"' in html
    assert 'id="incident-header"' not in html
    assert "this order has no incident" in html
    assert f'id="thread-{thread.pk}"' in html
    # Every action is addressed under the order.
    base = f"/orders/{order.pk}/"
    assert f'action="{base}threads/{thread.pk}/reply/"' in html
    assert f'hx-post="{base}threads/new/"' in html
    assert 'id="refunds"' in html


def test_order_id_without_incident_leads_to_the_order_page(agent_client, synced) -> None:
    order, _thread = order_without_incident_thread()
    url = reverse("incidents:by_order", args=[order.connection.code, order.mirakl_id])
    response = agent_client.get(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("desk:order", args=[order.pk])


def test_reply_from_the_order_page(
    agent_client, agent, synced, sandbox, django_capture_on_commit_callbacks
) -> None:
    order, thread = order_without_incident_thread()
    url = reverse("messaging:order_reply", args=[order.pk, thread.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(url, reply_data(thread), HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="thread-{thread.pk}"' in html
    assert 'id="history" hx-swap-oob="true"' in html and "Reply queued" in html
    outbound = OutboundMessage.objects.get()
    assert outbound.state == OutboundMessage.State.SENT
    assert outbound.created_by == agent and outbound.incident is None
    assert sandbox_bodies(sandbox, thread).count(BODY) == 1
    # Recorded on the order: its page's history shows it.
    entry = AuditEntry.objects.get(action=AuditEntry.Action.REPLY)
    assert entry.order == order and entry.incident is None
    page = agent_client.get(reverse("desk:order", args=[order.pk])).content.decode()
    assert 'data-delivery="sent"' in page and "Reply queued" in page


def test_reply_without_htmx_goes_back_to_the_order_page(agent_client, synced) -> None:
    order, thread = order_without_incident_thread()
    url = reverse("messaging:order_reply", args=[order.pk, thread.pk])
    response = agent_client.post(url, reply_data(thread))
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.pk}/#thread-{thread.pk}"
    # A refused form answers with the whole order page, the text kept.
    refused = agent_client.post(url, reply_data(thread, body=""))
    assert refused.status_code == 200
    assert 'id="order-header"' in refused.content.decode()


def test_no_reply_required_from_the_order_page(agent_client, synced) -> None:
    order, thread = order_without_incident_thread()
    if thread.last_sender_type == Party.SHOP:
        pytest.skip("the sandbox's first such thread was answered last")
    url = reverse("messaging:order_no_reply", args=[order.pk, thread.pk])
    response = agent_client.post(
        url, {f"thread-{thread.pk}-noreply-reason": "Gracias del cliente"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert thread.no_reply_marks.count() == 1


def test_new_conversation_from_the_order_page(
    agent_client, synced, sandbox, django_capture_on_commit_callbacks
) -> None:
    order, _thread = order_without_incident_thread()
    url = reverse("messaging:order_new_thread", args=[order.pk])
    data = {
        "new-recipient": "CUSTOMER",
        "new-body": "Hola, te adjuntamos la factura.",
        "new-idempotency_key": str(uuid.uuid4()),
        "new-reason": "21",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(url, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    outbound = OutboundMessage.objects.get()
    assert outbound.order == order and outbound.state == OutboundMessage.State.SENT


def test_refund_forms_from_the_order_page(agent_client, synced) -> None:
    order, _thread = order_without_incident_thread()
    response = agent_client.get(reverse("refunds:order_full", args=[order.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'action="/refunds/orders/{order.pk}/full/"' in html
    assert f'href="/orders/{order.pk}/#refunds"' in html
