"""The inbox benchmark's data set: 100,000 incidents and 300,000 messages on 90,000
orders, and 100,000 conversations without incident on orders of their own (about
200,000 messages more), written with set-based statements into a fresh database (ids
from 1); then the queue's rows, as the SLA sweep writes them."""

from __future__ import annotations

import time
from datetime import datetime

from bench.inbox_conversations import conversation_statements

__all__ = [
    "BIG_ORDER",
    "CONVERSATIONS",
    "INCIDENTS",
    "MESSAGES",
    "ORDERS",
    "PASSWORD",
    "USERNAME",
    "data_load",
    "data_loaded",
    "print_counts",
]

ORDERS = 90_000


INCIDENTS = 100_000


#: Orders ORDERS + 1 … ORDERS + CONVERSATIONS: no incident, one conversation each.
CONVERSATIONS = 100_000


MESSAGES = 300_000


#: Orders whose number is above this have an open incident (the latest ones), plus a
#: few old ones left open.
OPEN_FROM = 65_000


#: The order with one long conversation (the incident page's worst case).
BIG_ORDER = 88_888


BIG_THREAD_MESSAGES = 250


#: Orders with a second thread (the operator's).
SECOND_THREAD_EVERY = 10


USERNAME = "bench-agent"


PASSWORD = "bench-pass-123"  # noqa: S105 - a local benchmark user


OTHER_AGENTS = ("ana", "carlos", "lucia", "miguel", "sofia")


REASONS = (
    ("1", "Artículo defectuoso"),
    ("2", "No he recibido el pedido"),
    ("3", "El artículo no corresponde a la descripción"),
    ("4", "Desistimiento"),
    ("5", "Artículo dañado en el transporte"),
    ("6", "Falta una pieza"),
)


FIRST_NAMES = (
    "Lucía",
    "María",
    "Paula",
    "Laura",
    "Marta",
    "Sara",
    "Carmen",
    "Ana",
    "Elena",
    "Isabel",
    "Cristina",
    "Raquel",
    "Nuria",
    "Pilar",
    "Rocío",
    "Beatriz",
    "Eva",
    "Silvia",
    "Alba",
    "Irene",
    "Hugo",
    "Martín",
    "Pablo",
    "Daniel",
    "Alejandro",
    "David",
    "Javier",
    "Sergio",
    "Carlos",
    "Manuel",
    "Jorge",
    "Álvaro",
    "Diego",
    "Adrián",
    "Iván",
    "Rubén",
    "Óscar",
    "Andrés",
    "Raúl",
    "Eustaquio",
)


LAST_NAMES = (
    "García",
    "Rodríguez",
    "González",
    "Fernández",
    "López",
    "Martínez",
    "Sánchez",
    "Pérez",
    "Gómez",
    "Martín",
    "Jiménez",
    "Ruiz",
    "Hernández",
    "Díaz",
    "Moreno",
    "Muñoz",
    "Álvarez",
    "Romero",
    "Alonso",
    "Gutiérrez",
    "Navarro",
    "Torres",
    "Domínguez",
    "Vázquez",
    "Ramos",
    "Gil",
    "Ramírez",
    "Serrano",
    "Blanco",
    "Molina",
    "Morales",
    "Suárez",
    "Ortega",
    "Delgado",
    "Castro",
    "Ortiz",
    "Rubio",
    "Marín",
    "Sanz",
    "Núñez",
    "Iglesias",
    "Medina",
    "Garrido",
    "Cortés",
    "Castillo",
)


CUSTOMER_PHRASES = (
    "Hola, el pedido ha llegado con la caja abierta y falta el cargador.",
    "Buenas tardes, todavía no he recibido mi pedido y el seguimiento no se mueve.",
    "El ratón inalámbrico no funciona, he probado con pilas nuevas.",
    "Quiero devolver el artículo, no es lo que esperaba.",
    "La pantalla del portátil tiene un píxel muerto en la esquina superior.",
    "El teclado llegó roto, tiene dos teclas sueltas.",
    "¿Cuándo me vais a enviar la factura del pedido?",
    "He recibido un modelo distinto al que compré.",
    "Los auriculares se desconectan cada pocos minutos.",
    "La impresora hace un ruido extraño y no imprime.",
    "Me habéis cobrado dos veces el mismo pedido.",
    "El transportista dice que entregó el paquete pero no lo tengo.",
    "La silla de oficina vino sin los tornillos del respaldo.",
    "El monitor no enciende desde que lo conecté.",
    "Necesito cambiar la dirección de entrega, me he mudado.",
    "El producto tiene arañazos en la carcasa.",
)


SHOP_PHRASES = (
    "Hola, sentimos las molestias. Hemos abierto una incidencia con el transportista.",
    "Gracias por escribirnos. ¿Podría enviarnos una foto del artículo?",
    "Le confirmamos que el reembolso se ha tramitado y lo verá en 3-5 días hábiles.",
    "Le enviamos una etiqueta de devolución por correo electrónico.",
    "Hemos enviado la pieza que faltaba, le llegará en 48 horas.",
    "Le adjuntamos la factura del pedido.",
    "Hemos revisado el seguimiento y el paquete está en reparto.",
    "Podemos ofrecerle un cambio por otra unidad o el reembolso, lo que prefiera.",
)


OPERATOR_PHRASES = (
    "El cliente indica que no ha recibido respuesta. Por favor, responda en 24 horas.",
    "Como operador, solicitamos información sobre el estado del envío.",
    "Recordamos que el plazo de respuesta es de dos días hábiles.",
)


def _sql_array(values: tuple[str, ...]) -> str:
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"ARRAY[{quoted}]::text[]"


def data_loaded() -> bool:
    from incidents.models import Incident
    from messaging.models import Message
    from sla.models import QueueEntry

    return (
        Incident.objects.count() == INCIDENTS
        and Message.objects.filter(thread__order_id__lte=ORDERS).count() == MESSAGES
        and Incident.objects.filter(order__mirakl_id=f"{59_400_000 + BIG_ORDER}-A").exists()
        and QueueEntry.objects.filter(kind=QueueEntry.Kind.CONVERSATION).count() == CONVERSATIONS
    )


def data_load(now: datetime) -> None:
    """The whole data set, in set-based statements, into the fresh database (ids from 1)."""
    from django.contrib.auth.models import Group
    from django.db import connection, transaction

    from core.models import MarketplaceConnection, MarketplaceReason
    from messaging.search import order_search_documents_refresh
    from sla.queue import queue_entries_refresh

    started = time.perf_counter()
    group = Group.objects.get(name="agent")
    users = [_user(USERNAME, "Bench", "Agent", group)] + [
        _user(name, name.title(), "Pérez", group) for name in OTHER_AGENTS
    ]
    user_ids = "ARRAY[" + ", ".join(str(u.pk) for u in users) + "]"
    tables = connection.introspection.table_names()
    with transaction.atomic():
        connections = [
            MarketplaceConnection.objects.create(
                code=code, name=name, base_url="http://127.0.0.1:9", api_key="k", sla_policy=code
            )
            for code, name in (("pccomponentes", "PcComponentes"), ("mediamarkt", "MediaMarkt"))
        ]
        MarketplaceReason.objects.bulk_create(
            MarketplaceReason(
                connection=c, type="INCIDENT_OPEN", code=code, label=label, is_shop_right=True
            )
            for c in connections
            for code, label in REASONS
        )
        conn_ids = "ARRAY[" + ", ".join(str(c.pk) for c in connections) + "]"
        params = {
            "now": now,
            "orders": ORDERS,
            "incidents": INCIDENTS,
            "open_from": OPEN_FROM,
            "big": BIG_ORDER,
            "big_n": BIG_THREAD_MESSAGES,
            "every": SECOND_THREAD_EVERY,
            "conversations": CONVERSATIONS,
        }
        with connection.cursor() as cursor:
            for label, sql in _statements(conn_ids, user_ids, tables):
                step = time.perf_counter()
                cursor.execute(sql, params)
                print(f"  {label}: {cursor.rowcount:,} rows, {time.perf_counter() - step:.1f} s")
        step = time.perf_counter()
        # What the threads sync keeps: each order's search document (messaging.search).
        written = order_search_documents_refresh(order_ids=range(1, ORDERS + CONVERSATIONS + 1))
        print(f"  order search documents: {written:,} rows, {time.perf_counter() - step:.1f} s")
        step = time.perf_counter()
        # What the first SLA sweep writes last: the queue's rows (sla.queue).
        written = queue_entries_refresh(now=now)
        print(f"  queue rows: {written:,} rows, {time.perf_counter() - step:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"loaded in {time.perf_counter() - started:.1f} s")


def _user(username: str, first: str, last: str, group):
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username=username, defaults={"first_name": first, "last_name": last}
    )
    user.set_password(PASSWORD)
    user.is_active = True
    user.save()
    user.groups.add(group)
    return user


def _statements(conn_ids: str, user_ids: str, tables: list[str]) -> list[tuple[str, str]]:
    """(label, SQL) of each bulk insert; ``%(name)s`` parameters come from ``_load``."""
    reasons_codes = _sql_array(tuple(code for code, _ in REASONS))
    reasons_labels = _sql_array(tuple(label for _, label in REASONS))
    first = _sql_array(tuple(FIRST_NAMES))
    last = _sql_array(tuple(LAST_NAMES))
    customer = _sql_array(CUSTOMER_PHRASES)
    shop = _sql_array(SHOP_PHRASES)
    operator = _sql_array(OPERATOR_PHRASES)
    nf, nl = len(FIRST_NAMES), len(LAST_NAMES)
    nc, ns, no = len(CUSTOMER_PHRASES), len(SHOP_PHRASES), len(OPERATOR_PHRASES)
    # Order n was created (ORDERS - n) * 700 s before now: about two years.
    created = "%(now)s::timestamptz - ((%(orders)s - n) * interval '700 seconds')"
    return [
        (
            "orders",
            f"""
            INSERT INTO core_order (
                connection_id, mirakl_id, commercial_id, state, state_reason_code,
                state_reason_label, currency, price, shipping_price, total_price,
                has_incident, has_customer_message, fully_refunded, customer_mirakl_id,
                customer_first_name, customer_last_name, customer_locale, customer_email,
                billing_address, shipping_address, shipping_company, shipping_tracking,
                shipping_tracking_url, shipping_type, created_date, last_updated_date,
                synced_at)
            SELECT ({conn_ids})[1 + n %% 2], (59400000 + n)::text || '-A',
                (59400000 + n)::text, 'SHIPPED', '', '', 'EUR', 20 + n %% 500, 4.95,
                24.95 + n %% 500, true, true, false, 'C' || (n %% 40000),
                ({first})[1 + (n * 7) %% {nf}], ({last})[1 + (n * 13) %% {nl}] || ' '
                || ({last})[1 + (n * 17) %% {nl}], 'es_ES', 'cliente' || n || '@correo.example',
                jsonb_build_object('city', 'Madrid', 'street_1', 'Calle Mayor ' || n %% 200),
                jsonb_build_object('city', 'Madrid', 'street_1', 'Calle Mayor ' || n %% 200),
                'SEUR', 'TRK' || n, '', 'STANDARD', {created}, {created}, %(now)s
            FROM generate_series(1, %(orders)s) AS n
            """,  # noqa: S608 - our own constants
        ),
        (
            "order lines",
            f"""
            INSERT INTO core_orderline (
                order_id, mirakl_id, index, state, state_reason_code, state_reason_label,
                offer_sku, product_sku, product_title, category_label, quantity, price_unit,
                price, shipping_price, total_price, taxes, shipping_taxes, cancelations,
                created_date, last_updated_date)
            SELECT n, (59400000 + n)::text || '-A-' || k, k,
                CASE WHEN k = 1 OR n %% 9 = 0 THEN 'INCIDENT_OPEN' ELSE 'SHIPPED' END,
                '', '', 'SKU' || (n %% 3000), 'P' || (n %% 3000),
                ({customer})[1 + n %% {nc}], 'Informática', 1, 10 + n %% 300,
                10 + n %% 300, 0, 10 + n %% 300, '[]', '[]', '[]', {created}, {created}
            FROM generate_series(1, %(orders)s) AS n, generate_series(1, 2) AS k
            """,  # noqa: S608 - our own constants
        ),
        (
            # Incidents 1..ORDERS on the first line of each order; the rest on the second
            # line of every ninth order. Open: the latest orders and every 97th.
            "incidents",
            f"""
            INSERT INTO incidents_incident (
                connection_id, order_id, line_id, episode, state, reason_code, reason_label,
                opened_at, closed_at, first_shop_action_at, resolution_reason_code,
                contested_at, created_at, updated_at)
            SELECT o.connection_id, o.id, l.id, 1,
                CASE WHEN NOT x.open THEN 'closed'
                     WHEN i %% 10 < 3 THEN 'new'
                     WHEN i %% 10 < 8 THEN 'in_progress'
                     WHEN i %% 10 = 8 THEN 'contested' ELSE 'resolved' END,
                ({reasons_codes})[1 + i %% 6], ({reasons_labels})[1 + i %% 6],
                o.created_date + interval '3 days' + (i %% 48) * interval '1 hour',
                CASE WHEN x.open THEN NULL ELSE o.created_date + interval '9 days' END,
                CASE WHEN i %% 10 < 3 THEN NULL
                     ELSE o.created_date + interval '3 days 5 hours' END,
                '', CASE WHEN x.open AND i %% 10 = 8 THEN %(now)s END, %(now)s, %(now)s
            FROM generate_series(1, %(incidents)s) AS i
            CROSS JOIN LATERAL (SELECT CASE WHEN i <= %(orders)s THEN i
                                       ELSE (i - %(orders)s) * 9 END AS n,
                                       CASE WHEN i <= %(orders)s THEN 1 ELSE 2 END AS k) AS p
            JOIN core_order o ON o.id = p.n
            JOIN core_orderline l ON l.order_id = o.id AND l.index = p.k
            CROSS JOIN LATERAL (SELECT (p.n > %(open_from)s OR p.n %% 97 = 0) AS open) AS x
            """,  # noqa: S608 - our own constants
        ),
        _history_statement(tables),
        (
            # One customer thread per order, an operator thread on every tenth.
            "threads",
            """
            INSERT INTO messaging_thread (
                connection_id, mirakl_id, order_id, entity_type, entity_id, topic_type,
                topic_value, date_created, date_updated, authorized_participants,
                current_participants, last_message_at, message_count, shop_reply_needed_since,
                last_sender_type, last_sender_name, no_store_reply_needed, synced_at)
            SELECT o.connection_id, 'T' || o.id || '-' || t, o.id, 'MMP_ORDER', o.mirakl_id,
                'FREE_TEXT', CASE WHEN t = 1 THEN 'Incidencia' ELSE 'Mediación' END,
                o.created_date + interval '3 days', o.created_date + interval '3 days',
                CASE WHEN t = 1
                     THEN '[{"type": "CUSTOMER"}, {"type": "SHOP"}, {"type": "OPERATOR"}]'
                     ELSE '[{"type": "SHOP"}, {"type": "OPERATOR"}]' END::jsonb,
                '[]', NULL, 0, NULL, '', '', '[]', %(now)s
            FROM core_order o, generate_series(1, 2) AS t
            WHERE t = 1 OR o.id %% %(every)s = 0
            ORDER BY o.id, t
            """,
        ),
        (
            # The big order's customer thread gets BIG_THREAD_MESSAGES; the others share
            # the rest round robin (three or four each), alternating customer and shop.
            "messages",
            f"""
            WITH threads AS (
                SELECT id, row_number() OVER (ORDER BY id) AS r, date_created, order_id,
                       entity_id, topic_value
                FROM messaging_thread
                WHERE NOT (order_id = %(big)s AND topic_value = 'Incidencia')
            ), total AS (SELECT count(*) AS n FROM threads),
            big AS (SELECT id, date_created FROM messaging_thread
                    WHERE order_id = %(big)s AND topic_value = 'Incidencia'),
            rows AS (
                SELECT t.id AS thread_id, t.date_created, ((k - 1) / total.n)::int AS seq,
                       t.topic_value, t.entity_id, k
                FROM generate_series(1, {MESSAGES} - %(big_n)s) AS k
                CROSS JOIN total
                JOIN threads t ON t.r = 1 + (k - 1) %% total.n
                UNION ALL
                SELECT big.id, big.date_created, k - 1, 'Incidencia', '', k
                FROM big, generate_series(1, %(big_n)s) AS k
            )
            INSERT INTO messaging_message (thread_id, mirakl_id, author_type, author_role,
                author_name, recipients, body, date_created, attachments)
            SELECT thread_id, 'M' || k,
                CASE WHEN seq %% 2 = 1 THEN 'SHOP'
                     WHEN topic_value = 'Mediación' THEN 'OPERATOR' ELSE 'CUSTOMER' END,
                '', '',
                '[{{"type": "SHOP"}}]'::jsonb,
                CASE WHEN seq %% 2 = 1 THEN ({shop})[1 + k %% {ns}]
                     WHEN topic_value = 'Mediación' THEN ({operator})[1 + k %% {no}]
                     ELSE ({customer})[1 + k %% {nc}] || ' ' || ({customer})[1 + (k / 7) %% {nc}]
                          || ' Pedido ' || entity_id || '.' END,
                date_created + seq * interval '5 hours',
                CASE WHEN k %% 50 = 0
                     THEN jsonb_build_array(jsonb_build_object('id', k, 'name', 'foto.jpg',
                                                               'size', 123456))
                     ELSE '[]'::jsonb END
            FROM rows
            """,  # noqa: S608 - our own constants
        ),
        (
            "thread summaries",
            """
            UPDATE messaging_thread t SET message_count = s.n, last_message_at = s.last,
                date_updated = s.last, last_sender_type = s.author,
                shop_reply_needed_since = CASE
                    WHEN s.author <> 'SHOP' AND t.id %% 3 <> 0 AND EXISTS (
                        SELECT 1 FROM incidents_incident i
                        WHERE i.order_id = t.order_id AND i.closed_at IS NULL)
                    THEN s.last END
            FROM (SELECT DISTINCT ON (thread_id) thread_id, author_type AS author,
                         date_created AS last,
                         count(*) OVER (PARTITION BY thread_id) AS n
                  FROM messaging_message ORDER BY thread_id, date_created DESC) AS s
            WHERE s.thread_id = t.id
            """,
        ),
        (
            "no reply required marks",
            f"""
            INSERT INTO messaging_threadnoreply (thread_id, marked_by_id, reason,
                last_message_at, at)
            SELECT id, ({user_ids})[1], 'El cliente da las gracias.', last_message_at,
                %(now)s
            FROM messaging_thread WHERE id %% 20 = 1
            """,  # noqa: S608 - our own constants
        ),
        (
            # A wait per incident: open for the open ones (restarted by a recent message:
            # on time, nearing and breached mix), stopped for the closed ones.
            "SLA items of incidents",
            """
            INSERT INTO sla_slaitem (kind, connection_id, incident_id, audience, started_at,
                due_at, warn_at, state, stopped_at, stop_reason, created_at, updated_at)
            SELECT 'incident', i.connection_id, i.id, '', w.started,
                w.started + interval '48 hours', w.started + interval '36 hours',
                CASE WHEN i.closed_at IS NOT NULL THEN 'stopped'
                     WHEN w.started + interval '48 hours' < %(now)s THEN 'breached'
                     WHEN w.started + interval '36 hours' <= %(now)s THEN 'nearing'
                     ELSE 'on_time' END,
                CASE WHEN i.closed_at IS NOT NULL THEN i.opened_at + interval '5 hours' END,
                CASE WHEN i.closed_at IS NOT NULL THEN 'shop_reply' ELSE '' END,
                %(now)s, %(now)s
            FROM incidents_incident i
            CROSS JOIN LATERAL (
                SELECT CASE WHEN i.closed_at IS NULL
                            THEN GREATEST(i.opened_at, %(now)s::timestamptz
                                          - (i.id %% 96) * interval '1 hour')
                            ELSE i.opened_at END AS started) AS w
            WHERE i.closed_at IS NOT NULL OR i.id %% 10 <> 9
            """,
        ),
        (
            "SLA items of threads",
            """
            INSERT INTO sla_slaitem (kind, connection_id, thread_id, audience, started_at,
                due_at, warn_at, state, stopped_at, stop_reason, created_at, updated_at)
            SELECT 'thread', t.connection_id, t.id, 'CUSTOMER', t.shop_reply_needed_since,
                t.shop_reply_needed_since + interval '48 hours',
                t.shop_reply_needed_since + interval '36 hours',
                CASE WHEN t.shop_reply_needed_since + interval '48 hours' < %(now)s
                     THEN 'breached' ELSE 'on_time' END,
                NULL, '', %(now)s, %(now)s
            FROM messaging_thread t WHERE t.shop_reply_needed_since IS NOT NULL
            """,
        ),
        *conversation_statements(customer, nc, operator, no, shop, ns),
        (
            "assignments",
            f"""
            INSERT INTO incidents_incidentassignment (incident_id, assignee_id, assigned_at)
            SELECT id, ({user_ids})[1 + (id / 5) %% {len(OTHER_AGENTS) + 1}], %(now)s
            FROM incidents_incident WHERE closed_at IS NULL AND id %% 5 = 0
            """,  # noqa: S608 - our own constants
        ),
        (
            "incidents seen",
            f"""
            INSERT INTO incidents_incidentseen (incident_id, user_id, seen_at)
            SELECT id, ({user_ids})[1], %(now)s - interval '1 day'
            FROM incidents_incident WHERE closed_at IS NULL AND id %% 7 = 0
            """,  # noqa: S608 - our own constants
        ),
    ]


def _history_statement(tables: list[str]) -> tuple[str, str]:
    """Opened (and closed) entries of every incident, where the history is kept."""
    if "incidents_incidentevent" in tables:
        return (
            "incident events",
            """
            INSERT INTO incidents_incidentevent (incident_id, kind, from_state, to_state,
                source, note, at)
            SELECT id, 'opened', '', 'new', 'sync', '', opened_at FROM incidents_incident
            UNION ALL
            SELECT id, 'closed', 'in_progress', 'closed', 'sync', '', closed_at
            FROM incidents_incident WHERE closed_at IS NOT NULL
            """,
        )
    return (
        "audit log",
        """
        INSERT INTO incidents_auditentry (at, actor_name, source, action, connection_id,
            order_id, incident_id, from_state, to_state, detail, data)
        SELECT opened_at, '', 'sync', 'incident_opened', connection_id, order_id, id, '',
            'new', '', '{}'::jsonb FROM incidents_incident
        UNION ALL
        SELECT closed_at, '', 'sync', 'incident_closed', connection_id, order_id, id,
            'in_progress', 'closed', '', '{}'::jsonb
        FROM incidents_incident WHERE closed_at IS NOT NULL
        """,
    )


def print_counts() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        counts = []
        for table in (
            "core_order",
            "core_orderline",
            "incidents_incident",
            "messaging_thread",
            "messaging_message",
            "sla_slaitem",
            "incidents_incidentassignment",
        ):
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
            counts.append(f"{table.split('_', 1)[1]} {cursor.fetchone()[0]:,}")
        cursor.execute("SELECT count(*) FROM incidents_incident WHERE closed_at IS NULL")
        counts.append(f"open incidents {cursor.fetchone()[0]:,}")
    print(", ".join(counts))
