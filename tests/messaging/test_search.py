"""The orders' search documents: every word of every message, in an order fixed by Mirakl."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from core.models import Order
from messaging.models import OrderSearchDocument
from messaging.search import order_search, order_search_documents_refresh
from tests.factories.core import MarketplaceConnectionFactory, OrderFactory, OrderLineFactory
from tests.factories.incidents import IncidentFactory
from tests.factories.messaging import MessageFactory, ThreadFactory
from tests.messaging import fixtures

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="Postgres full text"),
]

agent = fixtures.agent
agent_client = fixtures.agent_client

FIRST = "El teclado llegó roto"
MIDDLE = "¿Me lo cambian?"
SECOND = "Quiero devolverlo mañana"
SECOND_THREAD = "tercero del segundo hilo"


def _order_with_messages(connection_, mirakl_id: str, bodies: list[tuple[str, str, str]]) -> Order:
    """An order with one thread per distinct thread id; ``bodies`` as (thread, message, text),
    inserted in the order given."""
    order = OrderFactory(connection=connection_, mirakl_id=mirakl_id)
    threads = {}
    start = timezone.now() - timedelta(days=1)
    for thread_id, message_id, text in bodies:
        if thread_id not in threads:
            threads[thread_id] = ThreadFactory(
                connection=connection_, order=order, mirakl_id=f"{mirakl_id}-{thread_id}"
            )
        minutes = int(message_id)
        MessageFactory(
            thread=threads[thread_id],
            mirakl_id=message_id,
            body=text,
            date_created=start + timedelta(minutes=minutes),
        )
    return order


def _matches(value: str) -> set[int]:
    return set(order_search(value).values_list("pk", flat=True))


def _document(order: Order) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT document::text FROM messaging_ordersearchdocument WHERE order_id = %s",
            [order.pk],
        )
        return cursor.fetchone()[0]


def test_the_last_word_of_a_message_is_found_and_a_word_no_message_has_is_not(
    agent_client,
) -> None:
    marketplace = MarketplaceConnectionFactory(code="pcc")
    order = _order_with_messages(
        marketplace, "70000001-A", [("t", "1", FIRST), ("t", "2", MIDDLE), ("t", "3", SECOND)]
    )
    line = OrderLineFactory(order=order, state="INCIDENT_OPEN")
    incident = IncidentFactory(line=line)
    other = _order_with_messages(marketplace, "70000002-A", [("t", "1", "Gracias, todo bien")])

    assert order_search_documents_refresh(order_ids=[order.pk, other.pk]) == 2

    assert _matches("roto") == {order.pk}  # the last word of the first message
    assert _matches("mañana") == {order.pk}  # the last word of the order's last message
    assert _matches("bien") == {other.pk}
    # "value" was a word of most documents while the delimiter was Value('\n').
    assert _matches("value") == set()
    assert _matches("pantalla") == set()
    # The queue's search box reads the same documents (its rows: the sweep's).
    from sla.queue import queue_entries_refresh

    queue_entries_refresh()
    page = agent_client.get(reverse("desk:inbox"), {"q": "roto"}).content.decode()
    assert f'data-incident="{incident.pk}"' in page
    page = agent_client.get(reverse("desk:inbox"), {"q": "value"}).content.decode()
    assert f'data-incident="{incident.pk}"' not in page


def test_a_document_does_not_depend_on_the_order_rows_were_written_in() -> None:
    marketplace = MarketplaceConnectionFactory(code="pcc")
    messages = [
        ("b", "3", SECOND_THREAD),
        ("a", "2", "segundo del primer hilo"),
        ("a", "1", "primero del primer hilo"),
    ]
    forwards = _order_with_messages(marketplace, "X-1", messages)
    backwards = _order_with_messages(marketplace, "X-2", list(reversed(messages)))

    order_search_documents_refresh(order_ids=[forwards.pk, backwards.pk])

    assert _document(forwards) == _document(backwards)
    with connection.cursor() as cursor:
        # Thread id, then date: "primero ... segundo ... tercero", one word apart each.
        cursor.execute(
            "SELECT to_tsvector('spanish', %s)::text",
            ["\n".join(["primero del primer hilo", "segundo del primer hilo", SECOND_THREAD])],
        )
        assert _document(forwards) == cursor.fetchone()[0]


def test_documents_are_written_when_they_change_and_go_with_the_messages() -> None:
    marketplace = MarketplaceConnectionFactory(code="pcc")
    order = _order_with_messages(marketplace, "Y-1", [("t", "1", FIRST)])
    assert order_search_documents_refresh(order_ids=[order.pk]) == 1
    assert order_search_documents_refresh(order_ids=[order.pk]) == 0

    MessageFactory(thread=order.threads.get(), mirakl_id="2", body=SECOND)
    assert order_search_documents_refresh(order_ids=[order.pk]) == 1
    assert _matches("mañana") == {order.pk}

    order.threads.all().delete()
    assert order_search_documents_refresh(order_ids=[order.pk]) == 1
    assert not OrderSearchDocument.objects.filter(order=order).exists()
    assert _matches("roto") == set()


def test_the_catch_up_job_rebuilds_the_orders_whose_threads_were_synced_since() -> None:
    from messaging.models import Thread
    from messaging.tasks import order_search_documents_task

    shop = MarketplaceConnectionFactory()
    older = _order_with_messages(shop, "OLD-1", [("a", "1", FIRST)])
    newer = _order_with_messages(shop, "NEW-1", [("a", "2", SECOND)])
    elsewhere = _order_with_messages(MarketplaceConnectionFactory(), "NEW-2", [("a", "3", FIRST)])
    since = timezone.now()
    Thread.objects.filter(order=older).update(synced_at=since - timedelta(minutes=5))
    Thread.objects.exclude(order=older).update(synced_at=since + timedelta(seconds=1))

    assert order_search_documents_task.apply(args=(shop.pk, since.isoformat())).get() == 1
    assert set(OrderSearchDocument.objects.values_list("order_id", flat=True)) == {newer.pk}
    assert _matches("devolverlo") == {newer.pk}
    assert order_search_documents_task.apply(args=(shop.pk, since.isoformat())).get() == 0
    # Without a start: every order of the connection with threads (not another's).
    assert order_search_documents_task.apply(args=(shop.pk, None)).get() == 1
    assert elsewhere.pk not in set(OrderSearchDocument.objects.values_list("order_id", flat=True))
    assert _matches("teclado") == {older.pk}
