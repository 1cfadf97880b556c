"""Query expressions the selectors share: ``in_ids`` and ``id_in``."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.expressions import id_in, in_ids
from core.models import Order
from messaging.models import Message
from tests.factories.core import MarketplaceConnectionFactory, OrderFactory
from tests.factories.messaging import MessageFactory, ThreadFactory

pytestmark = pytest.mark.django_db


def test_in_ids_finds_the_rows_an_in_list_finds_with_one_parameter() -> None:
    shop = MarketplaceConnectionFactory()
    orders = [OrderFactory(connection=shop) for _ in range(4)]
    wanted = {orders[0].pk, orders[2].pk, 10**12}  # an id nobody has

    with CaptureQueriesContext(connection) as queries:
        found = set(Order.objects.filter(in_ids(Order, "id", wanted)).values_list("pk", flat=True))
    assert found == {orders[0].pk, orders[2].pk}
    assert found == set(Order.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    if connection.vendor == "postgresql":
        assert "= ANY(" in queries[0]["sql"]
    assert not Order.objects.filter(in_ids(Order, "id", [])).exists()


def test_in_ids_follows_a_relation() -> None:
    shop = MarketplaceConnectionFactory()
    order, other = OrderFactory(connection=shop), OrderFactory(connection=shop)
    mine = MessageFactory(thread=ThreadFactory(connection=shop, order=order))
    MessageFactory(thread=ThreadFactory(connection=shop, order=other))

    rows = Message.objects.filter(in_ids(Message, "thread__order_id", {order.pk}))
    assert list(rows.values_list("pk", flat=True)) == [mine.pk]


def test_id_in_finds_the_rows_an_in_list_finds_with_one_parameter() -> None:
    shop = MarketplaceConnectionFactory()
    orders = [OrderFactory(connection=shop) for _ in range(3)]
    wanted = [orders[0].pk, orders[2].pk, 10**12]

    with CaptureQueriesContext(connection) as queries:
        found = set(Order.objects.filter(pk__in=id_in(wanted)).values_list("pk", flat=True))
    assert found == {orders[0].pk, orders[2].pk}
    if connection.vendor == "postgresql":
        assert "unnest(" in queries[0]["sql"]
    assert not Order.objects.filter(pk__in=id_in([])).exists()
