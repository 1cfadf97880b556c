"""The guides' rules on the delivery date: Madrid days, the 30-day warranty rule, the
5-day transport window, and how the incident page shows them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from core.models import OrderLine
from incidents.panels import shipping_context
from incidents.quality import (
    WARRANTY_CANNED_AFTER,
    WARRANTY_CANNED_WITHIN,
    ReasonKind,
    days_since,
    delivered_at,
    quality_advice,
    reason_kind,
    transport_window,
    warranty_rule,
)
from messaging.models import CannedReply
from tests.factories.core import OrderFactory, OrderLineFactory
from tests.factories.incidents import IncidentFactory


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("Garantía", ReasonKind.WARRANTY),
        ("Warranty claim", ReasonKind.WARRANTY),
        ("Desistimiento / devolución", ReasonKind.WITHDRAWAL),
        ("Artículo dañado en el transporte", ReasonKind.TRANSPORT),
        ("Artículo no recibido", ReasonKind.TRANSPORT),
        ("Item not received", ReasonKind.TRANSPORT),
        ("Artículo defectuoso", None),
        ("", None),
    ],
)
def test_reason_kind(label: str, kind: ReasonKind | None) -> None:
    assert reason_kind(label) is kind


@pytest.mark.parametrize(
    ("moment", "now", "days"),
    [
        # Madrid calendar days, not 24-hour periods: 23:30 on the 1st is one day on the 2nd.
        ("2026-12-01T22:30:00+00:00", "2026-12-01T23:10:00+00:00", 1),
        ("2026-12-01T10:00:00+01:00", "2026-12-01T23:59:00+01:00", 0),
        ("2026-12-01T10:00:00+01:00", "2026-12-31T09:00:00+01:00", 30),
        # Across the switch to summer time (29 March 2026).
        ("2026-03-28T23:30:00+01:00", "2026-03-30T00:30:00+02:00", 2),
    ],
)
def test_days_since_counts_madrid_days(moment: str, now: str, days: int) -> None:
    assert days_since(at(moment), at(now)) == days


def test_delivered_at_prefers_the_incident_line_then_the_last_line() -> None:
    first = OrderLine(pk=1, received_date=at("2026-11-02T10:00:00+01:00"))
    second = OrderLine(pk=2, received_date=at("2026-11-05T10:00:00+01:00"))
    none = OrderLine(pk=3, received_date=None)
    assert delivered_at([first, second], line_id=1) == first.received_date
    assert delivered_at([first, second], line_id=3) == second.received_date
    assert delivered_at([first, second, none]) == second.received_date
    assert delivered_at([none]) is None


@pytest.mark.parametrize(
    ("now", "shop_handles", "canned"),
    [
        ("2026-11-01T12:00:00+01:00", True, WARRANTY_CANNED_WITHIN),
        ("2026-11-30T23:59:00+01:00", True, WARRANTY_CANNED_WITHIN),  # day 30: still the shop
        ("2026-12-01T00:00:00+01:00", False, WARRANTY_CANNED_AFTER),  # day 31
        ("2027-03-01T09:00:00+01:00", False, WARRANTY_CANNED_AFTER),
    ],
)
def test_warranty_thirty_day_rule(now: str, shop_handles: bool, canned: str) -> None:
    rule = warranty_rule(at("2026-10-31T18:00:00+01:00"), at(now))
    assert rule.shop_handles is shop_handles
    assert rule.canned_title == canned
    assert rule.last_day == date(2026, 11, 30)


def test_transport_window_is_five_days_from_delivery() -> None:
    delivered = at("2026-12-01T23:30:00+01:00")  # late on Tuesday 1st, Madrid
    window = transport_window(
        delivered, at("2026-12-04T10:00:00+01:00"), opened_at=at("2026-12-06T22:00:00+01:00")
    )
    assert window.delivered_on == date(2026, 12, 1)
    assert window.last_day == date(2026, 12, 6)
    assert window.claimed_within is True
    assert window.open_now is True
    late = transport_window(
        delivered, at("2026-12-10T10:00:00+01:00"), opened_at=at("2026-12-07T00:10:00+01:00")
    )
    assert late.claimed_within is False
    assert late.open_now is False


def test_quality_advice_applies_only_the_reasons_rule() -> None:
    line = OrderLine(pk=7, received_date=at("2026-11-01T10:00:00+01:00"))
    now = at("2026-12-06T10:00:00+01:00")
    warranty = quality_advice(
        reason_label="Garantía", lines=[line], line_id=7, opened_at=now, now=now
    )
    assert warranty.days_since_delivery == 35
    assert warranty.warranty is not None and not warranty.warranty.shop_handles
    assert warranty.transport is None
    other = quality_advice(
        reason_label="Artículo defectuoso", lines=[line], line_id=7, opened_at=now, now=now
    )
    assert (other.kind, other.warranty, other.transport) == (None, None, None)
    assert other.days_since_delivery == 35


def test_both_warranty_canned_replies_are_seeded(db) -> None:
    titles = set(CannedReply.objects.values_list("title", flat=True))
    assert {WARRANTY_CANNED_WITHIN, WARRANTY_CANNED_AFTER} <= titles


def test_shipping_context_dates_and_lateness(db) -> None:
    order = OrderFactory(state="SHIPPED", shipping_deadline=at("2026-12-02T18:00:00+01:00"))
    lines = [
        OrderLineFactory(
            order=order,
            shipped_date=at("2026-12-03T09:00:00+01:00"),
            received_date=at("2026-12-04T12:00:00+01:00"),
        )
    ]
    shipping = shipping_context(order=order, lines=lines, now=at("2026-12-06T10:00:00+01:00"))[
        "shipping"
    ]
    assert shipping["shipped_at"] == at("2026-12-03T09:00:00+01:00")
    assert shipping["delivered_at"] == at("2026-12-04T12:00:00+01:00")
    assert shipping["days_since_delivery"] == 2
    assert shipping["late"] is True
    waiting = OrderFactory(state="SHIPPING", shipping_deadline=at("2026-12-08T18:00:00+01:00"))
    pending = shipping_context(order=waiting, lines=[], now=at("2026-12-06T10:00:00+01:00"))
    assert pending["shipping"]["late"] is False
    assert pending["shipping"]["shipped_at"] is None


@pytest.fixture
def warranty_incident(db):
    order = OrderFactory(
        state="RECEIVED",
        shipping_deadline=at("2026-10-20T18:00:00+02:00"),
    )
    line = OrderLineFactory(
        order=order,
        state="INCIDENT_OPEN",
        shipped_date=at("2026-10-19T09:15:00+02:00"),
        received_date=at("2026-10-21T13:40:00+02:00"),
        price=Decimal("99.90"),
    )
    return IncidentFactory(line=line, reason_code="6", reason_label="Garantía")


def test_incident_page_shows_dates_and_the_warranty_rule_in_madrid_time(
    client, warranty_incident
) -> None:
    from tests.factories.core import UserFactory

    client.force_login(UserFactory(role="agent"))
    with translation.override("es"):
        page = client.get(
            reverse("desk:incident", args=[warranty_incident.pk]), HTTP_ACCEPT_LANGUAGE="es"
        ).content.decode()
    # 13:40 in Madrid (summer time), 11:40 UTC.
    assert "21/10/2026 13:40" in page
    assert "19/10/2026 09:15" in page
    assert "20/10/2026 18:00" in page
    assert 'data-rule="warranty"' in page
    assert 'data-shop-handles="no"' in page
    assert WARRANTY_CANNED_AFTER in page


def test_incident_page_warranty_within_thirty_days(client, warranty_incident) -> None:
    from django.utils import timezone

    from tests.factories.core import UserFactory

    line = warranty_incident.line
    line.received_date = timezone.now() - timedelta(days=3)
    line.save(update_fields=["received_date"])
    client.force_login(UserFactory(role="agent"))
    page = client.get(reverse("desk:incident", args=[warranty_incident.pk])).content.decode()
    assert 'data-shop-handles="yes"' in page
    assert WARRANTY_CANNED_WITHIN in page
