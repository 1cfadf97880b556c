"""The outbox in the admin: read-only, with what the last check in Mirakl saw."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.outbox.kinds import OutboxKind
from tests.factories.core import OutboxEntryFactory
from tests.factories.messaging import OutboundMessageFactory

pytestmark = pytest.mark.django_db


def test_the_outbox_and_its_rows_are_shown_read_only(admin_client) -> None:
    checked = timezone.now() - timedelta(minutes=1)
    entry = OutboxEntryFactory(
        kind=OutboxKind.REFUND,
        group_key="order:1",
        in_doubt=True,
        attempts=2,
        last_error="OR28 HTTP 504: Gateway Timeout",
        evidence={
            "call": "OR11",
            "found": "",
            "seen": 3,
            "unit": "refunds",
            "since": (checked - timedelta(minutes=5)).isoformat(),
            "checked_at": checked.isoformat(),
        },
    )
    listing = admin_client.get(reverse("admin:core_outboxentry_changelist"))
    assert listing.status_code == 200 and "order:1" in listing.content.decode()
    page = admin_client.get(reverse("admin:core_outboxentry_change", args=[entry.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "no está entre los 3 reembolsos del pedido desde" in html  # Spanish first
    assert admin_client.get(reverse("admin:core_outboxentry_add")).status_code == 403


def test_an_outbound_message_shows_its_delivery(admin_client) -> None:
    outbound = OutboundMessageFactory(
        delivery=OutboxEntryFactory(attempts=4, last_error="M12 HTTP 500: boom")
    )
    for name in ("changelist", "change"):
        args = [outbound.pk] if name == "change" else []
        page = admin_client.get(reverse(f"admin:messaging_outboundmessage_{name}", args=args))
        assert page.status_code == 200
    assert "M12 HTTP 500: boom" in page.content.decode()
    assert admin_client.get(
        reverse("admin:incidents_resolutionrequest_changelist")
    ).status_code == (200)
