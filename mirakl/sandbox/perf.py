"""How fast the sandbox serves pages: round trip and server time per endpoint and offset.

Starts a ``SandboxServer`` in a child process (as the sync benchmark does, so the client's
work does not compete with the server for the GIL), walks OR11 and M11 the way a sync does
with a keep-alive ``requests.Session`` and prints, per scenario, the median and p95 of the
client's round trip (rt), of the server's time per request (srv: request read, handled
and written, as in the server's access log, so it includes waiting for the client to take
the body) and of the app's share of it (app: routing, selection, rendering, joining)::

    python -m mirakl.sandbox.perf --orders 13000
    python -m mirakl.sandbox.perf --orders 100000 --samples 60

The first scenarios run right after start-up, while the server is still rendering
payloads in the background; then the script waits for that warm-up to end and reads
pages all over the data set. "cold" scenarios come last: they drop every rendered payload
first, so each page pays the rendering of its records (a first read without warm-up).
"""

from __future__ import annotations

import argparse
import logging
import math
import multiprocessing
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["main"]

API_KEY = "perf-key"


# ================================================================ child side
class _Timings(logging.Handler):
    """Collects (path, server ms) from the server's per-request log record."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.samples: list[tuple[str, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args
        if isinstance(args, tuple) and len(args) == 7 and isinstance(args[5], float):
            self.samples.append((str(args[2]), args[5]))


def _drop_caches(state: Any) -> None:
    """Forget every rendered payload (orders, threads, messages) so the next read is cold."""
    with state.lock:
        for order in state.orders.values():
            order.cache = None
        for thread in state.threads.values():
            thread.cache = None
            for message in thread.messages:
                message.cache = None


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def _child(conn: Any, orders: int, seed: int) -> None:
    from mirakl.sandbox import SandboxServer

    timings = _Timings()
    logger = logging.getLogger("mirakl.sandbox")
    logger.addHandler(timings)
    logger.setLevel(logging.INFO)
    logger.propagate = False

    started = time.perf_counter()
    server = SandboxServer(port=0, seed=seed, orders=orders, api_key=API_KEY)
    startup = time.perf_counter() - started
    app_times: list[float] = []
    handle = server.app.handle

    def timed_handle(*args: Any) -> Any:  # the app's own share: no socket, no parsing
        began = time.perf_counter()
        try:
            return handle(*args)
        finally:
            app_times.append((time.perf_counter() - began) * 1000)

    server.app.handle = timed_handle  # type: ignore[method-assign,assignment]
    server.start()
    serving = time.perf_counter()
    conn.send({"base_url": server.base_url, "startup_s": startup, "rss_mb": _rss_mb()})
    while True:
        command = conn.recv()
        if command == "warmed":
            while not getattr(server.state, "warmed", True):  # (older sandboxes: no warm-up)
                time.sleep(0.05)
            conn.send(time.perf_counter() - serving)
        elif command == "timings":
            conn.send((timings.samples[:], app_times[:]))
            timings.samples.clear()
            app_times.clear()
        elif command == "drop":
            _drop_caches(server.state)
            conn.send(True)
        elif command == "rss":
            conn.send(_rss_mb())
        else:
            server.stop()
            conn.send(True)
            return


# =============================================================== parent side
class _Bench:
    def __init__(self, conn: Any, base_url: str) -> None:
        import requests

        self.conn = conn
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = API_KEY
        self.rows: list[tuple[str, int, list[float], list[float], list[float]]] = []

    def ask(self, command: str) -> Any:
        self.conn.send(command)
        return self.conn.recv()

    def get(self, path: str, params: dict[str, Any]) -> tuple[Any, float]:
        started = time.perf_counter()
        response = self.session.get(f"{self.base_url}{path}", params=params, timeout=60)
        elapsed = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        return response, elapsed

    def run(self, name: str, pages: Callable[[], list[float]]) -> None:
        self.ask("timings")  # discard anything earlier
        round_trips = pages()
        logged, app = self.ask("timings")
        self.rows.append((name, len(round_trips), round_trips, [ms for _, ms in logged], app))

    # ------------------------------------------------------------- scenarios
    def or11(self, params: dict[str, Any], samples: int) -> Callable[[], list[float]]:
        def pages() -> list[float]:
            first, elapsed = self.get("/api/orders", {**params, "max": 100, "offset": 0})
            total = first.json()["total_count"]
            offsets = _spread(max(0, total - 1) // 100, samples - 1)
            times = [elapsed]
            for page in offsets:
                _, elapsed = self.get("/api/orders", {**params, "max": 100, "offset": page * 100})
                times.append(elapsed)
            return times

        return pages

    def or11_walk(self, params: dict[str, Any], count: int) -> Callable[[], list[float]]:
        """The first ``count`` pages in a row, as a sync reads them."""

        def pages() -> list[float]:
            times = []
            for page in range(count):
                response, elapsed = self.get(
                    "/api/orders", {**params, "max": 100, "offset": page * 100}
                )
                times.append(elapsed)
                if (page + 1) * 100 >= response.json()["total_count"]:
                    break
            return times

        return pages

    def m11(self, params: dict[str, Any], max_pages: int) -> Callable[[], list[float]]:
        def pages() -> list[float]:
            times: list[float] = []
            query: dict[str, Any] = {**params, "limit": 100}
            while len(times) < max_pages:
                response, elapsed = self.get("/api/inbox/threads", query)
                times.append(elapsed)
                token = response.json().get("next_page_token")
                if not token:
                    break
                query = {"page_token": token, "limit": 100}
            return times

        return pages


def _spread(last_page: int, count: int) -> list[int]:
    """``count`` page numbers spread evenly over 1..last_page (the last one included)."""
    if last_page <= 0 or count <= 0:
        return []
    if count >= last_page:
        return list(range(1, last_page + 1))
    return sorted({1 + round(i * (last_page - 1) / (count - 1)) for i in range(count)})


def _p(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def _med(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def _table(rows: list[tuple[str, int, list[float], list[float], list[float]]]) -> str:
    head = (
        f"{'scenario':<44} {'pages':>5}  {'rt med':>6} {'rt p95':>6}  "
        f"{'srv med':>7} {'srv p95':>7} {'srv max':>7}  {'app med':>7} {'app p95':>7}"
    )
    out = [head, "-" * len(head)]
    for name, count, rt, srv, app in rows:
        out.append(
            f"{name:<44} {count:>5}  {_med(rt):6.1f} {_p(rt, 0.95):6.1f}  "
            f"{_med(srv):7.1f} {_p(srv, 0.95):7.1f} {max(srv, default=math.nan):7.1f}  "
            f"{_med(app):7.2f} {_p(app, 0.95):7.2f}"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=13000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--samples", type=int, default=40, help="OR11 pages per scenario")
    parser.add_argument("--m11-pages", type=int, default=1000, help="M11 pages per walk (max)")
    args = parser.parse_args(argv)

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_child, args=(child, args.orders, args.seed), daemon=True)
    launched = time.perf_counter()
    process.start()
    info = parent.recv()
    ready = time.perf_counter() - launched
    bench = _Bench(parent, info["base_url"])
    try:
        state = bench.session.get(f"{bench.base_url}/_sandbox/state", timeout=30).json()
        now = datetime.fromisoformat(state["now"].replace("Z", "+00:00")).astimezone(UTC)

        def since(days: float) -> str:
            return (now - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")

        n, m = args.samples, args.m11_pages
        wm = {"with_messages": "true"}
        bench.run("OR11 first pages, during warm-up", bench.or11_walk({}, 30))
        bench.run("M11 first pages, during warm-up", bench.m11(wm, 30))
        warmed = bench.ask("warmed")
        bench.run("OR11 max=100 at any offset", bench.or11({}, n))
        bench.run("OR11 order=desc", bench.or11({"order": "desc"}, n))
        bench.run("OR11 has_incident=true", bench.or11({"has_incident": "true"}, n))
        for days in (1, 7, 30):
            bench.run(
                f"OR11 start_update_date=now-{days}d",
                bench.or11({"start_update_date": since(days)}, n),
            )
        bench.run(
            "OR11 start_update_date=now-7d has_incident",
            bench.or11({"start_update_date": since(7), "has_incident": "true"}, n),
        )
        bench.run("M11 with_messages=true, full walk", bench.m11(wm, m))
        bench.run("M11 headers only, full walk", bench.m11({}, m))
        bench.run(
            "M11 sort=dateUpdated,DESC with_messages",
            bench.m11({**wm, "sort": "dateUpdated,DESC"}, min(m, 50)),
        )
        bench.run(
            "M11 updated_since=now-7d with_messages",
            bench.m11({**wm, "updated_since": since(7)}, m),
        )
        rss = bench.ask("rss")
        bench.ask("drop")
        bench.run("cold: OR11 max=100 at any offset", bench.or11({}, n))
        bench.run(
            "cold: OR11 start_update_date=now-7d", bench.or11({"start_update_date": since(7)}, n)
        )
        bench.run("cold: M11 with_messages=true walk", bench.m11(wm, min(m, 100)))
        sys.stdout.write(
            f"\nSandbox: {state['orders']} orders, {state['threads']} threads, "
            f"{state['messages']} messages, seed {args.seed}\n"
            f"startup {info['startup_s']:.2f}s (process ready {ready:.2f}s), "
            f"payloads rendered {warmed:.1f}s after that; "
            f"RSS {info['rss_mb']:.0f} MB at start, {rss:.0f} MB with every payload rendered\n"
            "times in ms; rt = client round trip (requests, keep-alive); srv = server time "
            "per request (request read to response sent: includes waiting for the client to "
            "take the body); app = the app's share (route, select, render, join)\n\n"
        )
        sys.stdout.write(_table(bench.rows) + "\n")
    finally:
        bench.session.close()
        try:
            bench.ask("stop")
        finally:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()


if __name__ == "__main__":
    main()
