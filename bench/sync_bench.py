"""Benchmark of the sync: a full sync of a large sandbox shop, then a no-op re-sync.

Reports (``bench.report``, PASS/FAIL and a JSON line each) the full sync's wall time,
its CPU time (this process's: the sync's own work, not Postgres's nor the sandbox's),
orders/s, and the ratio of its wall time to the raw transfer time: the very pages it
read (their URLs recorded as it ran), fetched again as bytes, neither parsed nor
written. Then an incremental sync with nothing changed: its time and its requests per
resource. Targets: ≤ 6 s wall, ≤ 5 s CPU, ≥ 2,000 orders/s, ratio ≤ 4; with nothing
changed < 0.2 s and ≤ 2 requests per resource. Also printed, for information: the
time of fetching *and parsing* the same pages, HTTP requests and SQL statements, and
what the job the sync queues as it ends costs (the search documents of the orders whose
threads it wrote, :mod:`messaging.search`), run here as a sync worker runs it, right
after the sync: its time, and the sync's and its together.

    python -m bench.sync_bench [--orders 13000]   (or: python -m bench sync)
"""

from __future__ import annotations

import argparse
import sys
import time
from unittest import mock

import requests

from bench.common import (
    SANDBOX_KEY,
    QueryCounter,
    median_ms,
    sandbox_process,
    setup_django,
    truncate_synced_tables,
)
from bench.report import failed, figure

TARGET_WALL_S = 6.0
TARGET_CPU_S = 5.0
TARGET_ORDERS_PER_S = 2000.0
TARGET_TRANSFER_RATIO = 4.0
TARGET_IDLE_S = 0.2
TARGET_IDLE_REQUESTS = 2


def fetch_only(base_url: str) -> tuple[float, int, float]:
    """Read every page the sync reads, parsing included, writing nothing."""
    from mirakl.client import MiraklClient

    with MiraklClient(base_url=base_url, api_key=SANDBOX_KEY) as client:
        started = time.perf_counter()
        cpu = time.process_time()
        for _page in client.iter_order_record_pages():
            pass
        for page in client.iter_thread_record_pages():
            for thread in page.data:
                total = thread.metadata.total_count if thread.metadata else 0
                if total and total > len(thread.messages):
                    client.get_thread_record(thread.id)
        client.list_reasons()
        return time.perf_counter() - started, client.request_count, time.process_time() - cpu


def raw_transfer(urls: list[str]) -> float:
    """Seconds to fetch these pages as bytes (one session, nothing parsed): the wire's share.

    The best of three rounds: the figure is the floor the sync is compared with.
    """
    session = requests.Session()
    session.headers["Authorization"] = SANDBOX_KEY
    session.headers["Accept"] = "application/json"
    rounds = []
    for _round in range(3):
        started = time.perf_counter()
        for url in urls:
            response = session.get(url, timeout=30)
            response.raise_for_status()
            _ = response.content
        rounds.append(time.perf_counter() - started)
    session.close()
    return min(rounds)


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=13000)
    args = parser.parse_args()

    setup_django()
    from django.db import connection as db

    from core.models import MarketplaceConnection, Order
    from core.sync.runner import marketplace_sync
    from incidents.models import Incident
    from messaging.models import Message, OrderSearchDocument, Thread
    from messaging.tasks import order_search_documents_task
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
        # Every URL the sync reads, in order, to fetch them again as bytes afterwards.
        urls: list[str] = []
        session = requests.Session()
        session.hooks["response"].append(lambda response, *a, **k: urls.append(response.url))
        # The jobs the sync queues (no broker here): run below as a sync worker runs them.
        jobs: list[tuple] = []
        queued = mock.patch.object(
            order_search_documents_task, "delay", side_effect=lambda *a: jobs.append(a)
        )
        with (
            MiraklClient(base_url=base_url, api_key=SANDBOX_KEY, session=session) as client,
            db.execute_wrapper(counter),
            queued,
        ):
            started = time.perf_counter()
            cpu = time.process_time()
            results = marketplace_sync(connection=connection, client=client, full=True)
            sync_seconds = time.perf_counter() - started
            sync_cpu = time.process_time() - cpu
            sync_requests = client.request_count
        session.close()
        assert all(r.ok for r in results), [r.error for r in results]
        started = time.perf_counter()
        cpu = time.process_time()
        for args in jobs:
            order_search_documents_task(*args)
        job_seconds = time.perf_counter() - started
        job_cpu = time.process_time() - cpu
        documents = OrderSearchDocument.objects.count()
        raw_seconds = raw_transfer(urls)

        # The first incremental run re-reads what changed while the full sync ran and
        # within the overlap; the second is the steady state of "nothing changed".
        incremental_runs = []
        for _run in range(2):
            statements = QueryCounter()
            with (
                MiraklClient(base_url=base_url, api_key=SANDBOX_KEY) as client,
                db.execute_wrapper(statements),
                queued,
            ):
                started = time.perf_counter()
                cpu = time.process_time()
                again = marketplace_sync(connection=connection, client=client)
                incremental_runs.append(
                    (
                        time.perf_counter() - started,
                        time.process_time() - cpu,
                        again,
                        statements.count,
                    )
                )

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
        f"fetch and parse only      {fetch_seconds:8.2f} s, {fetch_requests} requests, "
        f"{fetch_cpu:.2f} s CPU"
    )
    print(f"raw transfer              {raw_seconds:8.2f} s, {len(urls)} pages as bytes")
    print(
        f"full sync                 {sync_seconds:8.2f} s, {sync_requests} requests, "
        f"{counter.count} SQL statements, {sync_cpu:.2f} s CPU"
    )
    print(
        f"search documents job      {job_seconds:8.2f} s, {job_cpu:.2f} s CPU, "
        f"{len(jobs)} job(s) queued by the sync, {documents} documents"
    )
    labels = ("incremental, first", "incremental, no change")
    for label, (seconds, cpu_s, results, statements) in zip(labels, incremental_runs, strict=True):
        per_resource = ", ".join(f"{r.resource} {r.requests}" for r in results)
        print(
            f"{label:<26}{seconds:8.3f} s, {cpu_s:.3f} s CPU, requests: {per_resource}, "
            f"{statements} SQL statements"
        )
    print()
    figure("sync.full.wall_s", sync_seconds, "s", at_most=TARGET_WALL_S, orders=orders)
    figure("sync.full.cpu_s", sync_cpu, "s", at_most=TARGET_CPU_S, note="the sync's process")
    figure(
        "sync.full.orders_per_s", orders / sync_seconds, "orders/s", at_least=TARGET_ORDERS_PER_S
    )
    figure(
        "sync.full.transfer_ratio",
        sync_seconds / raw_seconds,
        "x",
        at_most=TARGET_TRANSFER_RATIO,
        note=f"sync ÷ raw transfer of the same {len(urls)} pages ({raw_seconds:.2f} s)",
    )
    figure("sync.full.sql_statements", counter.count, "statements")
    figure(
        "sync.search_documents_job.wall_s",
        job_seconds,
        "s",
        cpu_s=round(job_cpu, 3),
        jobs=len(jobs),
        documents=documents,
        note="queued by the full sync as it ends, run right after it",
    )
    figure(
        "sync.full_and_job.wall_s",
        sync_seconds + job_seconds,
        "s",
        transfer_ratio=round((sync_seconds + job_seconds) / raw_seconds, 2),
        note="the full sync, then its search documents job",
    )
    figure("sync.fetch_parse.wall_s", fetch_seconds, "s", cpu_s=round(fetch_cpu, 3))
    idle_seconds, idle_cpu, idle_results, idle_statements = incremental_runs[-1]
    figure(
        "sync.incremental_idle.wall_s",
        idle_seconds,
        "s",
        below=TARGET_IDLE_S,
        cpu_s=round(idle_cpu, 4),
        sql_statements=idle_statements,
    )
    figure(
        "sync.incremental_idle.max_requests_per_resource",
        max(r.requests for r in idle_results),
        "requests",
        at_most=TARGET_IDLE_REQUESTS,
        note=", ".join(f"{r.resource} {r.requests}" for r in idle_results),
    )
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
