"""The order's history: Mirakl's dates, incidents and refunds merged with our audit log,
newest first, in Madrid time, each incident told once."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from desk.pages.order_history import order_history
from incidents.models import AuditEntry, Incident
from tests.factories.core import OrderFactory, OrderLineFactory, UserFactory
from tests.factories.incidents import AuditEntryFactory, IncidentFactory
from tests.factories.refunds import RefundFactory


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def order(db):
    order = OrderFactory(
        state="RECEIVED",
        created_date=at("2026-11-02T09:00:00+01:00"),
        acceptance_decision_date=at("2026-11-02T09:30:00+01:00"),
    )
    first = OrderLineFactory(
        order=order,
        mirakl_id="A-1",
        product_title="Teclado",
        shipped_date=at("2026-11-03T10:00:00+01:00"),
        received_date=at("2026-11-05T12:00:00+01:00"),
    )
    OrderLineFactory(
        order=order,
        mirakl_id="A-2",
        index=2,
        product_title="Ratón",
        shipped_date=at("2026-11-03T10:00:00+01:00"),
        received_date=at("2026-11-06T12:00:00+01:00"),
    )
    # An incident the sync saw open and close before the audit log began…
    IncidentFactory(
        line=first,
        reason_label="Artículo defectuoso",
        opened_at=at("2026-11-07T08:00:00+01:00"),
        closed_at=at("2026-11-12T08:00:00+01:00"),
        state=Incident.State.CLOSED,
    )
    # …and one the audit log tells.
    told = IncidentFactory(
        line=first, episode=2, reason_label="Garantía", opened_at=at("2026-11-20T08:00:00+01:00")
    )
    AuditEntryFactory(incident=told, action=AuditEntry.Action.INCIDENT_REOPENED, at=told.opened_at)
    AuditEntryFactory(
        incident=told,
        action=AuditEntry.Action.REPLY,
        source=AuditEntry.Source.USER,
        actor=UserFactory(first_name="Marta", last_name="Ruiz"),
        to_state="",
        detail="Hola Lucía…",
        at=at("2026-11-20T09:15:00+01:00"),
    )
    RefundFactory(
        line=first,
        amount=Decimal("20.00"),
        shipping_amount=Decimal("4.95"),
        state="REFUNDED",
        created_date=at("2026-11-10T11:00:00+01:00"),
    )
    return order


def test_history_merges_mirakls_dates_and_our_audit_newest_first(order) -> None:
    with translation.override("en"):
        events = order_history(order=order, lines=list(order.lines.all()))
    labels = [(e.at.isoformat(), e.kind, e.label) for e in events]
    assert [at for at, _, _ in labels] == sorted((at for at, _, _ in labels), reverse=True)
    kinds = [(kind, label) for _, kind, label in labels]
    assert kinds == [
        ("audit", "Reply queued"),
        ("audit", "Incident reopened"),  # told by the audit log: not twice
        ("incident", "Incident closed"),
        ("refund", "Refund of 24.95\u00a0€"),
        ("incident", "Incident opened"),
        ("order", "Delivered"),
        ("order", "Delivered"),
        ("order", "Shipped"),  # both lines the same day: once, naming both
        ("order", "Order accepted"),
        ("order", "Order placed"),
    ]
    shipped = next(e for e in events if e.label == "Shipped")
    assert shipped.detail == "Teclado, Ratón"
    reply = events[0]
    assert (reply.actor, reply.source) == ("Marta Ruiz", "User")


def test_history_in_spanish_and_madrid_time(client, order) -> None:
    client.force_login(UserFactory(role="agent"))
    client.cookies["django_language"] = "es"
    page = client.get(
        reverse("desk:order_history", args=[order.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Pedido realizado" in page
    assert "02/11/2026 09:30" in page  # accepted, Madrid time
    assert "Reembolso de 24,95" in page
    assert "Entregado" in page


def test_history_page_needs_a_role_that_reads_incidents(client, order) -> None:
    client.force_login(UserFactory())
    assert client.get(reverse("desk:order_history", args=[order.pk])).status_code == 403
