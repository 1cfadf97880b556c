"""The embedded default end to end, as a newcomer's first ``make demo`` runs it.

No Postgres, no Redis: SQLite and Celery's file-system broker in a folder of their own
(``VAR_DIR``), every step a separate process as in the demo: ``migrate``,
``demo_setup``, a Celery worker that syncs the two sandbox shops when it is ready (the
task goes through the file-system broker), ``sla_sweep``, then the web server answering
the demo's agent: the login, the queue and an incident's order page.

The two sandboxes run in this process, on free ports, seeded as ``Procfile.demo`` seeds
them.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mirakl.sandbox import SandboxServer

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
CELERY = str(Path(sys.executable).with_name("celery"))
#: (api key, shop id, seed) of each demo sandbox (Procfile.demo, demo_setup).
SHOPS = (("demo-pccomponentes-key", "2051", 1), ("demo-mediamarkt-key", "4552", 2))
STEP_TIMEOUT = 240
#: Every queue (Procfile.demo has a worker per queue; one reads them all here).
QUEUES = "sync,outbox,sla,celery"


@pytest.fixture
def sandboxes() -> Iterator[list[SandboxServer]]:
    servers = [
        SandboxServer(port=0, api_key=key, shop_id=shop_id, seed=seed)
        for key, shop_id, seed in SHOPS
    ]
    for server in servers:
        server.start()
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def embedded_env(tmp_path) -> dict[str, str]:
    """The environment of a fresh checkout: no database or broker configured."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "VAR_DIR": str(tmp_path / "var"),
        "PYTHONUNBUFFERED": "1",
        "REMAP_SIGTERM": "SIGQUIT",
    }
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own command
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _synced(database: Path) -> bool:
    """Orders and messages of both connections synced (read from SQLite directly)."""
    if not database.exists():
        return False
    with sqlite3.connect(database, timeout=30) as db:
        rows = db.execute(
            "SELECT COUNT(*) FROM core_synccursor WHERE last_success_at IS NOT NULL "
            "AND resource IN ('orders', 'threads')"
        ).fetchone()
    return rows[0] >= 4


def _stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.stdout.read() if process.stdout else ""


def test_the_embedded_default_end_to_end(embedded_env, sandboxes, tmp_path) -> None:
    env = embedded_env
    database = Path(env["VAR_DIR"]) / "incidesk.sqlite3"
    _manage(env, "migrate", "--no-input", "-v0")
    ports = ",".join(str(s.port) for s in sandboxes)
    out = _manage(env, "demo_setup", "--ports", ports)
    assert "'agente'" in out and "'gestor'" in out

    # The worker syncs every marketplace once it is ready, through the file-system broker.
    worker = subprocess.Popen(  # noqa: S603 - our own command
        [CELERY, "-A", "config", "worker", "--pool", "solo", "-l", "info", "-Q", QUEUES],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + STEP_TIMEOUT
        while not _synced(database):
            assert worker.poll() is None, _stop(worker)
            assert time.monotonic() < deadline, "no sync within the time:\n" + _stop(worker)
            time.sleep(1)
    finally:
        log = _stop(worker)
    assert "sync_all_marketplaces_task" in log
    assert (Path(env["VAR_DIR"]) / "celery" / "queue").is_dir()

    out = _manage(env, "sla_sweep")
    assert "items:" in out

    with sqlite3.connect(database) as db:
        incident_pk, order_pk, order_id = db.execute(
            "SELECT i.id, o.id, o.mirakl_id FROM incidents_incident i "
            "JOIN core_order o ON o.id = i.order_id WHERE i.closed_at IS NULL "
            "ORDER BY i.id LIMIT 1"
        ).fetchone()

    port = _free_port()
    web = subprocess.Popen(  # noqa: S603 - our own command
        [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        session = requests.Session()
        deadline = time.monotonic() + 60
        while True:
            try:
                login = session.get(f"{base}/accounts/login/", timeout=10)
                break
            except requests.ConnectionError:
                assert web.poll() is None and time.monotonic() < deadline, _stop(web)
                time.sleep(0.5)
        assert login.status_code == 200
        token = session.cookies["csrftoken"]
        answer = session.post(
            f"{base}/accounts/login/",
            data={"username": "agente", "password": "agente", "csrfmiddlewaretoken": token},
            headers={"Referer": f"{base}/accounts/login/"},
            timeout=30,
        )
        assert answer.status_code == 200 and "/accounts/login/" not in answer.url

        queue = session.get(f"{base}/incidents/", timeout=30)
        assert queue.status_code == 200
        assert order_id in queue.text or re.search(r"\d{8}-A", queue.text)
        for url in (f"/incidents/{incident_pk}/", f"/orders/{order_pk}/"):
            page = session.get(f"{base}{url}", timeout=30)
            if url.startswith("/orders/") and page.status_code == 404:
                continue  # the order page, once the desk has one
            assert page.status_code == 200, url
            assert order_id in page.text, url
    finally:
        _stop(web)
