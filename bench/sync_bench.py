"""Benchmark of the sync: a full sync of a large sandbox shop, then a no-op re-sync.

Prints orders/s, HTTP requests, SQL statements, and the ratio of the sync's total time
to the time of fetching (and parsing) the same pages alone — the database's share.
Targets: ratio ≤ 1.5; an incremental sync with nothing changed ≤ 2 requests per
resource and < 1 s; the sandbox serves a 100-item page in a few ms.

    python -m bench.sync_bench [--orders 13000]
"""

from __future__ import annotations

import argparse
import time

import requests

from bench.common import (
    SANDBOX_KEY,
    QueryCounter,
    median_ms,
    sandbox_process,
    setup_django,
    truncate_synced_tables,
)


def fetch_only(base_url: str) -> tuple[float, int, float]:
    """Read every page the sync reads, parsing included, writing nothing."""
    from mirakl.client import MiraklClient

    with MiraklClient(base_url=base_url, api_key=SANDBOX_KEY) as client:
        started = time.perf_counter()
        cpu = time.process_time()
        for _page in client.iter_order_pages():
            pass
        for page in client.iter_thread_pages():
            for thread in page.data:
                total = thread.metadata.total_count if thread.metadata else 0
                if total and total > len(thread.messages):
                    client.get_thread(thread.id)
        client.list_reasons()
        return time.perf_counter() - started, client.request_count, time.process_time() - cpu


def page_latency(base_url: str) -> tuple[float, float]:
    session = requests.Session()
    session.headers["Authorization"] = SANDBOX_KEY
    orders, threads = [], []
    for i in range(30):
        started = time.perf_counter()
        session.get(
            f"{base_url}/api/orders", params={"max": 100, "offset": i * 100}
        ).raise_for_status()
        orders.append(time.perf_counter() - started)
        started = time.perf_counter()
        session.get(
            f"{base_url}/api/inbox/threads", params={"limit": 100, "with_messages": "true"}
        ).raise_for_status()
        threads.append(time.perf_counter() - started)
    return median_ms(orders), median_ms(threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=13000)
    args = parser.parse_args()

    setup_django()
    from django.db import connection as db

    from core.models import MarketplaceConnection, Order
    from core.sync.runner import marketplace_sync
    from incidents.models import Incident
    from messaging.models import Message, Thread
    from mirakl.client import MiraklClient

    truncate_synced_tables()
    print(f"Starting the sandbox with {args.orders} orders…")
    with sandbox_process("--orders", str(args.orders), "--seed", "3") as base_url:
        state = requests.get(
            f"{base_url}/_sandbox/state", headers={"Authorization": SANDBOX_KEY}, timeout=10
        ).json()
        order_ms, thread_ms = page_latency(base_url)
        fetch_seconds, fetch_requests, fetch_cpu = fetch_only(base_url)

        connection = MarketplaceConnection.objects.create(
            code="bench", name="Bench", base_url=base_url, api_key=SANDBOX_KEY
        )
        counter = QueryCounter()
        with (
            MiraklClient(base_url=base_url, api_key=SANDBOX_KEY) as client,
            db.execute_wrapper(counter),
        ):
            started = time.perf_counter()
            cpu = time.process_time()
            results = marketplace_sync(connection=connection, client=client, full=True)
            sync_seconds = time.perf_counter() - started
            sync_cpu = time.process_time() - cpu
            sync_requests = client.request_count
        assert all(r.ok for r in results), [r.error for r in results]

        # The first incremental run re-reads what changed while the full sync ran and
        # within the overlap; the second is the steady state of "nothing changed".
        incremental_runs = []
        for _run in range(2):
            statements = QueryCounter()
            with (
                MiraklClient(base_url=base_url, api_key=SANDBOX_KEY) as client,
                db.execute_wrapper(statements),
            ):
                started = time.perf_counter()
                again = marketplace_sync(connection=connection, client=client)
                incremental_runs.append((time.perf_counter() - started, again, statements.count))

    orders = Order.objects.count()
    print()
    print(f"sandbox data set          {state}")
    print(f"sandbox page (100 orders) {order_ms:8.1f} ms median")
    print(f"sandbox page (100 threads with messages) {thread_ms:8.1f} ms median")
    print(
        f"synced                    {orders} orders, {Thread.objects.count()} threads, "
        f"{Message.objects.count()} messages, {Incident.objects.count()} incidents"
    )
    print(
        f"fetch only                {fetch_seconds:8.2f} s, {fetch_requests} requests, "
        f"{fetch_cpu:.2f} s CPU"
    )
    print(
        f"full sync                 {sync_seconds:8.2f} s, {sync_requests} requests, "
        f"{counter.count} SQL statements, {sync_cpu:.2f} s CPU"
    )
    print(f"orders/s                  {orders / sync_seconds:8.0f}")
    print(f"sync / fetch ratio        {sync_seconds / fetch_seconds:8.2f}   (target ≤ 1.5)")
    labels = ("incremental, first", "incremental, no change")
    for label, (seconds, results, statements) in zip(labels, incremental_runs, strict=True):
        per_resource = ", ".join(f"{r.resource} {r.requests}" for r in results)
        print(f"{label:<26}{seconds:8.3f} s, requests: {per_resource}, {statements} SQL statements")
    print("targets: ratio ≤ 1.5; with nothing changed < 1 s and ≤ 2 requests per resource")


if __name__ == "__main__":
    main()
