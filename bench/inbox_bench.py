"""Inbox benchmark: the queue, incident and order pages over 100,000 incidents (300,000
messages) and 100,000 conversations without incident.

``python -m bench.inbox_bench [--rebuild] [--skip-load] [--duration S] [--clients N]
[--think S]`` (DATABASE_URL defaults to a database of its own, ``incidesk_bench_inbox``,
created and migrated if missing). The data set is written straight into Postgres with
``INSERT … SELECT generate_series`` (one to two minutes) and kept for the next run;
``--rebuild`` drops the database and makes it again. Prints figures and PASS/FAIL (exit
status 1 on FAIL); not part of the test suite.

Targets (each reported by ``bench.report``: PASS/FAIL and a JSON line): every queue page
(``queue.*``: its views, filters, searches and pages) ≤ 100 ms server time at p95 and
≤ 15 queries; every queue view, incident and order page ≤ 50 ms at p95 once warm, ≤ 12 ms
median CPU and ≤ 15 queries (``inbox.pages.*``); 64 concurrent clients for 30 s against
gunicorn with zero errors and p95 ≤ 150 ms; back to back ≥ 120 requests/s.

Server time is measured in-process with Django's test client (the whole middleware
stack, session and permission checks included), after warm-up requests. The load test
starts gunicorn as production does (``config/gunicorn.py``: ``2 × cores + 1`` workers,
4 threads each) and runs the clients in this process. The first seconds are not counted.
The machine's load average is printed: other processes' CPU shows in the percentiles.

What a client is: one agent at their browser, logged in as an agent of their own
(``load-agent-<n>``). Each picks a page by its weight (the inbox's 10-second refresh most
often, then incident pages, the inbox and saved views, a broad search seldom), then
waits ``--think`` seconds on average (default 1 s: an agent clicking every second, with
the refresh of an open inbox mixed in, is several times busier than a real one, who
reads for seconds between clicks while the page polls every 10 s). The refresh sends
the ETag of the rows it shows, as the browser does: unchanged, it is a 304. Like a
browser, a client sends a GET once more when the kept-alive connection it reused was
closed by the server at that moment (counted in its latency). A client is one kept-alive
connection (``http.client``), lean on purpose: the clients run on the server's cores. The target
is checked against this run. A second run with no think time (back to back) follows:
the clients asking as fast as the server answers measure the machine's throughput, and
their latency is queueing (64 requests in flight on 2 cores), not a desk at work.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

import requests

from bench.common import ROOT, drop_database, setup_django
from bench.inbox_data import (
    BIG_ORDER,
    CONVERSATIONS,
    INCIDENTS,
    MESSAGES,
    ORDERS,
    PASSWORD,
    USERNAME,
    data_load,
    data_loaded,
    print_counts,
)
from bench.report import figure

__all__ = ["main"]

INBOX_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/incidesk_bench_inbox"
INBOX_REDIS_URL = "redis://127.0.0.1:6379/13"


TARGET_MS = 50.0
#: The queue at 100,000 incidents + 100,000 conversations (issue: p95 ≤ 100 ms).
TARGET_QUEUE_MS = 100.0
TARGET_CPU_MS = 12.0
TARGET_QUERIES = 15
TARGET_LOAD_P95_MS = 150.0
TARGET_THROUGHPUT = 120.0
LOAD_WARMUP_SECONDS = 5.0
SAMPLES = 30
WARMUP = 3


# ----------------------------------------------------------------------------- data


# ----------------------------------------------------------------------------- pages


@dataclass(slots=True)
class Page:
    label: str
    url: str
    #: How often the load test asks for it, relative to the others.
    weight: float = 1.0
    htmx: bool = False
    #: A page of the queue (its figures are reported apart, ``queue.*``).
    queue: bool = True
    #: Sent with the ETag of the previous answer (``If-None-Match``), as a browser does.
    conditional: bool = False
    #: Who asks in process (the load test's clients are agents: give others weight 0).
    username: str = USERNAME
    times: list[float] = field(default_factory=list)
    #: CPU seconds of this process per request (Django's share; Postgres's is apart).
    cpu: list[float] = field(default_factory=list)
    queries: int = 0
    status: int = 0

    def pct(self, q: float) -> float:
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000

    def cpu_ms(self) -> float:
        return statistics.median(self.cpu) * 1000 if self.cpu else 0.0

    @property
    def ok(self) -> bool:
        return (
            self.status in (200, 304)
            and self.pct(0.95) <= TARGET_MS
            and self.cpu_ms() <= TARGET_CPU_MS
            and self.queries <= TARGET_QUERIES
        )


def _pages() -> list[Page]:
    from django.urls import reverse

    from core.models import Order
    from desk.filtersets import QUEUE_VIEWS
    from incidents.models import Incident
    from messaging.models import Thread

    inbox = reverse("desk:inbox")
    pages = [Page("queue (default)", inbox, weight=4)]
    for key, _label, query in QUEUE_VIEWS:
        if key == "open":
            continue  # the default
        from urllib.parse import urlencode

        pages.append(Page(f"view: {key}", f"{inbox}?{urlencode(query, doseq=True)}", weight=2))
    pcc = Incident.objects.values_list("connection_id", flat=True).order_by("connection_id")[0]
    order = Order.objects.get(pk=ORDERS - 1234)
    pages += [
        Page("marketplace + state", f"{inbox}?connection={pcc}&state=in_progress&state=new"),
        Page("conversations", f"{inbox}?kind=conversation"),
        Page("owed to the operator", f"{inbox}?owed=operator"),
        Page("marketplace + owed + late", f"{inbox}?connection={pcc}&owed=customer&sla=breached"),
        Page("sorted by messages", f"{inbox}?sort=-messages"),
        Page("search: order number", f"{inbox}?q={order.commercial_id}"),
        Page(
            "search: customer name",
            f"{inbox}?q={order.customer_first_name}+{order.customer_last_name.split()[0]}",
        ),
        Page("search: message text", f"{inbox}?q=ratón+inalámbrico"),
        Page("search: broad text", f"{inbox}?q=pedido", weight=0.25),
        Page("page 300", f"{inbox}?page=300", weight=0.5),
        # Every open inbox asks for its rows again every 10 s; the browser sends the ETag
        # of the rows it shows (``If-None-Match``): unchanged, they are a 304.
        Page("htmx refresh (partial)", inbox, weight=0, htmx=True),
        Page("htmx refresh (304)", inbox, weight=8, htmx=True, conditional=True),
    ]
    big = Incident.objects.filter(order_id=BIG_ORDER).order_by("pk")[0]
    for label, incident in (
        ("incident: long thread", big),
        ("incident: open", Incident.objects.get(pk=ORDERS - 10)),
        ("incident: closed", Incident.objects.get(pk=1000)),
        ("incident: two lines", Incident.objects.filter(line__index=2).order_by("-pk")[0]),
    ):
        pages.append(
            Page(label, reverse("desk:incident", args=[incident.pk]), weight=3, queue=False)
        )
    # The account managers' SLA review: KPIs per marketplace over the last 30 days.
    pages.append(
        Page("sla review", reverse("sla:review"), weight=0, queue=False, username=_manager())
    )
    thread = Thread.objects.filter(order_id=ORDERS + CONVERSATIONS // 2).get()
    pages.append(
        Page(
            "order: conversation",
            reverse("desk:order", args=[thread.order_id]),
            weight=2,
            queue=False,
        )
    )
    return pages


def _manager() -> str:
    """An account manager (the bench agent's password): the SLA review is theirs."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    model = get_user_model()
    agent = model.objects.get(username=USERNAME)
    user, _ = model.objects.get_or_create(
        username="bench-manager",
        defaults={"first_name": "Bench", "last_name": "Manager", "password": agent.password},
    )
    if user.password != agent.password:  # made earlier with another password
        user.password = agent.password
        user.save(update_fields=["password"])
    user.groups.set([Group.objects.get(name="account_manager")])
    return user.username


def _measure(pages: list[Page]) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from incidents.models import IncidentSeen

    since = timezone.now()
    clients: dict[str, Client] = {}
    for page in pages:
        client = clients.get(page.username)
        if client is None:
            client = clients[page.username] = Client(HTTP_HOST="localhost")
            assert client.login(username=page.username, password=PASSWORD)
        headers = {"HTTP_HX_REQUEST": "true"} if page.htmx else {}
        if page.conditional:
            headers["HTTP_IF_NONE_MATCH"] = client.get(page.url, **headers)["ETag"]
        for _ in range(WARMUP):
            client.get(page.url, **headers)
        for _ in range(SAMPLES):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                cpu = time.process_time()
                response = client.get(page.url, **headers)
                page.times.append(time.perf_counter() - started)
                page.cpu.append(time.process_time() - cpu)
            page.status = response.status_code
            page.queries = max(page.queries, len(captured.captured_queries))
    # The incident pages mark themselves seen; leave the data as loaded.
    IncidentSeen.objects.filter(seen_at__gte=since).delete()


def _print_pages(pages: list[Page]) -> bool:
    print()
    print(
        f"{'page':28} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'CPU ms':>8} "
        f"{'queries':>8}  result"
    )
    for page in pages:
        result = "PASS" if page.ok else "FAIL"
        if page.status != (304 if page.conditional else 200):
            result += f" (HTTP {page.status})"
        print(
            f"{page.label:28} {page.pct(0.5):8.1f} {page.pct(0.95):8.1f} "
            f"{max(page.times) * 1000:8.1f} {page.cpu_ms():8.1f} {page.queries:8d}  {result}"
        )
    print(
        f"targets: p95 ≤ {TARGET_MS:.0f} ms, median CPU ≤ {TARGET_CPU_MS:.0f} ms and "
        f"≤ {TARGET_QUERIES} queries per page"
    )
    print()
    slowest = max(pages, key=lambda page: page.pct(0.95))
    busiest = max(pages, key=lambda page: page.cpu_ms())
    most = max(pages, key=lambda page: page.queries)
    figure(
        "inbox.pages.worst_p95_ms",
        slowest.pct(0.95),
        "ms",
        at_most=TARGET_MS,
        note=f"in process, {slowest.label}",
    )
    figure(
        "inbox.pages.worst_median_cpu_ms",
        busiest.cpu_ms(),
        "ms",
        at_most=TARGET_CPU_MS,
        note=busiest.label,
    )
    figure(
        "inbox.pages.max_queries", most.queries, "queries", at_most=TARGET_QUERIES, note=most.label
    )
    queue = [page for page in pages if page.queue]
    slowest_queue = max(queue, key=lambda page: page.pct(0.95))
    most_queue = max(queue, key=lambda page: page.queries)
    queue_ok = figure(
        "queue.pages.worst_p95_ms",
        slowest_queue.pct(0.95),
        "ms",
        at_most=TARGET_QUEUE_MS,
        note=f"in process, {slowest_queue.label}, {INCIDENTS:,} incidents + "
        f"{CONVERSATIONS:,} conversations",
    )
    queue_ok &= figure(
        "queue.pages.max_queries",
        most_queue.queries,
        "queries",
        at_most=TARGET_QUERIES,
        note=most_queue.label,
    )
    statuses_ok = all(page.status == (304 if page.conditional else 200) for page in pages)
    return all(page.ok for page in pages) and statuses_ok and queue_ok


# ----------------------------------------------------------------------------- load


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _gunicorn(port: int) -> subprocess.Popen:
    """gunicorn as production runs it (``config/gunicorn.py``), on ``port``."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base", "LOG_LEVEL": "WARNING"}
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn")
        if (ROOT / ".venv" / "bin" / "gunicorn").exists()
        else "gunicorn",
        "-c",
        "config/gunicorn.py",
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603 - our own command line
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited")
        try:
            requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=1)
            return process
        except requests.RequestException:
            if time.monotonic() > deadline:
                process.terminate()
                raise
            time.sleep(0.3)


def _load_users(clients: int) -> list[str]:
    """One agent per client (``load-agent-<n>``, the bench agent's group and password):
    an agent's own visits change only their own unread counts (and refresh ETags)."""
    from django.contrib.auth import get_user_model

    model = get_user_model()
    agent = model.objects.get(username=USERNAME)
    names = []
    for n in range(clients):
        user, _ = model.objects.get_or_create(
            username=f"load-agent-{n}",
            defaults={"first_name": "Load", "last_name": f"Agent {n}", "password": agent.password},
        )
        user.groups.set(agent.groups.all())
        names.append(user.username)
    return names


def _login(base: str, username: str = USERNAME) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/accounts/login/", timeout=10)
    page.raise_for_status()
    response = session.post(
        f"{base}/accounts/login/",
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=10,
        allow_redirects=False,
    )
    if response.status_code != 302:
        raise RuntimeError(f"login failed: HTTP {response.status_code}")
    return session


class _Browser:
    """A logged-in agent's browser during the load test: one kept-alive connection
    (``http.client``) and the cookies the server set.

    The clients share the machine's cores with the server they measure: ``requests``
    spends about 1 ms of CPU on each request (its session, adapters and cookie jar),
    several times what this costs, and that was taken from the server. The server sees
    the same requests: the same path, cookies and headers.
    """

    #: The connection closed by the server just as it was reused (gunicorn drops idle
    #: ones after 2 s, about an agent's think time): a browser sends the GET once more,
    #: on a new connection. Any other error counts.
    RETRIED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
    #: What requests sent along (the server answers the same).
    HEADERS = {"User-Agent": "inbox-bench", "Accept": "*/*", "Accept-Encoding": "gzip, deflate"}

    def __init__(self, port: int, session: requests.Session) -> None:
        self.port = port
        self.cookies = session.cookies.get_dict()
        self.connection: http.client.HTTPConnection | None = None

    def get(self, path: str, headers: dict[str, str]) -> tuple[int, str | None]:
        """GET ``path``: the status and the ETag (None without one)."""
        sent = {
            **self.HEADERS,
            **headers,
            "Cookie": "; ".join(f"{name}={value}" for name, value in self.cookies.items()),
        }
        target = requests.utils.requote_uri(path)  # as requests sends it
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.connection.request("GET", target, headers=sent)
                response = self.connection.getresponse()
                response.read()
            except self.RETRIED:
                self.close()
                if attempt:
                    raise
                continue
            except BaseException:
                self.close()
                raise
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
            if response.will_close:
                self.close()
            return response.status, response.headers.get("ETag")
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def _load_test(
    pages: list[Page], *, clients: int, duration: float, think: float, target: bool = True
) -> bool:
    from config import gunicorn as web

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    print()
    print(
        f"load: gunicorn with {web.workers} workers × {web.threads} threads, {clients} clients, "
        f"{duration:.0f} s, {think:.1f} s think time on average"
    )
    process = _gunicorn(port)
    # The page mix of a desk at work: mostly the inbox and its refresh, incident pages,
    # saved views, now and then a search (see each Page's weight).
    weights = [p.weight for p in pages]
    latencies: list[float] = []
    not_modified: list[int] = []
    by_page: dict[str, list[float]] = {p.label: [] for p in pages}
    errors: list[str] = []
    lock = threading.Lock()
    sessions = [_login(base, username) for username in _load_users(clients)]
    # A few seconds first, not counted: every worker loads its templates and connects.
    record_from = time.monotonic() + LOAD_WARMUP_SECONDS
    stop_at = record_from + duration

    def run(browser: _Browser, seed: int) -> None:
        rng = random.Random(seed)
        etags: dict[str, str] = {}  # the browser's cache: the last ETag of each URL
        while time.monotonic() < stop_at:
            page = rng.choices(pages, weights)[0]
            headers = {"HX-Request": "true"} if page.htmx else {}
            if page.conditional and page.url in etags:
                headers["If-None-Match"] = etags[page.url]
            begun = time.monotonic()
            started = time.perf_counter()
            try:
                status, etag = browser.get(page.url, headers)
                ok_statuses = (200, 304) if page.conditional else (200,)
                error = None if status in ok_statuses else f"HTTP {status}"
                if status == 304 and begun >= record_from:
                    not_modified.append(1)
                if page.conditional and etag:
                    etags[page.url] = etag
            except (OSError, http.client.HTTPException) as exc:
                error = type(exc).__name__
            elapsed = time.perf_counter() - started
            if begun >= record_from:
                with lock:
                    latencies.append(elapsed)
                    by_page[page.label].append(elapsed)
                    if error:
                        errors.append(f"{page.url}: {error}")
            if think:
                time.sleep(think * rng.uniform(0.5, 1.5))

    browsers = [_Browser(port, session) for session in sessions]
    threads = [
        threading.Thread(target=run, args=(b, n), daemon=True) for n, b in enumerate(browsers)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for browser in browsers:
            browser.close()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    elapsed = duration
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000

    p95 = pct(0.95)
    ok = not errors and bool(ordered) and p95 <= TARGET_LOAD_P95_MS
    print(
        f"requests {len(latencies):,}  errors {len(errors)}  "
        f"throughput {len(latencies) / elapsed:,.1f} req/s  "
        f"p50 {pct(0.5):.0f} ms  p95 {p95:.0f} ms  p99 {pct(0.99):.0f} ms  "
        f"mean {statistics.fmean(latencies) * 1000 if latencies else 0:.0f} ms"
    )
    slowest = sorted(
        ((sorted(v)[round(0.95 * (len(v) - 1))], k, len(v)) for k, v in by_page.items() if v),
        reverse=True,
    )
    refreshes = sum(len(by_page[p.label]) for p in pages if p.conditional)
    print(f"  refreshes answered 304 (nothing changed): {len(not_modified)} of {refreshes}")
    for p95_page, label, count in slowest[:5]:
        print(f"  {label:28} p95 {p95_page * 1000:6.0f} ms over {count} requests")
    for error in sorted(set(errors))[:10]:
        print(f"  error: {error}")
    if not target:
        print("(back to back: how far the machine goes)")
        return figure(
            "inbox.load.back_to_back_rps",
            len(latencies) / elapsed,
            "req/s",
            at_least=TARGET_THROUGHPUT,
            clients=clients,
        )
    figure(
        "inbox.load.p95_ms",
        p95,
        "ms",
        at_most=TARGET_LOAD_P95_MS,
        note=f"{clients} agents, {think:.1f} s think time",
        requests=len(latencies),
    )
    figure("inbox.load.errors", len(errors), "errors", at_most=0, requests=len(latencies))
    return ok


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="make the data set again")
    parser.add_argument("--skip-load", action="store_true", help="no gunicorn load test")
    parser.add_argument("--duration", type=float, default=30.0, help="load test seconds")
    parser.add_argument("--clients", type=int, default=64, help="concurrent load test clients")
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="average seconds a client waits between requests (0: back to back)",
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("DATABASE_URL", INBOX_DATABASE_URL)
    os.environ.setdefault("REDIS_URL", INBOX_REDIS_URL)
    if args.rebuild:
        drop_database(os.environ["DATABASE_URL"])
    setup_django()
    from django.db import connection
    from django.utils import timezone

    if not data_loaded():
        from core.models import Order

        if Order.objects.exists():
            # Half a data set (an interrupted load): start again from a fresh database.
            connection.close()
            drop_database(os.environ["DATABASE_URL"])
            setup_django()
        print(
            f"loading {INCIDENTS:,} incidents, {MESSAGES:,} messages and "
            f"{CONVERSATIONS:,} conversations without incident…"
        )
        data_load(timezone.now().replace(microsecond=0))
    else:
        print("reusing the loaded data set (--rebuild to make it again)")
    print_counts()
    pages = _pages()
    _measure(pages)
    passed = _print_pages(pages)
    # Other processes on the machine show up in the percentiles: say how busy it was.
    print("load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    if not args.skip_load:
        passed &= _load_test(pages, clients=args.clients, duration=args.duration, think=args.think)
        if args.think:
            passed &= _load_test(
                pages, clients=args.clients, duration=args.duration, think=0.0, target=False
            )
    print()
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
