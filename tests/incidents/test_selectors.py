"""Reads of the incidents app used by the pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.selectors import order_incidents
from tests.factories.core import OrderFactory, OrderLineFactory
from tests.factories.incidents import IncidentFactory

pytestmark = pytest.mark.django_db


def test_order_incidents_are_the_orders_newest_first_with_their_lines(
    django_assert_num_queries,
) -> None:
    order = OrderFactory()
    now = timezone.now()
    older = IncidentFactory(
        line=OrderLineFactory(order=order, index=1), opened_at=now - timedelta(days=2)
    )
    newer = IncidentFactory(line=OrderLineFactory(order=order, index=2), opened_at=now)
    IncidentFactory()  # another order's

    with django_assert_num_queries(1):
        rows = order_incidents(order=order)
        assert [row.pk for row in rows] == [newer.pk, older.pk]
        assert [row.line.index for row in rows] == [2, 1]
        assert all(row.order is order for row in rows)
    expected = list(order.incidents.select_related("line").order_by("-opened_at", "-pk"))
    for row, same in zip(rows, expected, strict=True):
        assert row.__dict__.keys() - {"_state"} == same.__dict__.keys() - {"_state"}
        assert all(getattr(row, k) == getattr(same, k) for k in same.__dict__ if k != "_state")
