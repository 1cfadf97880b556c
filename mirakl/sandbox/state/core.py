"""The sandbox state's floor: the records, their indexes, the clock and what falls due.

:class:`StateCore` builds the data set (``seed``) and indexes it: orders by creation with
their update dates, and the same for orders with an open incident, in ``orderindex``
sequences; threads by (date_updated, id); lines by id; pending auto-closes and late
writes in heaps. The resources (``messages``, ``incidents``, ``orders``) and the warm-up
build on it; :class:`mirakl.sandbox.state.SandboxState` puts them together.
"""

from __future__ import annotations

import gc
import heapq
import logging
import threading
from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

from mirakl.sandbox.account import ShopAccount
from mirakl.sandbox.catalog import ShopProfile, default_shop
from mirakl.sandbox.clock import SandboxClock
from mirakl.sandbox.documents import DocumentStore
from mirakl.sandbox.faults import FaultInjector, FaultSpec, parse_fault_spec
from mirakl.sandbox.models import (
    Attachment,
    Incident,
    Line,
    Order,
    Thread,
)
from mirakl.sandbox.orderindex import OrderSequence
from mirakl.sandbox.reasons import (
    reasons_of_type,
    reasons_payload,
)
from mirakl.sandbox.render import Renderer, dumps
from mirakl.sandbox.seed import DatasetGenerator
from mirakl.sandbox.wire import ApiError

__all__ = ["DEFAULT_ORDER_COUNT", "LARGE_DATA_SET", "StateCore", "ThreadKey"]

DEFAULT_ORDER_COUNT = 200
LARGE_DATA_SET = 5_000  # from this size the data set is frozen out of the cyclic GC

ThreadKey = tuple[int, str]
logger = logging.getLogger("mirakl.sandbox")


class StateCore:
    """The records and their indexes, guarded by one re-entrant lock (``lock``)."""

    def __init__(
        self,
        *,
        seed: int = 1,
        orders: int | None = None,
        shop: ShopProfile | None = None,
        auto_close_seconds: float = 300,
        payable_balance: Decimal | str | float = Decimal("5000.00"),
        clock: SandboxClock | None = None,
        faults: str | FaultSpec | None = None,
        channels: Iterable[str] = ("ES",),
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock or SandboxClock()
        self.shop = shop or default_shop()
        self.renderer = Renderer(self.shop)
        self.auto_close_ms = int(round(auto_close_seconds * 1000))
        #: The shop's A01 state, balances and A21 statistics; OR28 refunds come out of
        #: its payable balance.
        self.account = ShopAccount.seeded(
            self.shop,
            now_ms=self.clock.start_ms,
            payable_balance=Decimal(str(payable_balance)),
            channels=channels,
        )
        self.faults = FaultInjector(parse_fault_spec(faults), seed)
        self.stats: Counter[str] = Counter()
        self.seed = seed

        count = DEFAULT_ORDER_COUNT if orders is None else orders
        # Millions of small long-lived objects: the cyclic GC would rescan them again and
        # again while they are built (and later, in pauses of a second or more).
        gc_enabled = gc.isenabled()
        gc.disable()
        try:
            self._build(seed, count)
        finally:
            if gc_enabled:
                gc.enable()
        if count >= LARGE_DATA_SET:
            gc.freeze()  # keep the data set out of future collections
        #: Order documents (DO01, OR72-OR76), built per order on first read.
        self.documents = DocumentStore(self.orders, touch=self.touch_order)
        self._reasons_json: str | None = None
        #: Labels changed through the control API, by (type, code): RE01 shows them.
        self._reason_labels: dict[tuple[str, str], str] = {}
        self._warm_steps: Iterator[object] | None = None
        self.warmed = False

    def _build(self, seed: int, count: int) -> None:
        """Generate the data set and build every index over it."""
        generator = DatasetGenerator(
            seed=seed, now_ms=self.clock.start_ms, shop=self.shop, auto_close_ms=self.auto_close_ms
        )
        generator.generate(count)
        self.generator = generator

        self.orders: dict[str, Order] = {}
        self.lines: dict[str, tuple[Order, Line]] = {}
        # OR11's indexes: every order, and the orders with an open incident, in (created,
        # order_id) order with their last_updated_date (see orderindex). ``order_version``
        # moves on any change they reflect (it keys the cache of other selections).
        self.order_seq = OrderSequence(generator.orders)
        self.incident_seq = OrderSequence(o for o in generator.orders if o.has_incident)
        self.incident_orders: set[str] = {o.order_id for o in self.incident_seq}
        self.order_version = 0
        self._selections: dict[tuple[Any, ...], list[Order]] = {}
        self._selections_version = 0
        for order in generator.orders:
            self.orders[order.order_id] = order
            for line in order.lines:
                self.lines[line.line_id] = (order, line)

        self.threads: dict[str, Thread] = {}
        self.thread_keys: list[ThreadKey] = []
        self.threads_by_order: dict[str, list[Thread]] = {}
        for thread in generator.threads:
            self.threads[thread.thread_id] = thread
            self.threads_by_order.setdefault(thread.order_id, []).append(thread)
        self.thread_keys = sorted(t.key for t in self.threads.values())
        self.message_count = sum(len(t.messages) for t in self.threads.values())
        self.attachments: dict[str, Attachment] = generator.attachments

        self._pending: list[tuple[int, int, str]] = []  # (due ms, seq, line id)
        self._pending_seq = 0
        # Writes answered 504 and applied later (the ``late`` fault): (due ms, seq, apply).
        self._late: list[tuple[int, int, Callable[[], object]]] = []
        for order in self.order_seq:
            for line in order.lines:
                incident = line.open_incident
                if incident is not None and incident.close_due_ms is not None:
                    self._schedule(line, incident)

    # ================================================================ basics
    def now_ms(self) -> int:
        return self.clock.now_ms()

    @property
    def payable_balance(self) -> Decimal:
        """A01's ``payment_details.payable_balance``, the one OR28 checks refunds against."""
        return self.account.payable_balance

    @payable_balance.setter
    def payable_balance(self, value: Decimal | str | float) -> None:
        with self.lock:
            self.account.payable_balance = Decimal(str(value))

    def _register_order(self, order: Order) -> None:
        """Index an order created after seeding."""
        self.orders[order.order_id] = order
        for line in order.lines:
            self.lines[line.line_id] = (order, line)
        self.order_seq.add(order)
        self.order_version += 1
        self._refresh_incident_flag(order)

    def _refresh_incident_flag(self, order: Order) -> None:
        if order.has_incident:
            if order.order_id not in self.incident_orders:
                self.incident_orders.add(order.order_id)
                self.incident_seq.add(order)
                self.order_version += 1
        elif order.order_id in self.incident_orders:
            self.incident_orders.discard(order.order_id)
            self.incident_seq.discard(order)
            self.order_version += 1

    def touch_order(self, order: Order, now: int) -> None:
        """Bump an order's last_updated_date (and its indexes); drops its cached payload."""
        old = order.updated_ms
        order.touch(now)
        if order.updated_ms != old:
            self.order_seq.moved(order)
            if order.order_id in self.incident_orders:
                self.incident_seq.moved(order)
            self.order_version += 1

    def register_thread(self, thread: Thread) -> None:
        self.threads[thread.thread_id] = thread
        self.threads_by_order.setdefault(thread.order_id, []).append(thread)
        insort(self.thread_keys, thread.key)

    def _reindex_thread(self, thread: Thread, old_key: ThreadKey) -> None:
        if old_key == thread.key:
            return
        index = bisect_left(self.thread_keys, old_key)
        if index < len(self.thread_keys) and self.thread_keys[index] == old_key:
            del self.thread_keys[index]
        insort(self.thread_keys, thread.key)

    def get_order(self, order_id: str) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise ApiError(404, f"Order with id '{order_id}' not found")
        return order

    def get_line(self, order: Order, line_id: str) -> Line:
        line = order.line(line_id)
        if line is None:
            raise ApiError(
                404, f"Order line with id '{line_id}' not found in order '{order.order_id}'"
            )
        return line

    def get_thread(self, thread_id: str) -> Thread:
        thread = self.threads.get(thread_id)
        if thread is None:
            raise ApiError(404, f"Thread with id '{thread_id}' not found")
        return thread

    # ============================================================ auto-close
    def _schedule(self, line: Line, incident: Incident) -> None:
        assert incident.close_due_ms is not None  # noqa: S101 - caller sets it
        self._pending_seq += 1
        heapq.heappush(self._pending, (incident.close_due_ms, self._pending_seq, line.line_id))

    def defer(self, seconds: float, apply: Callable[[], object]) -> None:
        """Apply a write ``seconds`` from now on the sandbox clock (the ``late`` fault)."""
        with self.lock:
            self._pending_seq += 1
            due = self.now_ms() + int(round(seconds * 1000))
            heapq.heappush(self._late, (due, self._pending_seq, apply))

    def _apply_late_writes(self, now: int) -> None:
        while self._late and self._late[0][0] <= now:
            _due, _seq, apply = heapq.heappop(self._late)
            try:
                apply()
            except ApiError as exc:
                # Refused when it was finally processed: nothing was written.
                logger.info("late write refused: %s %s", exc.status, exc.message)

    def process_due(self) -> int:
        """Apply the late writes that are due, then close every resolved incident whose
        delay has passed; returns how many incidents closed."""
        with self.lock:
            now = self.now_ms()
            self._apply_late_writes(now)
            closed = 0
            while self._pending and self._pending[0][0] <= now:
                due, _, line_id = heapq.heappop(self._pending)
                order, line = self.lines[line_id]
                incident = line.open_incident
                if incident is None or incident.close_due_ms != due:
                    continue  # contested, re-resolved or closed meanwhile
                DatasetGenerator.close_on_line(line, incident, due, "AUTO_AFTER_RESOLUTION")
                line.updated_ms = max(line.updated_ms, now)
                self.touch_order(order, now)
                self._refresh_incident_flag(order)
                closed += 1
            return closed

    def tick(self) -> int:
        return self.process_due()

    def advance(self, seconds: float) -> int:
        """Move the clock forward and process what became due; returns incidents closed."""
        with self.lock:
            self.clock.advance(seconds)
            return self.process_due()

    def set_faults(self, spec: str | FaultSpec | dict[str, object] | None) -> FaultSpec:
        parsed = parse_fault_spec(spec)
        self.faults.set_spec(parsed)
        return parsed

    # =============================================================== reasons
    def reasons_json(self) -> str:
        with self.lock:
            if self._reasons_json is None:
                payload = reasons_payload()
                for reason in payload["reasons"]:
                    key = (str(reason["type"]), str(reason["code"]))
                    reason["label"] = self._reason_labels.get(key, reason["label"])
                self._reasons_json = dumps(payload)
            return self._reasons_json

    def relabel_reason(self, reason_type: str, code: str, label: str) -> dict[str, Any]:
        """The marketplace renames one of its reasons: RE01 returns the new label."""
        with self.lock:
            reason = reasons_of_type(reason_type).get(code)
            if reason is None:
                raise ApiError(404, f"Reason '{code}' of type '{reason_type}' not found")
            self._reason_labels[(reason_type, code)] = label
            self._reasons_json = None
            return {**reason.as_dict(), "label": label}
