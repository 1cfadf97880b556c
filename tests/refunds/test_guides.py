"""What the refund forms propose and warn from the guides: amounts and taxes from the
quantity, and a withdrawal's initial shipping."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from refunds.guides import (
    line_tax_rates,
    refund_line_proposal,
    withdrawal_shipping_left_out,
)
from refunds.rules import RefundLineInput, refund_remainders
from tests.factories.core import OrderFactory, OrderLineFactory, UserFactory
from tests.factories.incidents import IncidentFactory


@pytest.fixture
def order(db):
    """Three units at 24,20 € with IVA 21 % included (4,20 € each), 5,00 € shipping."""
    order = OrderFactory(state="RECEIVED")
    OrderLineFactory(
        order=order,
        mirakl_id="L1",
        state="INCIDENT_OPEN",
        quantity=3,
        price_unit=Decimal("24.20"),
        price=Decimal("72.60"),
        shipping_price=Decimal("5.00"),
        total_price=Decimal("77.60"),
        taxes=[{"code": "IVA21", "amount": "12.60"}],
        shipping_taxes=[{"code": "IVA21", "amount": "0.87"}],
        can_refund=True,
    )
    return order


def test_tax_rate_is_the_share_of_the_price(order) -> None:
    assert line_tax_rates(order.lines.get()) == {"IVA21": Decimal("12.60") / Decimal("72.60")}


@pytest.mark.parametrize(
    ("quantity", "amount", "tax"),
    [
        (0, "0.00", None),
        (1, "24.20", "4.20"),
        (2, "48.40", "8.40"),
        (3, "72.60", "12.60"),  # all that is left: everything left, no rounding residue
        (9, "72.60", "12.60"),  # never more than is left
    ],
)
def test_proposal_from_quantity_unit_price_and_rate(order, quantity, amount, tax) -> None:
    remainder = next(iter(refund_remainders(order=order).values()))
    proposal = refund_line_proposal(remainder, quantity)
    assert proposal.amount == Decimal(amount)
    assert proposal.taxes.get("IVA21") == (Decimal(tax) if tax else None)
    assert proposal.shipping_amount == Decimal("0.00")


def test_withdrawal_refund_without_shipping_warns(order) -> None:
    remainders = refund_remainders(order=order)
    pk = order.lines.get().pk
    product_only = [RefundLineInput(line_id=pk, quantity=1, amount=Decimal("24.20"))]
    with_shipping = [
        RefundLineInput(
            line_id=pk, quantity=1, amount=Decimal("24.20"), shipping_amount=Decimal("5.00")
        )
    ]
    withdrawal = "Desistimiento / devolución"
    assert withdrawal_shipping_left_out(
        reason_label=withdrawal, lines=product_only, remainders=remainders
    )
    assert not withdrawal_shipping_left_out(
        reason_label=withdrawal, lines=with_shipping, remainders=remainders
    )
    assert not withdrawal_shipping_left_out(
        reason_label="Artículo defectuoso", lines=product_only, remainders=remainders
    )


def _agent_client(client):
    client.force_login(UserFactory(role="agent"))
    return client


def test_partial_form_proposes_amounts_for_the_quantity(client, order) -> None:
    incident = IncidentFactory(line=order.lines.get(), reason_label="Artículo defectuoso")
    pk = incident.line.pk
    key = str(uuid.uuid4())
    response = _agent_client(client).post(
        reverse("refunds:partial", args=[incident.pk]),
        {"propose": str(pk), f"l{pk}-quantity": "2", "idempotency_key": key},
        HTTP_HX_REQUEST="true",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert re.search(rf'name="l{pk}-amount" value="48[.,]40"', page)
    assert re.search(rf'name="l{pk}-tax-0" value="8[.,]40"', page)
    assert f'value="{key}"' in page
    assert "errorlist" not in page  # a proposal is not a review: nothing is refused yet


def test_partial_summary_of_a_withdrawal_without_shipping_warns(client, order) -> None:
    from tests.factories.core import MarketplaceReasonFactory

    MarketplaceReasonFactory(connection=order.connection, type="REFUND", code="17")
    incident = IncidentFactory(line=order.lines.get(), reason_label="Desistimiento / devolución")
    pk = incident.line.pk
    data = {
        "reason_code": "17",
        "idempotency_key": str(uuid.uuid4()),
        f"l{pk}-quantity": "1",
        f"l{pk}-amount": "24.20",
        f"l{pk}-tax-0": "4.20",
    }
    url = reverse("refunds:partial", args=[incident.pk])
    client = _agent_client(client)
    page = client.post(url, data, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "data-withdrawal-shipping" in page
    assert "los gastos de envío iniciales hay que devolverlos siempre" in page
    data.update({f"l{pk}-shipping_amount": "5.00", f"l{pk}-shipping_tax-0": "0.87"})
    page = client.post(url, data, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "data-summary" in page
    assert "data-withdrawal-shipping" not in page
