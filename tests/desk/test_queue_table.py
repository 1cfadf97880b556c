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
from tests.factories.sla import SlaItemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(db):
    """Thirty open incidents, a third with a deadline, one with markup in what it shows;
    an agent."""
    connection = MarketplaceConnectionFactory(code="pcc", name="PcComponentes <&>")
    now = timezone.now()
    for n in range(30):
        order = OrderFactory(
            connection=connection,
            mirakl_id=f"PCC-{n}",
            customer_first_name='<b>"Ana"</b>' if n == 0 else "Ana",
        )
        incident = IncidentFactory(
            line=OrderLineFactory(order=order, state="INCIDENT_OPEN"),
            opened_at=now - timedelta(hours=n),
        )
        if n % 3 == 0:  # a deadline: missed, nearing or on time
            SlaItemFactory(incident=incident, started_at=now - timedelta(hours=10 * n))
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


def test_a_page_shown_again_is_one_cache_read_and_a_change_shows_at_once(
    queue, monkeypatch
) -> None:
    from dataclasses import replace

    from django.core.cache import cache

    from desk.tables import rows_html

    request = RequestFactory().get("/incidents/")
    request.user = queue
    entries = selectors.queue_list(filters=request.GET, user=queue)[1]
    rows = selectors.queue_rows(ids=list(entries.values_list("pk", flat=True)[:25]), user=queue)
    assert any(row.due_at for row in rows)
    now = timezone.now()
    first = rows_html(rows, now=now)
    reads: list[object] = []
    for name in ("get", "get_many"):
        method = getattr(cache, name)
        monkeypatch.setattr(
            cache, name, lambda key, *a, _m=method, **k: reads.append(key) or _m(key, *a, **k)
        )
    assert rows_html(rows, now=now) == first
    assert len(reads) == 1 and str(reads[0]).startswith("queue-page:")
    # An unread message on one row: that row is written anew, the others come from the cache.
    changed = [replace(rows[0], unread_count=3), *rows[1:]]
    again = rows_html(changed, now=now)
    assert 'class="badge new" title="3"' in again[0] and again[1:] == first[1:]
    # The deadlines' text counts minutes: a minute later the page is read again.
    reads.clear()
    rows_html(rows, now=now + timedelta(minutes=1))
    assert len(reads) == 2
