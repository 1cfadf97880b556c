"""SLA benchmark: the sweep over 100,000 open waits, and deadline computations per second.

``python -m bench.sla_bench`` (DATABASE_URL defaults to the benchmark database, created
and migrated if missing; its synced and SLA tables are emptied first). Prints figures;
not part of the test suite. Reports each figure with PASS/FAIL (``bench.report``).
Targets: the first sweep ever over 100,000 open waits ≤ 5 s; a later sweep (six hours
on) ≤ 0.5 s and one with nothing changed ≤ 0.1 s; ≥ 100,000 deadlines per second for
each kind of policy; the search documents of 90,000 orders with 300,000 messages (what
the threads sync keeps beside the SLA: ``messaging.search``) built in ≤ 10 s.

The open items are made by the sweep itself, from 100,000 open incidents and waiting
threads (the "initial backfill", timed and printed apart: a one-off that inserts
every item, bounded by Postgres's index and constraint work rather than by Python).
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bench.common import QueryCounter, setup_django, truncate_synced_tables
from bench.report import failed, figure

__all__ = ["main"]

ITEMS = int(os.environ.get("SLA_BENCH_ITEMS", "100000"))
SEARCH_ORDERS = int(os.environ.get("SLA_BENCH_SEARCH_ORDERS", "90000"))
DEADLINE_CALLS = 200_000
BATCH = 5000
SPREAD = timedelta(hours=96)


def _load(now: datetime) -> None:
    """Half open incidents, half threads waiting on a customer message, on two marketplaces.

    Waits started over the last four days; rows were last changed when they started,
    as after a sync long ago, so only the latest few fall inside the sweep's overlap.
    """
    from django.db.models import F

    from core.models import MarketplaceConnection, Order, OrderLine
    from incidents.models import Incident
    from messaging.models import Message, Thread

    rng = random.Random(7)  # noqa: S311 - benchmark data
    connections = [
        MarketplaceConnection.objects.create(
            code=code, name=code, base_url="http://127.0.0.1:9", api_key="k", sla_policy=code
        )
        for code in ("pccomponentes", "mediamarkt")
    ]
    incidents = ITEMS // 2
    threads = ITEMS - incidents
    for offset in range(0, incidents, BATCH):
        size = min(BATCH, incidents - offset)
        starts = [now - SPREAD * rng.random() for _ in range(size)]
        conns = [connections[(offset + i) % 2] for i in range(size)]
        orders = Order.objects.bulk_create(
            Order(
                connection=conns[i],
                mirakl_id=f"B{offset + i}-A",
                state="RECEIVED",
                created_date=starts[i] - timedelta(days=5),
                last_updated_date=starts[i],
                synced_at=starts[i],
            )
            for i in range(size)
        )
        lines = OrderLine.objects.bulk_create(
            OrderLine(order=orders[i], mirakl_id="1", state="INCIDENT_OPEN", price=Decimal(10))
            for i in range(size)
        )
        Incident.objects.bulk_create(
            Incident(
                connection=conns[i],
                order=orders[i],
                line=lines[i],
                opened_at=starts[i],
                created_at=starts[i],
            )
            for i in range(size)
        )
    # bulk_create sets auto_now fields to the present: put them back to the opening.
    Incident.objects.update(updated_at=F("opened_at"))
    for offset in range(0, threads, BATCH):
        size = min(BATCH, threads - offset)
        starts = [now - SPREAD * rng.random() for _ in range(size)]
        rows = Thread.objects.bulk_create(
            Thread(
                connection=connections[(offset + i) % 2],
                mirakl_id=f"T{offset + i}",
                entity_type="MMP_ORDER",
                date_created=starts[i],
                date_updated=starts[i],
                last_message_at=starts[i],
                message_count=1,
                shop_reply_needed_since=starts[i],
                last_sender_type="CUSTOMER",
                synced_at=starts[i],
            )
            for i in range(size)
        )
        Message.objects.bulk_create(
            Message(
                thread=rows[i],
                mirakl_id="1",
                author_type="CUSTOMER",
                recipients=[{"type": "SHOP"}, {"type": "OPERATOR"}],
                body="¿Dónde está mi pedido?",
                date_created=starts[i],
            )
            for i in range(size)
        )


def _load_conversations(now: datetime) -> list[int]:
    """SEARCH_ORDERS orders more, each with a thread (every tenth a second one) of three
    messages, alternately the customer's and the shop's (about 300,000 for 90,000
    orders), as the inbox benchmark's; returns their ids."""
    from django.db import connection

    from bench.inbox_data import CUSTOMER_PHRASES, SHOP_PHRASES, _sql_array

    customer, shop = _sql_array(CUSTOMER_PHRASES), _sql_array(SHOP_PHRASES)
    nc, ns = len(CUSTOMER_PHRASES), len(SHOP_PHRASES)
    params = {"now": now, "orders": SEARCH_ORDERS}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO core_order (connection_id, mirakl_id, commercial_id, state,
                state_reason_code, state_reason_label, currency, price, shipping_price,
                total_price, has_incident, has_customer_message, fully_refunded,
                customer_mirakl_id, customer_first_name, customer_last_name, customer_locale,
                customer_email, billing_address, shipping_address, shipping_company,
                shipping_tracking, shipping_tracking_url, shipping_type, created_date,
                last_updated_date, synced_at)
            SELECT (SELECT min(id) FROM core_marketplaceconnection), 'S' || n || '-A',
                'S' || n, 'SHIPPED', '', '', 'EUR', 20, 4.95, 24.95, false, true, false,
                'C' || n, 'Lucía', 'Martín', 'es_ES', '', '{}', '{}', 'SEUR', '', '', '',
                %(now)s - interval '3 days', %(now)s - interval '3 days', %(now)s
            FROM generate_series(1, %(orders)s) AS n
            RETURNING id
            """,
            params,
        )
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            """
            INSERT INTO messaging_thread (connection_id, mirakl_id, order_id, entity_type,
                entity_id, topic_type, topic_value, date_created, date_updated,
                authorized_participants, current_participants, message_count,
                last_sender_type, last_sender_name, no_store_reply_needed, synced_at)
            SELECT o.connection_id, 'S' || o.id || '-' || t, o.id, 'MMP_ORDER', o.mirakl_id,
                'FREE_TEXT', 'Pedido', o.created_date, o.created_date, '[]', '[]', 3, 'SHOP',
                '', '[]', %(now)s
            FROM core_order o, generate_series(1, 2) AS t
            WHERE o.mirakl_id LIKE 'S%%' AND (t = 1 OR o.id %% 10 = 0)
            """,
            params,
        )
        cursor.execute(
            f"""
            INSERT INTO messaging_message (thread_id, mirakl_id, author_type, author_role,
                author_name, recipients, body, date_created, attachments)
            SELECT t.id, 'M' || k, CASE WHEN k = 2 THEN 'SHOP' ELSE 'CUSTOMER' END, '', '',
                '[]', CASE WHEN k = 2 THEN ({shop})[1 + (t.id + k) %% {ns}]
                           ELSE ({customer})[1 + (t.id + k) %% {nc}] || ' Pedido '
                                || t.entity_id || '.' END,
                t.date_created + k * interval '5 hours', '[]'
            FROM messaging_thread t, generate_series(1, 3) AS k
            WHERE t.mirakl_id LIKE 'S%%'
            """,  # noqa: S608 - our own constants
            params,
        )
    return ids


#: CPU seconds of the last :func:`_timed` run: this process's, and its Postgres backend's.
LAST_CPU: dict[str, float] = {"python": 0.0, "postgres": 0.0}


def _backend_cpu() -> float:
    """CPU seconds used so far by this connection's Postgres backend (same machine), or 0."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _timed(label: str, run: Callable[[], object]) -> tuple[float, object]:
    """Run and time ``run``: wall time, and CPU on both sides (which the machine's load
    does not inflate) in :data:`LAST_CPU`."""
    from django.db import connection

    counter = QueryCounter()
    backend = _backend_cpu()
    with connection.execute_wrapper(counter):
        cpu = time.process_time()
        started = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - started
        LAST_CPU["python"] = time.process_time() - cpu
    LAST_CPU["postgres"] = _backend_cpu() - backend
    print(
        f"{label}: {elapsed:.3f} s, {counter.count} queries; CPU {LAST_CPU['python']:.2f} s "
        f"here, {LAST_CPU['postgres']:.2f} s in Postgres"
    )
    return elapsed, result


def _rate(label: str, call: Callable[[datetime], object], starts: list[datetime]) -> float:
    started = time.perf_counter()
    for start in starts:
        call(start)
    rate = len(starts) / (time.perf_counter() - started)
    print(f"{label}: {rate:,.0f} calls/s")
    return rate


def main() -> int:
    setup_django()
    from django.db import connection
    from django.utils import timezone

    from messaging.search import order_search_documents_refresh
    from sla.models import SlaBreach, SlaItem
    from sla.policies import rule_resolve, rules_by_preset
    from sla.services import sla_sweep

    now = timezone.now().replace(microsecond=0)
    truncate_synced_tables()
    started = time.perf_counter()
    _load(now)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"loaded {ITEMS:,} open waits in {time.perf_counter() - started:.1f} s")

    def describe(result) -> str:
        return (
            f"    created {result.created:,}, nearing {result.nearing:,}, "
            f"breached {result.breached:,}, breaches {result.breaches_created:,}"
        )

    backfill, result = _timed(
        "initial backfill: the first sweep ever creates every item", lambda: sla_sweep(now=now)
    )
    backfill_cpu = dict(LAST_CPU)
    print(describe(result))
    assert SlaItem.objects.filter(stopped_at__isnull=True).count() == ITEMS
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE sla_slaitem")
    _timed("  then again at once, nothing changed", lambda: sla_sweep(now=now))
    later = now + timedelta(hours=6)
    first, result = _timed(
        f"first sweep over {ITEMS:,} open items, six hours later", lambda: sla_sweep(now=later)
    )
    print(describe(result))
    idle, result = _timed("second sweep, nothing changed", lambda: sla_sweep(now=later))
    print(describe(result))
    print(f"    breaches kept {SlaBreach.objects.count():,}")

    started = time.perf_counter()
    search_ids = _load_conversations(now)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"loaded {len(search_ids):,} orders with conversations in "
        f"{time.perf_counter() - started:.1f} s"
    )
    search, written = _timed(
        f"search documents of {len(search_ids):,} orders, the first time",
        lambda: order_search_documents_refresh(order_ids=search_ids),
    )
    search_cpu = dict(LAST_CPU)
    print(f"    written {written:,}")
    _timed(
        "  then again, nothing changed",
        lambda: order_search_documents_refresh(order_ids=search_ids),
    )

    rules = rules_by_preset()
    business = rule_resolve(rules, "pccomponentes")
    wall = rule_resolve(rules, "mediamarkt")
    rng = random.Random(11)  # noqa: S311 - benchmark data
    starts = [
        now - timedelta(minutes=rng.randrange(0, 60 * 24 * 365)) for _ in range(DEADLINE_CALLS)
    ]
    business_rate = _rate("deadline, business hours (PcComponentes)", business.due, starts)
    wall_rate = _rate("deadline, wall clock (MediaMarkt)", wall.due, starts)
    _rate("due and warning together, business hours", business.due_and_warn, starts)

    print()
    figure(
        "sla.first_sweep_s",
        backfill,
        "s",
        at_most=5.0,
        note=f"the first sweep ever, over {ITEMS:,} open waits",
    )
    figure(
        "sla.first_sweep_cpu_s",
        backfill_cpu["python"] + backfill_cpu["postgres"],
        "s",
        note=(
            f"{backfill_cpu['python']:.2f} s Python + {backfill_cpu['postgres']:.2f} s "
            "Postgres: about the wall time on an idle machine"
        ),
    )
    figure("sla.later_sweep_s", first, "s", at_most=0.5, note="six hours later")
    figure("sla.idle_sweep_s", idle, "s", at_most=0.1, note="nothing changed")
    figure(
        "sla.search_documents_s",
        search,
        "s",
        at_most=10.0,
        note=(
            f"{len(search_ids):,} orders' documents built; CPU {search_cpu['python']:.2f} s "
            f"Python + {search_cpu['postgres']:.2f} s Postgres"
        ),
    )
    figure("sla.business_deadlines_per_s", business_rate, "calls/s", at_least=100_000)
    figure("sla.wall_deadlines_per_s", wall_rate, "calls/s", at_least=100_000)
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
