"""Alerts, notifications and breach rows about a conversation without incident: the order
number and the reason's label (never a raw code), and a link to the order's page."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from sla.alerts import alert_message, alert_url, alerts_dispatch
from sla.models import Notification, SlaItem
from tests.factories.core import MarketplaceReasonFactory, OrderFactory, UserFactory
from tests.factories.messaging import ThreadFactory
from tests.factories.sla import SlaBreachFactory, SlaItemFactory

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)


@pytest.fixture(autouse=True)
def _english(settings) -> None:
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def item(mediamarkt):
    MarketplaceReasonFactory(
        connection=mediamarkt, type="ORDER_MESSAGING", code="987", label="Seguimiento del envío"
    )
    order = OrderFactory(connection=mediamarkt, mirakl_id="8100-Z")
    thread = ThreadFactory(
        connection=mediamarkt, order=order, topic_type="REASON_CODE", topic_value="987"
    )
    due = timezone.now() - 2 * H
    return SlaItemFactory(
        incident=None,
        thread=thread,
        kind=SlaItem.Kind.THREAD,
        audience=SlaItem.Audience.CUSTOMER,
        started_at=due - 48 * H,
        warn_at=due - 12 * H,
        due_at=due,
        state=SlaItem.State.BREACHED,
    )


def test_alert_names_the_order_and_the_reason_and_links_to_the_conversation(item) -> None:
    message = alert_message(item, SlaItem.State.BREACHED)
    assert "message “Seguimiento del envío” on order 8100-Z on MediaMarkt" in message
    # The reason code never shows (a code no date or time can contain).
    assert "987" not in message
    assert alert_url(item).endswith(f"/orders/{item.thread.order_id}/#thread-{item.thread_id}")


def test_notification_links_to_the_conversation(client, item) -> None:
    user = UserFactory(username="marta", role="account_manager")
    alerts_dispatch(changes=[(item.pk, SlaItem.State.BREACHED)])
    assert Notification.objects.filter(user=user).exists()

    client.force_login(user)
    html = client.get(reverse("notifications:list")).content.decode()
    assert f'href="/orders/{item.thread.order_id}/#thread-{item.thread_id}"' in html
    assert "8100-Z" in html and "Seguimiento del envío" in html


def test_breach_row_and_csv(client, item) -> None:
    SlaBreachFactory(item=item)
    client.force_login(UserFactory(username="marta", role="account_manager"))

    html = client.get(reverse("sla:review")).content.decode()
    assert "<td data-order>8100-Z</td>" in html
    assert "<td data-reason>Seguimiento del envío</td>" in html
    assert f'href="/orders/{item.thread.order_id}/#thread-{item.thread_id}"' in html

    response = client.get(reverse("sla:breaches_csv"))
    header, row = list(csv.reader(io.StringIO(response.content.decode())))
    assert row[header.index("order")] == "8100-Z"
    assert row[header.index("reason")] == "Seguimiento del envío"
    assert row[header.index("url")].endswith(
        f"/orders/{item.thread.order_id}/#thread-{item.thread_id}"
    )
