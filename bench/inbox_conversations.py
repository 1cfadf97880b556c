"""The inbox benchmark's conversations without incident: the statements that write
100,000 orders of their own, each with one conversation, its messages and its waits
(the rest of the data set is in :mod:`bench.inbox_data`). Sizes and the time arrive as
the statements' parameters (``orders``, ``conversations``, ``now``)."""

from __future__ import annotations

__all__ = ["conversation_statements"]


def conversation_statements(
    customer: str, nc: int, operator: str, no: int, shop: str, ns: int
) -> list[tuple[str, str]]:
    """Orders ORDERS + 1 … ORDERS + CONVERSATIONS, created over the last month, each with
    one conversation and no incident. Odd threads wait for a first answer; even ones
    were answered, and every fourth was written to again since (a follow-up); every
    tenth (from 5) is the operator's. Waits started up to four days ago: on time,
    nearing and missed mix."""
    # Thread id of conversation c (1…CONVERSATIONS) is not known in advance: the
    # statements join on the order, whose id is ORDERS + c.
    waited = "%(now)s::timestamptz - ((o.id %% 96) * interval '1 hour') - interval '1 minute'"
    return [
        (
            "orders of conversations",
            """
            INSERT INTO core_order (
                connection_id, mirakl_id, commercial_id, state, state_reason_code,
                state_reason_label, currency, price, shipping_price, total_price,
                has_incident, has_customer_message, fully_refunded, customer_mirakl_id,
                customer_first_name, customer_last_name, customer_locale, customer_email,
                billing_address, shipping_address, shipping_company, shipping_tracking,
                shipping_tracking_url, shipping_type, created_date, last_updated_date,
                synced_at)
            SELECT c.connection_id, (59400000 + n)::text || '-A', (59400000 + n)::text,
                'SHIPPED', '', '', 'EUR', 30, 4.95, 34.95, false, true, false,
                'C' || (n %% 40000), c.customer_first_name, c.customer_last_name, 'es_ES',
                'cliente' || n || '@correo.example', c.billing_address, c.shipping_address,
                'SEUR', 'TRK' || n, '', 'STANDARD',
                %(now)s::timestamptz - ((%(orders)s + %(conversations)s - n)
                                        * interval '25 s') - interval '4 days',
                %(now)s, %(now)s
            FROM generate_series(%(orders)s + 1, %(orders)s + %(conversations)s) AS n
            JOIN core_order c ON c.id = 1 + n %% %(orders)s
            """,
        ),
        (
            "conversations without incident",
            """
            INSERT INTO messaging_thread (
                connection_id, mirakl_id, order_id, entity_type, entity_id, topic_type,
                topic_value, date_created, date_updated, authorized_participants,
                current_participants, last_message_at, message_count, shop_reply_needed_since,
                last_sender_type, last_sender_name, no_store_reply_needed, synced_at)
            SELECT o.connection_id, 'T' || o.id || '-1', o.id, 'MMP_ORDER', o.mirakl_id,
                'FREE_TEXT', 'Consulta sobre el pedido', o.created_date, o.created_date,
                '[{"type": "CUSTOMER"}, {"type": "SHOP"}, {"type": "OPERATOR"}]'::jsonb,
                '[]', NULL, 0, NULL, '', '', '[]', %(now)s
            FROM core_order o WHERE o.id > %(orders)s ORDER BY o.id
            """,
        ),
        (
            "their messages",
            f"""
            INSERT INTO messaging_message (thread_id, mirakl_id, author_type, author_role,
                author_name, recipients, body, date_created, attachments)
            SELECT t.id, 'C' || t.id || '-' || k,
                CASE WHEN k = 2 THEN 'SHOP'
                     WHEN o.id %% 10 = 5 THEN 'OPERATOR' ELSE 'CUSTOMER' END,
                '', '',
                CASE WHEN k = 2 THEN '[{{"type": "CUSTOMER"}}]'::jsonb
                     ELSE '[{{"type": "SHOP"}}]'::jsonb END,
                CASE WHEN k = 2 THEN ({shop})[1 + o.id %% {ns}]
                     WHEN o.id %% 10 = 5 THEN ({operator})[1 + o.id %% {no}]
                     ELSE ({customer})[1 + (o.id + k) %% {nc}] || ' Pedido ' || o.mirakl_id
                          || '.' END,
                CASE WHEN k = 3 OR (k = 1 AND o.id %% 2 = 1) THEN {waited}
                     ELSE {waited} - (4 - k) * interval '2 hours' END,
                '[]'::jsonb
            FROM core_order o
            JOIN messaging_thread t ON t.order_id = o.id
            CROSS JOIN generate_series(1, 3) AS k
            WHERE o.id > %(orders)s
              AND (k = 1 OR (k = 2 AND o.id %% 2 = 0) OR (k = 3 AND o.id %% 4 = 0))
            """,  # noqa: S608 - our own constants
        ),
        (
            "their summaries",
            """
            UPDATE messaging_thread t SET message_count = s.n, last_message_at = s.last,
                date_updated = s.last, last_sender_type = s.author,
                shop_reply_needed_since = CASE WHEN s.author <> 'SHOP' THEN s.last END
            FROM (SELECT DISTINCT ON (thread_id) thread_id, author_type AS author,
                         date_created AS last,
                         count(*) OVER (PARTITION BY thread_id) AS n
                  FROM messaging_message m
                  WHERE m.thread_id IN (SELECT id FROM messaging_thread
                                        WHERE order_id > %(orders)s)
                  ORDER BY thread_id, date_created DESC) AS s
            WHERE s.thread_id = t.id
            """,
        ),
        (
            "SLA items of conversations",
            """
            INSERT INTO sla_slaitem (kind, connection_id, thread_id, audience, started_at,
                due_at, warn_at, state, stopped_at, stop_reason, created_at, updated_at)
            SELECT 'thread', t.connection_id, t.id,
                CASE WHEN t.last_sender_type = 'OPERATOR' THEN 'OPERATOR' ELSE 'CUSTOMER' END,
                t.shop_reply_needed_since,
                t.shop_reply_needed_since + interval '48 hours',
                t.shop_reply_needed_since + interval '36 hours',
                CASE WHEN t.shop_reply_needed_since + interval '48 hours' < %(now)s
                     THEN 'breached'
                     WHEN t.shop_reply_needed_since + interval '36 hours' <= %(now)s
                     THEN 'nearing' ELSE 'on_time' END,
                NULL, '', %(now)s, %(now)s
            FROM messaging_thread t
            WHERE t.order_id > %(orders)s AND t.shop_reply_needed_since IS NOT NULL
            """,
        ),
    ]
