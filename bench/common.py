"""Shared set-up of the benchmarks: a database of their own and a sandbox process."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import requests

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/incidesk_bench"
SANDBOX_KEY = "bench-key"

__all__ = [
    "SANDBOX_KEY",
    "QueryCounter",
    "drop_database",
    "median_ms",
    "sandbox_process",
    "setup_django",
    "truncate_synced_tables",
]


def setup_django() -> None:
    """Point Django at the benchmark database (created if missing) and migrate it.

    A database migrated before the migrations were last reset (their history no longer
    fits the migration files) is dropped and made again.
    """
    os.environ.setdefault("DATABASE_URL", BENCH_DATABASE_URL)
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    _create_database(os.environ["DATABASE_URL"])
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command
    from django.db import connections
    from django.db.migrations.exceptions import InconsistentMigrationHistory

    django.setup()
    try:
        call_command("migrate", verbosity=0)
    except InconsistentMigrationHistory:
        print("the benchmark database predates the current migrations: making it again")
        connections.close_all()
        drop_database(os.environ["DATABASE_URL"])
        _create_database(os.environ["DATABASE_URL"])
        call_command("migrate", verbosity=0)


def drop_database(url: str) -> None:
    """Drop a benchmark's database (Postgres): a rebuild starts from a fresh, migrated one.

    (Truncating instead would meet the append-only audit log's guards.)
    """
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql"}:
        return
    import psycopg2

    name = parsed.path.lstrip("/")
    conn = psycopg2.connect(
        host=parsed.hostname,
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        dbname="postgres",
    )
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def _create_database(url: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql"}:
        return
    import psycopg2

    name = parsed.path.lstrip("/")
    conn = psycopg2.connect(
        host=parsed.hostname,
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        dbname="postgres",
    )
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')  # noqa: S608 - our own constant
    conn.close()


def truncate_synced_tables() -> None:
    """Empty what a sync writes and what is derived from it, for a run from scratch.

    The SLA's items, breaches and queue name the synced rows by keys the database does
    not enforce: ``CASCADE`` does not reach them, so they are named here, or a benchmark
    would meet the last run's rows (a first sweep that is not a first, a queue of
    orders that are gone).
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE core_marketplaceconnection, core_order, core_orderline, "
            "incidents_incident, incidents_auditentry, core_synccursor, "
            "core_syncrun, core_marketplacereason, messaging_thread, "
            "messaging_message, refunds_refund, core_outboxentry, "
            "sla_slaitem, sla_slabreach, sla_sweepstate, sla_queueentry CASCADE"
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def sandbox_process(*args: str) -> Iterator[str]:
    """Run the sandbox in its own process (as in production, Mirakl is elsewhere)."""
    port = _free_port()
    command = [
        sys.executable,
        str(ROOT / "manage.py"),
        "mirakl_sandbox",
        "--port",
        str(port),
        "--api-key",
        SANDBOX_KEY,
        *args,
    ]
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(  # noqa: S603 - our own command line
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode() if process.stderr else "died")
            try:
                requests.get(
                    f"{base_url}/_sandbox/state", headers={"Authorization": SANDBOX_KEY}, timeout=1
                ).raise_for_status()
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


class QueryCounter:
    """Counts the SQL statements Django sends (``connection.execute_wrapper``)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable, sql: str, params, many: bool, context):
        self.count += 1
        return execute(sql, params, many, context)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000
