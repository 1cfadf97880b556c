"""The HTTP server: stdlib ``ThreadingHTTPServer``, HTTP/1.1 keep-alive, one thread each.

``SandboxServer`` is the Python entry point for tests, benchmarks and the management
command::

    with SandboxServer(port=0, seed=1) as server:
        requests.get(f"{server.base_url}/api/orders",
                     headers={"Authorization": "sandbox-key"})

Responses go out in one ``sendall`` (status line, headers and body together) on sockets
with ``TCP_NODELAY``, so keep-alive clients never wait on Nagle / delayed ACK, and with a
send buffer that holds a whole page, so a handler thread is not held until a slow client
has read the last byte.

Rendering a record the first time costs tens of microseconds, so milliseconds for a page
nobody read yet. The server renders the first pages before it listens, then a background
thread renders the rest (``SandboxState.warm``) whenever no request has been in flight
for a couple of milliseconds, in half-millisecond slices: a client paging in a tight loop
is left alone, one that parses each page between requests finds the next one ready, and
a request that arrives mid-slice waits half a millisecond at most.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mirakl.sandbox.app import SandboxApp
from mirakl.sandbox.catalog import default_shop
from mirakl.sandbox.clock import SandboxClock
from mirakl.sandbox.faults import FaultSpec
from mirakl.sandbox.shops import ShopRouter
from mirakl.sandbox.state import SandboxState
from mirakl.sandbox.wire import Response

__all__ = ["DEFAULT_API_KEY", "SandboxServer"]

DEFAULT_API_KEY = "sandbox-key"
SEND_BUFFER_BYTES = 4 << 20  # the kernel caps it at net.core.wmem_max
# Rendered before serving: the first 50 OR11 and 20 M11 pages of 100 (about 0.5 s).
WARM_FIRST_ORDERS = 5000
WARM_FIRST_THREADS = 2000
WARM_QUIET_S = 0.002  # background rendering starts this long after the last response
WARM_SLICE_S = 0.0005  # one slice of background rendering (holds the GIL and the lock)
WARM_PAUSE_S = 0.0002  # between slices: a request that just arrived gets the GIL
logger = logging.getLogger("mirakl.sandbox")

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    504: "Gateway Timeout",
}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: SandboxApp | ShopRouter) -> None:
        self.app = app
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        # Handlers between request line and response; ``idle`` is set when there are none.
        self.in_flight: set[_Handler] = set()
        self.idle = threading.Event()
        self.idle.set()
        self.last_response = time.perf_counter()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MiraklSandbox/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 300  # idle keep-alive connections are closed after this
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()  # sets TCP_NODELAY (disable_nagle_algorithm)
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)

    def parse_request(self) -> bool:
        # Called once the request line arrived: from here to the end of
        # handle_one_request the background warm-up stays out of the way.
        server = self.server
        server.in_flight.add(self)
        server.idle.clear()
        return super().parse_request()

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        finally:
            server = self.server
            if self in server.in_flight:
                server.in_flight.discard(self)
                server.last_response = time.perf_counter()
                if not server.in_flight:
                    server.idle.set()  # the warm-up re-checks in_flight: a race is harmless

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch()

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch()

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch()

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.debug("%s - %s", self.address_string(), format % args)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        started = time.perf_counter()
        body = self._read_body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        host = headers.get("host") or "{}:{}".format(*self.server.server_address[:2])
        outcome = self.server.app.handle(self.command, self.path, headers, body, f"http://{host}")
        if outcome.delay_s:
            time.sleep(outcome.delay_s)
        response = outcome.response
        if response is None:  # simulated timeout: never answer
            self.close_connection = True
            logger.info(
                '%s "%s %s" dropped after %.0fms [%s]',
                self.client_address[0],
                self.command,
                self.path,
                (time.perf_counter() - started) * 1000,
                outcome.endpoint,
            )
            return
        self._write(response)
        logger.info(
            '%s "%s %s" %d %dB %.1fms [%s]',
            self.client_address[0],
            self.command,
            self.path,
            response.status,
            len(response.body),
            (time.perf_counter() - started) * 1000,
            outcome.endpoint,
        )

    def _write(self, response: Response) -> None:
        lines = [f"HTTP/1.1 {response.status} {_STATUS_TEXT.get(response.status, 'Status')}"]
        lines.append(f"Server: {self.server_version}")
        lines.append(f"Date: {self.date_time_string()}")
        if response.status != 204:
            if response.content_type:
                lines.append(f"Content-Type: {response.content_type}")
            lines.append(f"Content-Length: {len(response.body)}")
        for name, value in response.headers.items():
            lines.append(f"{name}: {value}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        payload = head if response.status == 204 else head + response.body
        try:
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class SandboxServer:
    """A running fake Mirakl instance: state + HTTP server on a background thread.

    ``base_url`` is the instance root (clients append ``/api/...``). ``state`` is the live
    ``SandboxState`` (drive the customer/operator, move the clock); ``stats`` counts requests
    per endpoint code (OR11, M11, M10, M12, M13, OR43, OR64, OR28, RE01, A01, A21, DO01,
    OR72, OR73, OR74, OR76, SANDBOX, UNKNOWN). With ``multi_shop_key`` the key has several
    shops and only calls with ``shop_id`` reach this one (see
    :class:`~mirakl.sandbox.app.SandboxApp`). ``channels`` are the shop's sales channels
    (A01 ``channels``, A21 ``channel_code``); its orders are all on channel ``ES``.

    With ``shops`` > 1 the key reaches that many shops, ids ``shop_id``, ``shop_id`` + 1,
    …, each with its own data (seeds ``seed``, ``seed`` + 1, …) and only reached with its
    ``shop_id`` (:class:`~mirakl.sandbox.shops.ShopRouter`); ``state`` is the first one's,
    ``states`` holds them all.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = DEFAULT_API_KEY,
        shop_id: int | str | None = None,
        seed: int = 1,
        orders: int | None = None,
        faults: str | FaultSpec | None = None,
        auto_close_seconds: float = 300,
        payable_balance: Decimal | str | float = Decimal("5000.00"),
        now: datetime | None = None,
        clock: SandboxClock | None = None,
        warm: bool = True,
        multi_shop_key: bool = False,
        channels: Iterable[str] = ("ES",),
        shops: int = 1,
    ) -> None:
        clock = clock or SandboxClock(now)
        if shops > 1:
            first = int(shop_id) if shop_id is not None else int(default_shop().shop_id)
            shop_ids: list[int | str | None] = [first + n for n in range(shops)]
        else:
            shop_ids = [shop_id]
        #: Each shop's state, by shop id (one entry unless ``shops`` > 1).
        self.states: dict[str, SandboxState] = {}
        apps: dict[str, SandboxApp] = {}
        for n, one_shop_id in enumerate(shop_ids):
            state = SandboxState(
                seed=seed + n,
                orders=orders,
                shop=default_shop(one_shop_id),
                auto_close_seconds=auto_close_seconds,
                payable_balance=payable_balance,
                clock=clock,
                faults=faults,
                channels=channels,
            )
            self.states[state.shop.shop_id] = state
            apps[state.shop.shop_id] = SandboxApp(
                state,
                api_key=api_key,
                shop_id=one_shop_id,
                multi_shop_key=multi_shop_key or shops > 1,
            )
        self.state = next(iter(self.states.values()))
        self.app: SandboxApp | ShopRouter = (
            ShopRouter(apps) if shops > 1 else next(iter(apps.values()))
        )
        self._httpd = _HTTPServer((host, port), self.app)
        self._thread: threading.Thread | None = None
        self._warm = warm
        self._warmer: threading.Thread | None = None
        self._warm_stop = threading.Event()
        if warm:
            for state in self.states.values():
                state.warm_first(WARM_FIRST_ORDERS, WARM_FIRST_THREADS)

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_key(self) -> str:
        return self.app.api_key

    @property
    def stats(self) -> dict[str, int]:
        with self.state.lock:
            return dict(self.state.stats)

    def start(self) -> SandboxServer:
        """Serve on a daemon thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"mirakl-sandbox-{self.port}",
                daemon=True,
            )
            self._thread.start()
            self._start_warming()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (the management command) until ``stop``/Ctrl-C."""
        self._start_warming()
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._stop_warming()
            self._httpd.server_close()

    def stop(self) -> None:
        self._stop_warming()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.close_connections()
        self._httpd.server_close()

    # ---------------------------------------------------------------- warm-up
    def _start_warming(self) -> None:
        if self._warm and self._warmer is None and not self.state.warmed:
            self._warm_stop.clear()
            self._warmer = threading.Thread(
                target=self._warm_up, name=f"mirakl-sandbox-warm-{self.port}", daemon=True
            )
            self._warmer.start()

    def _stop_warming(self) -> None:
        if self._warmer is not None:
            self._warm_stop.set()
            self._httpd.idle.set()
            self._warmer.join(timeout=5)
            self._warmer = None

    def _warm_up(self) -> None:
        """Render payloads ahead of the clients while no request is being handled."""
        started = time.perf_counter()
        httpd, stop, state = self._httpd, self._warm_stop, self.state
        while not stop.is_set():
            if httpd.in_flight:
                httpd.idle.wait(0.1)  # sleeps, without taking the GIL, until requests end
                continue
            quiet = WARM_QUIET_S - (time.perf_counter() - httpd.last_response)
            if quiet > 0:
                stop.wait(quiet)
            elif state.warm(WARM_SLICE_S):
                stop.wait(WARM_PAUSE_S)
            else:
                logger.info("payloads rendered in %.1fs", time.perf_counter() - started)
                return

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
