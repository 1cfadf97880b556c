"""Fixtures of the refund tests: an order built by factories, and the synced sandbox shop."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from core.models import Order
from incidents.models import Incident
from tests.api.conftest import make_user  # noqa: F401
from tests.factories.core import (
    MarketplaceConnectionFactory,
    MarketplaceReasonFactory,
    OrderFactory,
    OrderLineFactory,
    UserFactory,
)
from tests.factories.incidents import IncidentFactory
from tests.messaging.fixtures import agent, synced  # noqa: F401

REASON = "17"


@pytest.fixture
def shop(db) -> dict[str, Any]:
    """A marketplace with refund reasons and an order of two refundable lines with IVA."""
    connection = MarketplaceConnectionFactory(code="pcc-factory", name="PcComponentes")
    MarketplaceReasonFactory(
        connection=connection, type="REFUND", code=REASON, label="Artículo devuelto"
    )
    MarketplaceReasonFactory(
        connection=connection, type="REFUND", code="15", label="Sin stock", is_shop_right=None
    )
    MarketplaceReasonFactory(
        connection=connection, type="REFUND", code="99", label="Operador", is_shop_right=False
    )
    MarketplaceReasonFactory(connection=connection, type="INCIDENT_OPEN", code="3")
    order = OrderFactory(connection=connection, mirakl_id="59400001-A", state="SHIPPED")
    line1 = OrderLineFactory(
        order=order,
        mirakl_id="59400001-A-1",
        index=1,
        state="INCIDENT_OPEN",
        quantity=2,
        price=Decimal("100.00"),
        shipping_price=Decimal("6.05"),
        taxes=[{"code": "IVA21", "amount": "17.36"}],
        shipping_taxes=[{"code": "IVA21", "amount": "1.05"}],
        can_refund=True,
    )
    line2 = OrderLineFactory(
        order=order,
        mirakl_id="59400001-A-2",
        index=2,
        state="RECEIVED",
        quantity=1,
        price=Decimal("20.00"),
        shipping_price=Decimal("0.00"),
        taxes=[{"code": "IVA21", "amount": "3.47"}],
        shipping_taxes=[],
        can_refund=True,
    )
    incident = IncidentFactory(line=line1)
    return {
        "connection": connection,
        "order": order,
        "line1": line1,
        "line2": line2,
        "incident": incident,
    }


@pytest.fixture
def approver(db):
    """A second agent whose own limit is high enough to approve large refunds."""
    from tests.factories.refunds import RefundLimitFactory

    user = UserFactory(username="jefa", first_name="Ana", last_name="Jefa", role="agent")
    RefundLimitFactory(user=user, limit=Decimal("5000.00"))
    return user


def open_incident_order(*, lines: int | None = None) -> Order:
    """A synced sandbox order with an open incident whose every line may be refunded."""
    for incident in (
        Incident.objects.filter(closed_at__isnull=True)
        .select_related("order")
        .order_by("order__mirakl_id")
    ):
        order = incident.order
        order_lines = list(order.lines.all())
        if lines is not None and len(order_lines) != lines:
            continue
        if order.state in ("CLOSED", "CANCELED", "REFUSED"):
            continue
        if all(
            line.can_refund and line.state in ("INCIDENT_OPEN", "RECEIVED", "SHIPPED", "SHIPPING")
            for line in order_lines
        ) and not any(line.refunds.exists() for line in order_lines):
            return order
    raise AssertionError("the sandbox has no order with an open incident to refund")


@pytest.fixture(autouse=True)
def _english():
    """Messages are compared with their English source strings."""
    from django.utils import translation

    with translation.override("en"):
        yield
