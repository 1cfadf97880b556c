"""The inbox's search: order numbers, customer names and the text of the order's messages.

A search reads the orders whose number or customer's names match (trigram indexes on
the order table, migration ``core.0002``, combined in one bitmap) and the orders whose
messages match (the GIN index of the search documents, migration ``messaging.0004``):
a precise search reads a handful of ids from each (:func:`order_search_ids`); a broad
one is a condition per order (:func:`order_search`) that Postgres checks while walking
the inbox in its own order, stopping at the page's last row.

``OrderSearchDocument`` holds the Spanish full-text vector of every message of an
order's threads, one after the other in a fixed order. It is a copy, rebuilt after each
run of the threads sync for the orders it wrote (:func:`order_search_documents_refresh`):
in the run for a few hundred orders (an incremental sync's), by a job of its own queued
as the run ends for more (a large shop's first sync,
:func:`order_search_documents_catch_up`), which finds those orders by the threads the
run wrote, so that a run that crashed and resumed loses none. The linking of threads
that arrived before their order rebuilds its orders' documents too. Searching one
vector per order rather than 300,000 message rows is what keeps a broad search fast;
keeping it in a narrow table of its own rather than on the order keeps its rewriting
cheap (the order table has ten indexes).

Other databases (the SQLite demo) keep no document and search the messages with
``icontains``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.contrib.postgres.search import SearchQuery
from django.core.exceptions import EmptyResultSet
from django.db import connection as db_connection
from django.db import connections
from django.db.models import Exists, OuterRef, Q, QuerySet

from core.models import Order
from messaging.models import Message, OrderSearchDocument, Thread

__all__ = [
    "INLINE_REFRESH_MAX",
    "SEARCH_CONFIG",
    "order_search",
    "order_search_candidates",
    "order_search_documents_catch_up",
    "order_search_documents_refresh",
    "order_search_ids",
]

#: The text search configuration of the documents and of the queries (they must agree).
SEARCH_CONFIG = "spanish"
#: At most this many words of a search are matched against the customer's names.
NAME_WORDS = 6
#: Orders whose documents are rebuilt in one statement.
REFRESH_BATCH = 500
#: A threads run that wrote up to this many orders' threads rebuilds their documents
#: itself; more are left to a job of their own (:func:`order_search_documents_catch_up`).
INLINE_REFRESH_MAX = REFRESH_BATCH
#: Between two messages of a document: a line break ends a word, so the last word of a
#: message stays a word of its own.
MESSAGE_SEPARATOR = "\n"


def _postgres() -> bool:
    return db_connection.vendor == "postgresql"


def _by_number_or_name(value: str) -> Q:
    by_name = Q()
    for word in value.split()[:NAME_WORDS]:
        by_name &= Q(customer_first_name__icontains=word) | Q(customer_last_name__icontains=word)
    return Q(mirakl_id__icontains=value) | Q(commercial_id__icontains=value) | by_name


def _documents_matching(value: str) -> QuerySet:
    query = SearchQuery(value, config=SEARCH_CONFIG, search_type="websearch")
    return OrderSearchDocument.objects.filter(document=query).order_by()


def order_search(value: str) -> QuerySet:
    """Ids (``pk``) of the orders whose number contains ``value``, whose customer's names
    hold every word of it, or whose messages match it (Spanish full text, web-search
    syntax: quotes for a phrase, ``-`` to exclude a word).

    The shape for a subquery over many matches (a broad search): one condition per
    order, its document probed by key, so Postgres walks the queue in its own order
    and stops at the page's last row. Few matches are read faster by
    :func:`order_search_ids`.
    """
    matches = _by_number_or_name(value)
    if _postgres():
        matches |= Q(Exists(_documents_matching(value).filter(order_id=OuterRef("pk"))))
    else:
        matches |= Q(
            pk__in=Message.objects.filter(body__icontains=value, thread__order__isnull=False)
            .order_by()
            .values("thread__order_id")
        )
    return Order.objects.filter(matches).order_by().values("pk")


def order_search_candidates(value: str) -> QuerySet:
    """The ids of :func:`order_search` read from the indexes (Postgres; an id may come
    twice): ``UNION ALL`` of the orders matched by number or names (their trigram
    indexes, in one bitmap) and of the documents matched by text (their GIN index).

    A condition across the two tables cannot use both kinds of index: Postgres would
    read every order.
    """
    if not _postgres():
        return order_search(value)
    by_text = _documents_matching(value).values("order_id")
    return (
        Order.objects.filter(_by_number_or_name(value))
        .order_by()
        .values("pk")
        .union(by_text, all=True)
    )


def order_search_ids(value: str, *, limit: int) -> list[int]:
    """At most ``limit`` ids of the orders :func:`order_search` matches (maybe fewer
    distinct ones): what a precise search (an order number, a name, rare words) reads
    first, in milliseconds.

    Read from the cursor as they come (integers): through the queryset's iterator, the
    thousand ids of a broad search cost about 0.3 ms more."""
    queryset = order_search_candidates(value).values_list("pk", flat=True)[:limit]
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:
        return []
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def order_search_documents_refresh(*, order_ids: Iterable[int]) -> int:
    """Rebuild the search document of these orders from their messages; returns how many
    orders' documents were written or removed (none outside Postgres): only those whose
    document changed.

    A document is written only when it changed: a sync that reads a page again (the
    overlap) or a thread whose new message is not the order's leaves the rows
    untouched. An order left without messages loses its row.

    One statement per batch whatever its size: the batch's messages are read through
    the threads' order index and grouped once, then joined to the orders by key.
    A correlated subquery per order looked simpler but, while a first sync fills the
    tables faster than their statistics follow, Postgres read every message once per
    order; building each order's document in Python cost more than the statement.
    For the same reason the threads and their messages are read key by key (lateral
    subqueries Postgres cannot merge into a join, ``OFFSET 0``): as a join, a first
    sync's stale statistics had every page's batch hash the whole message table.

    The messages are joined in an order that depends only on Mirakl's data (thread id,
    then date and id of each message), so an order's document is the same whatever
    the order the sync wrote its rows in, and separated by a line break (a word ends
    with its message). Migration ``incidents.0011`` wrote the same documents.
    """
    ids = sorted({pk for pk in order_ids if pk is not None})
    if not ids or not _postgres():
        return 0

    quote = db_connection.ops.quote_name
    documents = quote(OrderSearchDocument._meta.db_table)
    # The documents are computed once (a materialised CTE), then written where they
    # changed; the rows of orders without messages go.
    sql = (
        "WITH d AS MATERIALIZED ("  # noqa: S608 - names from the models
        "SELECT o.order_id, to_tsvector(%s::regconfig, string_agg(m.body, %s "
        "ORDER BY t.mirakl_id, m.date_created, m.mirakl_id)) AS document "
        "FROM unnest(%s::bigint[]) AS o(order_id) "
        "CROSS JOIN LATERAL (SELECT id, mirakl_id "
        f"FROM {quote(Thread._meta.db_table)} WHERE order_id = o.order_id OFFSET 0) AS t "
        "CROSS JOIN LATERAL (SELECT body, date_created, mirakl_id "
        f"FROM {quote(Message._meta.db_table)} WHERE thread_id = t.id OFFSET 0) AS m "
        "GROUP BY o.order_id), "
        f"gone AS (DELETE FROM {documents} x WHERE x.order_id = ANY(%s::bigint[]) "
        "AND NOT EXISTS (SELECT 1 FROM d WHERE d.order_id = x.order_id) RETURNING 1), "
        f"written AS (INSERT INTO {documents} AS x (order_id, document) "
        "SELECT order_id, document FROM d ON CONFLICT (order_id) DO UPDATE "
        "SET document = EXCLUDED.document WHERE x.document IS DISTINCT FROM EXCLUDED.document "
        "RETURNING 1) "
        "SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM written)"
    )
    written = 0
    with db_connection.cursor() as cursor:
        for start in range(0, len(ids), REFRESH_BATCH):
            batch = ids[start : start + REFRESH_BATCH]
            cursor.execute(sql, [SEARCH_CONFIG, MESSAGE_SEPARATOR, batch, batch])
            written += cursor.fetchone()[0]
    return written


def order_search_documents_catch_up(*, connection_id: int, since: datetime | None) -> int:
    """Rebuild the documents of the connection's orders whose threads a sync wrote at or
    after ``since`` (every order with threads when None); returns how many changed.

    The job that follows a large run of the threads sync: the threads it wrote carry
    the time it prepared them (``synced_at``), never before the run started (a resumed
    run keeps its crashed predecessor's start, so those pages count too). Rebuilding a
    document that did not change writes nothing, so running it twice is harmless.
    """
    threads = Thread.objects.filter(connection_id=connection_id, order__isnull=False)
    if since is not None:
        threads = threads.filter(synced_at__gte=since)
    return order_search_documents_refresh(
        order_ids=threads.order_by().values_list("order_id", flat=True).distinct()
    )
