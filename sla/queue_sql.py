"""The queue's every row in three statements (Postgres): the first sweep of a large shop,
or a full one.

What :mod:`sla.queue` computes in Python for a few orders, computed here by Postgres for
all of them: an incident's row carries its own open wait and every open wait of its
order's threads; an order without incident has a row per conversation. Rows keep their
id (``ON CONFLICT … DO UPDATE``); the rows this refresh did not write are removed. Into
an empty queue, the rows are plainly inserted.

Every order's rows written into an empty queue (the first sweep of a large shop) get
its lookup indexes built after them rather than updated row by row
(:mod:`sla.indexes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import connection

from sla.indexes import BUILD_INDEXES_FROM, lookup_indexes_set_aside
from sla.models.queue import PREVIEW_CHARS

__all__ = ["queue_entries_rebuild"]

_FIELDS = (
    "kind, connection_id, incident_id, thread_id, order_id, order_number, reason_code, "
    "reason_label, incident_state, is_open, owed_to, due_at, reply_due_at, warn_at, opened_at, "
    "message_count, last_inbound_at, last_inbound_author, last_inbound_preview, updated_at"
)

_UPDATE = ", ".join(
    f"{name} = EXCLUDED.{name}"
    for name in [
        "kind",
        "connection_id",
        "order_id",
        "order_number",
        "reason_code",
        "reason_label",
        "incident_state",
        "is_open",
        "owed_to",
        "due_at",
        "reply_due_at",
        "warn_at",
        "opened_at",
        "message_count",
        "last_inbound_at",
        "last_inbound_author",
        "last_inbound_preview",
        "updated_at",
    ]
)

#: Every order, or only those of the array ``%(orders)s`` (NULL: every one). Postgres
#: folds the NULL test away, so either form plans as if written for it alone.
_EVERY_ORDER = "%(orders)s::bigint[] IS NULL"
#: A row whose key {0} is the id of a row of table {1} on one of the orders.
_IN_ORDERS = (
    _EVERY_ORDER + " OR {0} IN (SELECT id FROM {1} WHERE order_id = ANY(%(orders)s))"  # noqa: S608 - our own constants
)
#: A row of alias {0} on one of the orders.
_OF_ORDERS = f"({_EVERY_ORDER} OR {{0}}.order_id = ANY(%(orders)s))"

#: Per thread: its open waits (earliest deadline and warning, to whom), its messages
#: (how many, the last one received).
_THREADS = f"""
    thread_waits AS (
        SELECT thread_id, min(due_at) AS due, min(warn_at) AS warn,
               bool_or(audience <> 'OPERATOR') AS customer,
               bool_or(audience = 'OPERATOR') AS operator
        FROM sla_slaitem
        WHERE kind = 'thread' AND stopped_at IS NULL
            AND ({_IN_ORDERS.format("thread_id", "messaging_thread")})
        GROUP BY thread_id
    ),
    thread_messages AS (
        SELECT thread_id, count(*) AS n,
               max(id) FILTER (WHERE author_type IN ('CUSTOMER', 'OPERATOR')) AS last_in
        FROM messaging_message
        WHERE {_IN_ORDERS.format("thread_id", "messaging_thread")}
        GROUP BY thread_id
    )
"""  # noqa: S608 - our own constants

_PREVIEW = f"""
    CASE WHEN length(p.text) > {PREVIEW_CHARS}
         THEN left(p.text, {PREVIEW_CHARS - 1}) || '…' ELSE p.text END
"""


def _preview_of(message: str) -> str:
    """The one-line preview of the message ``message`` (an alias), as ``_one_line``."""
    return (
        f"CROSS JOIN LATERAL (SELECT btrim(regexp_replace("
        f"substr(coalesce({message}.body, ''), 1, {PREVIEW_CHARS * 2}), '\\s+', ' ', 'g'))"
        f" AS text) AS p"
    )


_INCIDENTS = f"""
    WITH {_THREADS},
    order_waits AS (
        SELECT t.order_id, min(w.due) AS due, min(w.warn) AS warn,
               bool_or(w.customer) AS customer, bool_or(w.operator) AS operator
        FROM thread_waits w JOIN messaging_thread t ON t.id = w.thread_id
        WHERE t.order_id IS NOT NULL
        GROUP BY t.order_id
    ),
    order_messages AS (
        SELECT t.order_id, sum(m.n) AS n, max(m.last_in) AS last_in
        FROM thread_messages m JOIN messaging_thread t ON t.id = m.thread_id
        WHERE t.order_id IS NOT NULL
        GROUP BY t.order_id
    ),
    incident_waits AS (
        SELECT incident_id, min(due_at) AS due, min(warn_at) AS warn
        FROM sla_slaitem
        WHERE kind = 'incident' AND stopped_at IS NULL
            AND ({_IN_ORDERS.format("incident_id", "incidents_incident")})
        GROUP BY incident_id
    )
    INSERT INTO sla_queueentry ({_FIELDS})
    SELECT 'incident', i.connection_id, i.id, NULL, i.order_id, o.mirakl_id, i.reason_code,
        coalesce(nullif(i.reason_label, ''), i.reason_code), i.state,
        i.closed_at IS NULL OR iw.due IS NOT NULL OR ow.due IS NOT NULL,
        CASE WHEN coalesce(ow.operator, false)
                  AND (iw.due IS NOT NULL OR coalesce(ow.customer, false)) THEN 'both'
             WHEN coalesce(ow.operator, false) THEN 'operator'
             WHEN iw.due IS NOT NULL OR coalesce(ow.customer, false) THEN 'customer'
             ELSE '' END,
        least(iw.due, ow.due), iw.due, least(iw.warn, ow.warn), i.opened_at, coalesce(om.n, 0),
        lm.date_created, coalesce(lm.author_type, ''), {_PREVIEW}, %(now)s
    FROM incidents_incident i
    JOIN core_order o ON o.id = i.order_id
    LEFT JOIN incident_waits iw ON iw.incident_id = i.id
    LEFT JOIN order_waits ow ON ow.order_id = i.order_id
    LEFT JOIN order_messages om ON om.order_id = i.order_id
    LEFT JOIN messaging_message lm ON lm.id = om.last_in
    {_preview_of("lm")}
    WHERE {_OF_ORDERS.format("i")}
"""  # noqa: S608 - our own constants

_CONVERSATIONS = f"""
    WITH {_THREADS}
    INSERT INTO sla_queueentry ({_FIELDS})
    SELECT 'conversation', t.connection_id, NULL, t.id, t.order_id, o.mirakl_id,
        CASE WHEN t.topic_type = 'REASON_CODE' THEN t.topic_value ELSE '' END,
        CASE WHEN t.topic_type = 'REASON_CODE'
             THEN coalesce((SELECT coalesce(nullif(r.label, ''), r.code)
                            FROM core_marketplacereason r
                            WHERE r.connection_id = t.connection_id AND r.code = t.topic_value
                            ORDER BY r.id LIMIT 1), '')
             ELSE t.topic_value END,
        '', w.due IS NOT NULL,
        CASE WHEN w.customer AND w.operator THEN 'both' WHEN w.operator THEN 'operator'
             WHEN w.customer THEN 'customer' ELSE '' END,
        w.due, NULL, w.warn, t.date_created, coalesce(m.n, 0),
        lm.date_created, coalesce(lm.author_type, ''), {_PREVIEW}, %(now)s
    FROM messaging_thread t
    JOIN core_order o ON o.id = t.order_id
    LEFT JOIN thread_waits w ON w.thread_id = t.id
    LEFT JOIN thread_messages m ON m.thread_id = t.id
    LEFT JOIN messaging_message lm ON lm.id = m.last_in
    {_preview_of("lm")}
    WHERE NOT EXISTS (SELECT 1 FROM incidents_incident i WHERE i.order_id = t.order_id)
        AND {_OF_ORDERS.format("t")}
"""  # noqa: S608 - our own constants

#: Each statement, keeping the id of a row already there: ``(into an empty queue, else)``.
#: Into the empty queue of a first sweep, no row can conflict: a plain insert spares
#: each row the conflict check of an upsert.
_STATEMENTS = (
    (_INCIDENTS, f"{_INCIDENTS} ON CONFLICT (incident_id) DO UPDATE SET {_UPDATE}"),
    (_CONVERSATIONS, f"{_CONVERSATIONS} ON CONFLICT (thread_id) DO UPDATE SET {_UPDATE}"),
)


def queue_entries_rebuild(*, now: datetime, order_ids: Sequence[int] | None = None) -> int:
    """Write every row of the queue, or the rows of these orders (Postgres); returns
    how many were written."""
    params = {"now": now, "orders": None if order_ids is None else list(order_ids)}
    written = 0
    rows = 0
    if order_ids is None:
        with connection.cursor() as cursor:
            cursor.execute(_ROWS_UP_TO)
            rows = cursor.fetchone()[0]
    with (
        lookup_indexes_set_aside("sla_queueentry", rows=rows) as empty,
        connection.cursor() as cursor,
    ):
        # Indexes set aside: the queue was empty, and is locked against every other use.
        for into_empty, upsert in _STATEMENTS:
            cursor.execute(into_empty if empty else upsert, params)
            written += cursor.rowcount
        if not empty:
            # What this refresh did not write is no longer in the queue.
            cursor.execute(
                f"DELETE FROM sla_queueentry WHERE updated_at <> %(now)s AND {_OF_ORDERS.format('sla_queueentry')}",  # noqa: S608, E501 - our own constants
                params,
            )
    return written


#: How many incidents and conversations on orders the queue shows, up to
#: BUILD_INDEXES_FROM (counting stops there).
_ROWS_UP_TO = f"""
    SELECT count(*) FROM (
        (SELECT 1 FROM incidents_incident LIMIT {BUILD_INDEXES_FROM})
        UNION ALL
        (SELECT 1 FROM messaging_thread WHERE order_id IS NOT NULL LIMIT {BUILD_INDEXES_FROM})
    ) AS r
"""  # noqa: S608 - our own constants
