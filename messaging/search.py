"""The inbox's search: order numbers, customer names and the text of the order's messages.

One condition on the order table answers every search (:func:`order_search`), so
Postgres can combine its indexes (trigram indexes on the order number and the names,
migration ``incidents.0005``; a GIN index on ``Order.search_document``, migration
``incidents.0009``) and choose its plan from what the words match: a precise search
reads a handful of orders through the indexes, a broad one ("pedido") walks the inbox
in its own order and stops at the page's last row.

``Order.search_document`` is the Spanish full-text vector of every message of the
order's threads, one after the other in a fixed order. It is a copy: the threads sync
rebuilds it for the orders of each page it writes (:func:`order_search_documents_refresh`,
in the page's transaction), and so does the linking of threads that arrived before
their order. Searching one vector per
order rather than 300,000 message rows is what keeps a broad search fast.

Other databases (the SQLite demo) keep no document and search the messages with
``icontains``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.postgres.search import SearchQuery
from django.db import connection as db_connection
from django.db.models import Q, QuerySet

from core.models import Order
from messaging.models import Message, Thread

__all__ = ["SEARCH_CONFIG", "order_search", "order_search_documents_refresh"]

#: The text search configuration of the documents and of the queries (they must agree).
SEARCH_CONFIG = "spanish"
#: At most this many words of a search are matched against the customer's names.
NAME_WORDS = 6
#: Orders whose documents are rebuilt in one statement.
REFRESH_BATCH = 500
#: Between two messages of a document: a line break ends a word, so the last word of a
#: message stays a word of its own.
MESSAGE_SEPARATOR = "\n"


def _postgres() -> bool:
    return db_connection.vendor == "postgresql"


def order_search(value: str) -> QuerySet:
    """Ids (``pk``) of the orders whose number contains ``value``, whose customer's names
    hold every word of it, or whose messages match it (Spanish full text, web-search
    syntax: quotes for a phrase, ``-`` to exclude a word)."""
    by_name = Q()
    for word in value.split()[:NAME_WORDS]:
        by_name &= Q(customer_first_name__icontains=word) | Q(customer_last_name__icontains=word)
    matches = Q(mirakl_id__icontains=value) | Q(commercial_id__icontains=value) | by_name
    if _postgres():
        query = SearchQuery(value, config=SEARCH_CONFIG, search_type="websearch")
        matches |= Q(search_document=query)
    else:
        matches |= Q(
            pk__in=Message.objects.filter(body__icontains=value, thread__order__isnull=False)
            .order_by()
            .values("thread__order_id")
        )
    return Order.objects.filter(matches).order_by().values("pk")


def order_search_documents_refresh(*, order_ids: Iterable[int]) -> int:
    """Rebuild the search document of these orders from their messages; returns how many
    orders were written (none outside Postgres): only those whose document changed.

    Writing an order costs far more than computing its document: the document is
    indexed, so the row is never updated in place and every index of the order table
    (its number's and names' trigram indexes among them) takes a new entry. A sync that
    reads a page again (the overlap) or a thread whose new message is not the order's
    leaves the documents as they were, and the rows untouched.

    One statement per batch whatever its size: the batch's messages are read through
    the threads' order index and grouped once, then joined to the orders by key.
    A correlated subquery per order looked simpler but, while a first sync fills the
    tables faster than their statistics follow, Postgres read every message once per
    order; building each order's document in Python cost more than the statement.

    The messages are joined in an order that depends only on Mirakl's data (thread id,
    then date and id of each message), so an order's document is the same whatever
    the order the sync wrote its rows in, and separated by a line break (a word ends
    with its message). Migration ``incidents.0011`` wrote the same documents.
    """
    ids = sorted({pk for pk in order_ids if pk is not None})
    if not ids or not _postgres():
        return 0

    quote = db_connection.ops.quote_name
    # The documents are computed once (a materialised CTE), then compared and written.
    sql = (
        "WITH d AS MATERIALIZED ("  # noqa: S608 - names from the models
        "SELECT batch.id, to_tsvector(%s::regconfig, COALESCE(s.text, '')) AS document "
        "FROM unnest(%s::bigint[]) AS batch(id) LEFT JOIN ("
        "SELECT t.order_id, string_agg(m.body, %s "
        "ORDER BY t.mirakl_id, m.date_created, m.mirakl_id) AS text "
        f"FROM {quote(Message._meta.db_table)} m "
        f"JOIN {quote(Thread._meta.db_table)} t ON t.id = m.thread_id "
        "WHERE t.order_id = ANY(%s::bigint[]) GROUP BY t.order_id"
        ") s ON s.order_id = batch.id) "
        f"UPDATE {quote(Order._meta.db_table)} o SET search_document = d.document FROM d "
        "WHERE o.id = d.id AND o.search_document IS DISTINCT FROM d.document"
    )
    written = 0
    with db_connection.cursor() as cursor:
        for start in range(0, len(ids), REFRESH_BATCH):
            batch = ids[start : start + REFRESH_BATCH]
            cursor.execute(sql, [SEARCH_CONFIG, batch, MESSAGE_SEPARATOR, batch])
            written += cursor.rowcount
    return written
