"""The queue's table written in Python (:func:`desk.tables.table_html`) is byte for byte
what its template draws: headers, sort links, rows, the empty table and the pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.template.loader import get_template
from django.test import RequestFactory
from django.utils import timezone, translation

from desk import selectors
from desk.tables import TABLE_TEMPLATE, QueueTable, table_html
from sla.queue import queue_entries_refresh
from tests.factories.core import (
    MarketplaceConnectionFactory,
    OrderFactory,
    OrderLineFactory,
    UserFactory,
)
from tests.factories.incidents import IncidentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(db):
    """Thirty open incidents, one of them with markup in what it shows; an agent."""
    connection = MarketplaceConnectionFactory(code="pcc", name="PcComponentes <&>")
    now = timezone.now()
    for n in range(30):
        order = OrderFactory(
            connection=connection,
            mirakl_id=f"PCC-{n}",
            customer_first_name='<b>"Ana"</b>' if n == 0 else "Ana",
        )
        IncidentFactory(
            line=OrderLineFactory(order=order, state="INCIDENT_OPEN"),
            opened_at=now - timedelta(hours=n),
        )
    queue_entries_refresh()
    return UserFactory(username="marta", role="agent")


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize(
    "query",
    [
        "",
        "?page=2",
        "?sort=-messages&page=2&q=",
        "?sort=sla&sort=kind",
        "?sort=assignee&x=<script>%22",
        "?q=PCC-1",
        "?q=nothing-matches-this",
        "?status=closed",
    ],
)
def test_the_table_is_the_template_s(queue, language, query) -> None:
    request = RequestFactory().get("/incidents/" + query)
    request.user = queue
    with translation.override(language):
        filterset, entries = selectors.queue_list(filters=request.GET, user=queue, request=request)
        table = QueueTable(
            entries,
            request=request,
            row_loader=lambda ids: selectors.queue_rows(ids=ids, user=queue),
            page_size=10,
        )
        ours = table_html(table)
        assert ours == get_template(TABLE_TEMPLATE).render({"table": table}, request)
        assert ours == table.html
    assert "<script>" not in ours and '<b>"Ana"</b>' not in ours
