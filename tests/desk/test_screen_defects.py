"""What a Spanish support agent saw wrong on screen, one test per defect.

The layout defects (the refunds panel's "Línea" column, the SLA breakdown tables, a
phone's width) are checked in a real browser by ``tests/browser/test_walk.py``.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from core.mirakl_codes import RAW_CODES, mirakl_label, parties_in_words, party_name
from core.sync.health import ResourceHealth
from core.sync.models import SyncCursor
from incidents.audit import history_text
from incidents.models import Incident
from incidents.selectors import incident_detail
from messaging.selectors import thread_subject
from sla.kpis import INCIDENT_RATE_MIN_ORDERS, Period, kpis_compute
from sla.models import SlaItem
from sla.selectors import incident_due_annotate
from tests.factories.core import (
    MarketplaceConnectionFactory,
    MarketplaceReasonFactory,
    OrderFactory,
    OrderLineFactory,
    UserFactory,
)
from tests.factories.incidents import AuditEntryFactory, IncidentFactory
from tests.factories.messaging import ThreadFactory
from tests.factories.sla import SlaBreachFactory, SlaItemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def es_client(client, settings):
    """A superuser reading the desk in Spanish."""
    client.force_login(UserFactory(username="jefa", is_staff=True, is_superuser=True))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    return client


# --------------------------------------------------------------- Mirakl codes in words


def test_every_listed_code_has_a_spanish_label() -> None:
    with translation.override("es"):
        for code in RAW_CODES:
            label = mirakl_label(code)
            assert label and label != code and "_" not in label, code
    with translation.override("es"):
        assert mirakl_label("SHIPPED") == "Enviado"
        assert mirakl_label("INCIDENT_OPEN") == "Incidencia abierta"
        assert mirakl_label("RECEIVED") == "Recibido"
    assert mirakl_label("SOMETHING_NEW") == "Something new"  # a later code, readable


def test_history_speaks_of_parties_states_and_reasons_in_words() -> None:
    connection = MarketplaceConnectionFactory()
    MarketplaceReasonFactory(
        connection=connection,
        type="INCIDENT_CLOSE",
        code="INC_SOLVED_DELIVERED",
        label="Pedido entregado al cliente",
    )
    MarketplaceReasonFactory(
        connection=connection,
        type="ORDER_MESSAGING",
        code="22",
        label="Informar de un problema con el artículo recibido",
    )
    with translation.override("es"):
        assert history_text("Garantía → CUSTOMER, OPERATOR: Hola", connection.pk) == (
            "Garantía → Cliente, Operador: Hola"
        )
        assert history_text("RECEIVED", connection.pk) == "Recibido"
        assert history_text("INC_SOLVED_DELIVERED", connection.pk) == (
            "Pedido entregado al cliente"
        )
        assert history_text("22 → CUSTOMER: Buenas", connection.pk) == (
            "Informar de un problema con el artículo recibido → Cliente: Buenas"
        )
        assert history_text("OK", connection.pk) == "OK"  # a word, not a code
        assert parties_in_words("a → SHOP: b") == "a → Tienda: b"


def test_incident_page_shows_no_raw_code(es_client) -> None:
    order = OrderFactory(state="SHIPPED")
    line = OrderLineFactory(
        order=order,
        state="INCIDENT_OPEN",
        quantity=2,
        price=Decimal("40.00"),
        price_unit=None,
        total_price=Decimal("40.00"),
    )
    OrderLineFactory(order=order, state="RECEIVED", mirakl_id=f"{order.mirakl_id}-2")
    incident = IncidentFactory(line=line)
    AuditEntryFactory(
        incident=incident,
        action="reply",
        detail="Garantía del producto → CUSTOMER, OPERATOR: Hola",
    )
    html = es_client.get(reverse("desk:incident", args=[incident.pk])).content.decode()
    text = re.sub(r"<[^>]+>", " ", html)  # what is on screen, not the attributes
    for code in ("INCIDENT_OPEN", "RECEIVED", "SHIPPED", "CUSTOMER", "OPERATOR"):
        assert code not in text, code
    assert "Incidencia abierta" in html and "Recibido" in html and "Enviado" in html
    assert "Cliente, Operador" in html
    # "Precio" is the unit price: 40 € for two units is 20 € each.
    assert "Precio unitario" in html
    assert "20,00\u00a0€" in html


def test_unit_price_from_mirakl_or_the_line() -> None:
    line = OrderLineFactory(quantity=3, price=Decimal("30.00"), price_unit=Decimal("9.99"))
    assert line.unit_price == Decimal("9.99")
    line.price_unit = None
    assert line.unit_price == Decimal("10.00")


def test_operator_named_operator_is_not_repeated() -> None:
    assert party_name("Operator") == ""
    assert party_name("operador") == ""
    assert party_name("Silicio Sur") == "Silicio Sur"


def test_a_conversation_on_a_reason_code_reads_the_reasons_label() -> None:
    connection = MarketplaceConnectionFactory()
    MarketplaceReasonFactory(
        connection=connection,
        type="ORDER_MESSAGING",
        code="22",
        label="Informar de un problema con el artículo recibido",
        is_shop_right=False,  # a customer's reason: still named
    )
    subject = thread_subject(
        connection_id=connection.pk, topic_type="REASON_CODE", topic_value="22"
    )
    assert subject == "Informar de un problema con el artículo recibido"
    assert (
        thread_subject(connection_id=connection.pk, topic_type="FREE_TEXT", topic_value="22")
        == "22"
    )
    assert (
        thread_subject(connection_id=connection.pk, topic_type="REASON_CODE", topic_value="99")
        == "99"
    )


def test_admin_sync_column_is_translated(es_client) -> None:
    connection = MarketplaceConnectionFactory()
    SyncCursor.objects.create(connection=connection, resource="orders")
    url = reverse("admin:core_marketplaceconnection_change", args=[connection.pk])
    html = es_client.get(url).content.decode()
    assert "run started at" not in html.lower()
    assert "inicio de la sincronización en curso" in html.lower()


def test_admin_orders_show_states_in_words(es_client) -> None:
    OrderFactory(state="WAITING_DEBIT_PAYMENT")
    html = es_client.get(reverse("admin:core_order_changelist")).content.decode()
    assert "WAITING_DEBIT_PAYMENT<" not in html and ">WAITING_DEBIT_PAYMENT" not in html
    assert "Pendiente de pago" in html


# --------------------------------------------------------------- deadlines


def test_closed_incident_has_no_deadline_badge(es_client) -> None:
    item = SlaItemFactory(
        started_at=timezone.now() - timedelta(days=5), state=SlaItem.State.BREACHED
    )
    incident = item.incident
    Incident.objects.filter(pk=incident.pk).update(
        state=Incident.State.CLOSED, closed_at=timezone.now()
    )
    annotated = incident_due_annotate(Incident.objects.filter(pk=incident.pk)).get()
    assert annotated.sla_due_at is None
    assert incident_detail(pk=incident.pk).sla_due_at is None
    html = es_client.get(reverse("desk:incident", args=[incident.pk])).content.decode()
    assert "vencido hace" not in html


def test_incident_header_shows_the_soonest_deadline_of_the_page() -> None:
    now = timezone.now()
    item = SlaItemFactory(started_at=now - timedelta(hours=1))  # due in 47 h
    incident = item.incident
    thread = ThreadFactory(order=incident.order, connection=incident.connection)
    sooner = SlaItemFactory(
        for_thread=True,
        thread=thread,
        connection=incident.connection,
        started_at=now - timedelta(hours=40),  # due in 8 h
    )
    assert incident_detail(pk=incident.pk).sla_due_at == sooner.due_at


# --------------------------------------------------------------- the SLA review page


def test_breaches_name_the_order_of_a_conversation(es_client) -> None:
    order = OrderFactory(mirakl_id="59100001-A")
    thread = ThreadFactory(
        order=order, connection=order.connection, topic_type="REASON_CODE", topic_value="20"
    )
    SlaBreachFactory(
        item=SlaItemFactory(
            for_thread=True,
            thread=thread,
            connection=order.connection,
            started_at=timezone.now() - timedelta(hours=60),
            state=SlaItem.State.BREACHED,
        )
    )
    response = es_client.get(reverse("sla:review"))
    cells = [line for line in response.content.decode().splitlines() if "data-order" in line]
    assert any("59100001-A" in cell for cell in cells), cells
    assert not any(">20<" in cell for cell in cells)


def test_incident_rate_chart_needs_enough_orders() -> None:
    connection = MarketplaceConnectionFactory()
    today = timezone.localdate()
    day = today - timedelta(days=1)
    noon = timezone.make_aware(timezone.datetime.combine(day, timezone.datetime.min.time()))
    noon += timedelta(hours=12)
    orders = [OrderFactory(connection=connection, created_date=noon) for _ in range(2)]
    line = OrderLineFactory(order=orders[0])
    IncidentFactory(line=line, opened_at=noon)
    period = Period(first=day, last=today)

    (kpis,) = kpis_compute(period=period, connections=[connection])
    first = kpis.daily[0]
    assert first["incident_rate_pct"] == Decimal("50.0")  # one day: 1 of 2 orders
    assert first["incident_rate_7d_pct"] is None  # too few orders for a rate

    for _ in range(INCIDENT_RATE_MIN_ORDERS):
        OrderFactory(connection=connection, created_date=noon - timedelta(days=3))
    (kpis,) = kpis_compute(period=period, connections=[connection])
    rate = kpis.daily[0]["incident_rate_7d_pct"]
    assert rate is not None and rate < Decimal("10")


# --------------------------------------------------------------- freshness, icons, logs


def test_reasons_say_when_they_were_read_not_how_old() -> None:
    read = timezone.now() - timedelta(minutes=12)
    health = ResourceHealth(
        resource="reasons",
        state="ok",
        last_success_at=read,
        age=timedelta(minutes=12),
        last_error_at=None,
        error_kind="",
        skipped=0,
    )
    with translation.override("es"):
        assert health.data_age.startswith("lista leída a las ")
        assert "hace 12" not in health.data_age


def test_bell_is_an_icon_not_a_font_glyph(es_client) -> None:
    html = es_client.get(reverse("desk:overview")).content.decode()
    assert "&#128276;" not in html and "\U0001f514" not in html
    assert "data-bell-icon" in html
    bell = es_client.get(reverse("notifications:bell")).content.decode()
    assert "data-bell-icon" in bell


def test_favicon_is_served(client) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith(".svg")
    login = client.get(reverse("login")).content.decode()
    assert 'rel="icon"' in login


def test_forbidden_is_logged_in_one_line(client, caplog) -> None:
    client.force_login(UserFactory(username="sinrol"))
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get(reverse("sla:review")).status_code == 403
    records = [r for r in caplog.records if r.name == "django.request"]
    assert records, "the 403 is still logged"
    assert all(r.exc_info is None and not r.exc_text for r in records)
    assert "Traceback" not in caplog.text


def test_login_page_switches_language(client, settings) -> None:
    login = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert 'action="/i18n/setlang/"' in login
    response = client.post(
        "/i18n/setlang/", {"language": "en", "next": "/accounts/login/"}, follow=False
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert "Log in" in client.get(reverse("login")).content.decode()


def test_attachment_help_follows_the_language() -> None:
    from messaging.forms import NewThreadForm, ReplyForm

    for form_class in (ReplyForm, NewThreadForm):
        field = form_class.base_fields.get("attachments")
        if field is None:
            continue
        with translation.override("es"):
            assert str(field.help_text).startswith("Hasta ")
        with translation.override("en"):
            assert str(field.help_text).startswith("Up to ")
