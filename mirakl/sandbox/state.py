"""The sandbox's mutable world: orders, incidents, refunds, threads, one lock.

``SandboxState`` owns every record and the indexes the endpoints need (orders by creation
with their update dates, and the same for orders with an open incident, in ``orderindex``
sequences; threads by (date_updated, id); lines by id; pending auto-closes), and renders
payloads ahead of the clients (``warm``). All reads and writes go through ``lock``
(re-entrant); the HTTP layer holds it while it builds a response, and the public methods
below take it too, so tests can drive the other parties directly::

    state.open_incident("59123456-A", reason_code="3")
    state.post_message("59123456-A", party="CUSTOMER", body="¿Alguna novedad?")
    state.advance(301)  # resolved incidents whose delay passed are closed

Due auto-closes are processed lazily on every call and request (and by ``tick``).
"""

from __future__ import annotations

import gc
import heapq
import json
import logging
import threading
import time
from bisect import bisect_left, bisect_right, insort
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from itertools import islice, zip_longest
from typing import Any

from mirakl.sandbox.account import ShopAccount
from mirakl.sandbox.catalog import ShopProfile, default_shop
from mirakl.sandbox.clock import SandboxClock, format_ms
from mirakl.sandbox.conversations import CONTEST_BODY, INCIDENT_OPENED_BODY, INCIDENT_SCRIPTS
from mirakl.sandbox.documents import DocumentStore
from mirakl.sandbox.faults import FaultInjector, FaultSpec, parse_fault_spec
from mirakl.sandbox.models import (
    INCIDENT_ELIGIBLE_STATES,
    Attachment,
    Incident,
    Line,
    Message,
    Order,
    Thread,
)
from mirakl.sandbox.orderindex import OrderSequence
from mirakl.sandbox.reasons import (
    INCIDENT_CLOSE,
    INCIDENT_OPEN,
    reason_label,
    reasons_of_type,
    reasons_payload,
)
from mirakl.sandbox.render import Renderer, dumps
from mirakl.sandbox.seed import DAY, HOUR, DatasetGenerator
from mirakl.sandbox.wire import ApiError

__all__ = ["DEFAULT_ORDER_COUNT", "MAX_THREAD_MESSAGES", "SandboxState"]

DEFAULT_ORDER_COUNT = 200
LARGE_DATA_SET = 5_000  # from this size the data set is frozen out of the cyclic GC
MAX_THREAD_MESSAGES = 1000  # M12: a thread holds at most 1000 messages
PARTIES = ("CUSTOMER", "OPERATOR")
_SELECTION_CACHE_SIZE = 8

ThreadKey = tuple[int, str]
logger = logging.getLogger("mirakl.sandbox")


class SandboxState:
    """Everything the fake marketplace knows, guarded by one re-entrant lock."""

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

    # ============================================================== messages
    def _latest_thread(self, order: Order) -> Thread | None:
        threads = self.threads_by_order.get(order.order_id)
        if not threads:
            return None
        return max(threads, key=lambda t: t.key)

    def _thread_for(self, order: Order, topic_type: str, topic_value: str) -> Thread:
        thread = self._latest_thread(order)
        if thread is None:
            thread = self.generator.new_thread(order, topic_type, topic_value, self.now_ms())
            self.register_thread(thread)
        return thread

    def post(
        self,
        thread: Thread,
        sender: str,
        to: Iterable[str],
        body: str,
        attachments: Iterable[Attachment] = (),
    ) -> Message:
        """Append a message now (any party) and keep every derived field in step."""
        with self.lock:
            if len(thread.messages) >= MAX_THREAD_MESSAGES:
                raise ApiError(
                    400, f"The thread has reached the maximum of {MAX_THREAD_MESSAGES} messages"
                )
            now = self.now_ms()
            old_key = thread.key
            files = tuple(attachments)
            message = Message(self.generator.uuid(), now, sender, body, tuple(to), files)
            thread.append(message)
            self._reindex_thread(thread, old_key)
            self.message_count += 1
            for attachment in files:
                self.attachments[attachment.attachment_id] = attachment
            order = self.orders.get(thread.order_id)
            if order is not None and sender == "CUSTOMER" and not order.has_customer_message:
                order.has_customer_message = True
                self.touch_order(order, now)
            return message

    def post_message(
        self,
        target: str,
        party: str = "CUSTOMER",
        body: str = "Hola, ¿hay alguna novedad sobre mi pedido?",
        to: Iterable[str] | None = None,
    ) -> dict[str, str]:
        """A customer or operator writes on a thread (by id) or on an order's latest thread;
        or a colleague of the shop writes in the back office (``SHOP``, to the customer by
        default).

        Without a thread on the order a new one is started. Recipients default to the shop,
        which starts ``shop_reply_needed_since`` when it was null.
        """
        with self.lock:
            self.process_due()
            party = party.upper()
            if party not in (*PARTIES, "SHOP"):
                raise ApiError(400, f"party must be one of {', '.join(PARTIES)} or SHOP")
            if not body or not body.strip():
                raise ApiError(400, "body is required")
            default_to = ("CUSTOMER",) if party == "SHOP" else ("SHOP",)
            recipients = tuple(dict.fromkeys(r.upper() for r in (to or default_to)))
            if party in recipients or not set(recipients) <= {"CUSTOMER", "OPERATOR", "SHOP"}:
                raise ApiError(400, f"Invalid recipients {list(recipients)} for {party}")
            thread = self.threads.get(target)
            if thread is None:
                order = self.orders.get(target)
                if order is None:
                    raise ApiError(404, f"No thread or order with id '{target}'")
                topic = (
                    "Pregunta acerca de mi pedido"
                    if party == "CUSTOMER"
                    else "Consulta del operador sobre el pedido"
                )
                thread = self._thread_for(order, "FREE_TEXT", topic)
            message = self.post(thread, party, recipients, body)
            return {"thread_id": thread.thread_id, "message_id": message.message_id}

    # ============================================================= incidents
    def open_incident(
        self,
        order_id: str,
        line_id: str | None = None,
        reason_code: str = "3",
        body: str | None = None,
    ) -> dict[str, Any]:
        """The operator opens an incident (OR62, operator side) and tells the shop.

        The line goes to INCIDENT_OPEN with the reason as its state reason; an operator
        message goes to the shop on the order's latest thread (or a new one). Opening an
        incident on a line whose previous incident closed is a reopening, recorded as such.
        """
        with self.lock:
            self.process_due()
            reason = reasons_of_type(INCIDENT_OPEN).get(str(reason_code))
            if reason is None:
                raise ApiError(400, f"Reason code '{reason_code}' is not an INCIDENT_OPEN reason")
            order = self.get_order(order_id)
            if line_id is not None:
                line = self.get_line(order, line_id)
                if line.state == "INCIDENT_OPEN":
                    raise ApiError(400, f"Order line '{line_id}' already has an open incident")
                if line.state not in INCIDENT_ELIGIBLE_STATES:
                    raise ApiError(
                        400,
                        f"An incident cannot be opened on order line '{line_id}' "
                        f"in state {line.state}",
                    )
            else:
                eligible = [ln for ln in order.lines if ln.state in INCIDENT_ELIGIBLE_STATES]
                if not eligible:
                    raise ApiError(
                        400, f"Order '{order_id}' has no line an incident can be opened on"
                    )
                line = eligible[0]
            now = self.now_ms()
            reopened = bool(line.incidents)
            DatasetGenerator.open_on_line(line, reason.code, now, reopened=reopened)
            self.touch_order(order, now)
            self._refresh_incident_flag(order)
            ctx = self._context(order, line, reason.code)
            thread = self._thread_for(order, "FREE_TEXT", reason.label)
            message = self.post(
                thread, "OPERATOR", ("SHOP",), body or INCIDENT_OPENED_BODY.format(**ctx)
            )
            return {
                "order_id": order.order_id,
                "line_id": line.line_id,
                "reason_code": reason.code,
                "reopened": reopened,
                "thread_id": thread.thread_id,
                "message_id": message.message_id,
            }

    def resolve_incident(self, order_id: str, line_id: str, reason_code: str | None) -> None:
        """OR64: the shop marks the incident resolved; it closes after the delay.

        OR64 is a PUT: sent again with the same reason while the incident awaits its
        close, it changes nothing (◐ MIRAKL_API.md does not say what Mirakl answers; the
        client does not rely on it, it only sends OR64 again after checking the line).
        """
        with self.lock:
            self.process_due()
            order = self.get_order(order_id)
            line = self.get_line(order, line_id)
            incident = line.open_incident
            if line.state != "INCIDENT_OPEN" or incident is None:
                raise ApiError(
                    400,
                    f"Order line '{line_id}' has no open incident (current state is {line.state})",
                )
            if reason_code is not None:
                reason = reasons_of_type(INCIDENT_CLOSE).get(reason_code)
                if reason is None or not reason.is_shop_right:
                    raise ApiError(
                        400,
                        f"Reason code '{reason_code}' is not a valid incident resolution reason "
                        f"(type {INCIDENT_CLOSE})",
                    )
            if incident.close_due_ms is not None and incident.resolve_reason == reason_code:
                return
            now = self.now_ms()
            incident.resolutions += 1
            incident.resolved_ms = now
            incident.resolve_reason = reason_code
            incident.close_due_ms = now + self.auto_close_ms
            self._schedule(line, incident)
            line.updated_ms = max(line.updated_ms, now)
            self.touch_order(order, now)
        self.process_due()  # a zero delay closes at once

    def contest_resolution(
        self, order_id: str, line_id: str, body: str | None = None
    ) -> dict[str, str]:
        """The operator rejects the shop's resolution: no auto-close, a message to the shop."""
        with self.lock:
            self.process_due()
            order = self.get_order(order_id)
            line = self.get_line(order, line_id)
            incident = line.open_incident
            if incident is None:
                raise ApiError(400, f"Order line '{line_id}' has no open incident")
            if incident.close_due_ms is None:
                raise ApiError(
                    400, f"The incident on order line '{line_id}' is not marked as resolved"
                )
            now = self.now_ms()
            incident.close_due_ms = None
            incident.contested_ms.append(now)
            line.updated_ms = max(line.updated_ms, now)
            self.touch_order(order, now)
            ctx = self._context(order, line, incident.reason_code)
            label = reason_label(INCIDENT_OPEN, incident.reason_code) or "Incidencia"
            thread = self._thread_for(order, "FREE_TEXT", label)
            message = self.post(thread, "OPERATOR", ("SHOP",), body or CONTEST_BODY.format(**ctx))
            return {
                "order_id": order.order_id,
                "line_id": line.line_id,
                "thread_id": thread.thread_id,
                "message_id": message.message_id,
            }

    def close_incidents_of(self, order: Order, closed_by: str) -> int:
        """Close every open incident of an order now (full refund)."""
        now = self.now_ms()
        closed = 0
        for line in order.lines:
            incident = line.open_incident
            if incident is not None:
                DatasetGenerator.close_on_line(line, incident, now, closed_by)
                closed += 1
        if closed:
            self.touch_order(order, now)
            self._refresh_incident_flag(order)
        return closed

    def incident_history(self, order_id: str, line_id: str | None = None) -> list[dict[str, Any]]:
        """The sandbox's internal record of incidents (not part of the Mirakl API)."""
        with self.lock:
            order = self.get_order(order_id)
            lines = [self.get_line(order, line_id)] if line_id else order.lines
            history = []
            for line in lines:
                for incident in line.incidents:
                    history.append(
                        {
                            "order_id": order.order_id,
                            "line_id": line.line_id,
                            "reason_code": incident.reason_code,
                            "status": incident.status,
                            "reopened": incident.reopened,
                            "opened_date": format_ms(incident.opened_ms),
                            "resolved_date": _fmt(incident.resolved_ms),
                            "resolve_reason": incident.resolve_reason,
                            "resolutions": incident.resolutions,
                            "close_due_date": _fmt(incident.close_due_ms),
                            "contested_dates": [format_ms(ms) for ms in incident.contested_ms],
                            "closed_date": _fmt(incident.closed_ms),
                            "closed_by": incident.closed_by,
                            "state_before": incident.state_before,
                        }
                    )
            return history

    # ================================================================ orders
    def create_order(
        self,
        *,
        with_incident: bool = False,
        reason_code: str = "3",
        state: str = "RECEIVED",
    ) -> dict[str, Any]:
        """A new order (received a day or so ago, updated now), optionally with an incident.

        With an incident, the customer first writes about the problem, then the operator's
        incident notice follows, as in the seeded data.
        """
        with self.lock:
            self.process_due()
            if state not in _CREATABLE_STATES:
                raise ApiError(400, f"Cannot create an order in state {state}")
            gen = self.generator
            now = self.now_ms()
            timeline = gen.timeline(state, now - gen.rng.randint(HOUR, DAY))
            timeline.last = now
            order = gen.make_order(state, timeline)
            order.touch(now)
            self._register_order(order)  # indexed with its final last_updated_date
            result: dict[str, Any] = {
                "order_id": order.order_id,
                "order_state": order.state,
                "line_ids": [line.line_id for line in order.lines],
            }
            if with_incident:
                script = INCIDENT_SCRIPTS.get(str(reason_code))
                if script is None:
                    raise ApiError(
                        400, f"Reason code '{reason_code}' is not an INCIDENT_OPEN reason"
                    )
                line = order.lines[0]
                ctx = self._context(order, line, str(reason_code))
                thread = gen.new_thread(order, script.topic_type, script.topic_value, now)
                self.register_thread(thread)
                party, to, template, _ = script.steps[0]
                self.post(thread, party, to, template.format(**ctx))
                result["incident"] = self.open_incident(
                    order.order_id, line.line_id, str(reason_code)
                )
            return result

    def _context(self, order: Order, line: Line, reason: str | None) -> dict[str, str]:
        carrier = order.carrier
        return {
            "order_id": order.order_id,
            "name": order.customer.firstname,
            "product": line.product.title,
            "carrier": carrier.name if carrier else "la agencia de transporte",
            "tracking": order.tracking or "pendiente de asignar",
            "tracking2": order.tracking or "pendiente de asignar",
            "reason": (reason_label(INCIDENT_OPEN, reason) or "") if reason else "",
        }

    # ================================================================= reads
    def order_page(
        self,
        *,
        order_ids: list[str] | None = None,
        states: set[str] | None = None,
        has_incident: bool | None = None,
        created_from: int | None = None,
        created_to: int | None = None,
        updated_from: int | None = None,
        updated_to: int | None = None,
        descending: bool = False,
        offset: int = 0,
        size: int | None = None,
    ) -> tuple[int, list[Order]]:
        """One OR11 page: (total matching, ``size`` orders from ``offset``). Caller holds lock.

        Orders are in (created, order_id) order, reversed with ``descending``; ``size=None``
        returns every match. Creation and update ranges, alone or with
        ``has_incident=true``, are answered by the order sequences without touching the
        other orders (see orderindex); other filters (ids, states, has_incident=false)
        build the full selection once and keep it until an order changes.
        """
        if order_ids is None and states is None and has_incident is not False:
            sequence = self.incident_seq if has_incident else self.order_seq
            return sequence.window(
                created_from=created_from,
                created_to=created_to,
                updated_from=updated_from,
                updated_to=updated_to,
                offset=offset,
                size=size,
                descending=descending,
            )
        selection = self._selection(
            order_ids, states, has_incident, created_from, created_to, updated_from, updated_to
        )
        total = len(selection)
        if size is None:
            page = selection[::-1] if descending else selection[:]
        elif descending:
            page = selection[max(0, total - offset - size) : max(0, total - offset)][::-1]
        else:
            page = selection[offset : offset + size]
        return total, page

    def select_orders(self, *, descending: bool = False, **filters: Any) -> list[Order]:
        """Every order matching OR11's filters (see ``order_page``). Caller holds lock."""
        return self.order_page(descending=descending, **filters)[1]

    def _selection(
        self,
        order_ids: list[str] | None,
        states: set[str] | None,
        has_incident: bool | None,
        created_from: int | None,
        created_to: int | None,
        updated_from: int | None,
        updated_to: int | None,
    ) -> list[Order]:
        """The orders matching filters the sequences do not answer alone, ascending."""
        if order_ids is not None:
            found = {self.orders[i] for i in order_ids if i in self.orders}
            candidates = sorted(found, key=lambda o: (o.created_ms, o.order_id))
            return [
                order
                for order in candidates
                if (states is None or order.state in states)
                and (
                    has_incident is None or (order.order_id in self.incident_orders) == has_incident
                )
                and _within(order.created_ms, created_from, created_to)
                and _within(order.updated_ms, updated_from, updated_to)
            ]
        if self._selections_version != self.order_version:
            self._selections.clear()
            self._selections_version = self.order_version
        key = (
            None if states is None else frozenset(states),
            has_incident,
            created_from,
            created_to,
            updated_from,
            updated_to,
        )
        cached = self._selections.get(key)
        if cached is not None:
            return cached
        sequence = self.incident_seq if has_incident else self.order_seq
        _, candidates = sequence.window(
            created_from=created_from,
            created_to=created_to,
            updated_from=updated_from,
            updated_to=updated_to,
        )
        incident_orders = self.incident_orders
        selection = [
            order
            for order in candidates
            if (states is None or order.state in states)
            and (has_incident is not False or order.order_id not in incident_orders)
        ]
        if len(self._selections) >= _SELECTION_CACHE_SIZE:
            del self._selections[next(iter(self._selections))]
        self._selections[key] = selection
        return selection

    def thread_window(
        self,
        *,
        entity_type: str | None,
        entity_ids: list[str] | None,
        updated_since: int | None,
        descending: bool,
        limit: int,
        cursor: tuple[str, ThreadKey] | None = None,
    ) -> tuple[list[Thread], ThreadKey | None, ThreadKey | None]:
        """One M11 page by keyset: (threads, next cursor key, previous cursor key).

        ``cursor`` is ("gt", key) for the threads after ``key`` in ascending (date_updated,
        id) order, or ("lt", key) for those before it. A returned key is None when there is
        nothing further in that direction. Caller holds the lock.
        """
        if entity_type is not None and entity_type != "MMP_ORDER":
            keys: list[ThreadKey] = []
        elif entity_ids is not None:
            keys = sorted(
                t.key
                for oid in dict.fromkeys(entity_ids)
                for t in self.threads_by_order.get(oid, ())
            )
        else:
            keys = self.thread_keys
        lo = 0 if updated_since is None else bisect_left(keys, (updated_since, ""))
        n = len(keys)
        if cursor is None:
            mode, key = ("lt", None) if descending else ("gt", None)
        else:
            mode, key = cursor
        if mode == "gt":
            start = lo if key is None else max(lo, bisect_right(keys, key))
            a, b = start, min(n, start + limit)
        else:
            end = n if key is None else max(lo, bisect_left(keys, key))
            a, b = max(lo, end - limit), end
        window = keys[a:b]
        more_above = b < n
        more_below = a > lo
        if descending:
            window = window[::-1]
            next_key = keys[a] if more_below and window else None
            prev_key = keys[b - 1] if more_above and window else None
        else:
            next_key = keys[b - 1] if more_above and window else None
            prev_key = keys[a] if more_below and window else None
        return [self.threads[k[1]] for k in window], next_key, prev_key

    # ================================================================ warm-up
    def warm(self, budget_s: float = 0.001) -> bool:
        """Render payloads nobody read yet for about ``budget_s`` seconds; True if more remain.

        A first read of an order or a thread costs its rendering (tens of microseconds
        each, so milliseconds for a page of 100); the server calls this in small slices
        while it is idle so pages are joins of cached bytes by the time a client reads
        them. It goes the way clients page: OR11 by creation and M11 by date_updated
        (thread headers and all their messages), both from the start, in turn. Records
        rendered meanwhile are skipped; a record changed later is rendered again on its
        next read.
        """
        with self.lock:
            if self.warmed:
                return False
            if self._warm_steps is None:
                self._warm_steps = self._warm_up()
            deadline = time.perf_counter() + budget_s
            for _ in self._warm_steps:
                if time.perf_counter() >= deadline:
                    return True
            self._warm_steps = None
            self.warmed = True
            return False

    def warm_first(self, orders: int, threads: int) -> None:
        """Render the first ``orders`` of OR11 and ``threads`` of M11 now (both ascending)."""
        with self.lock:
            for _ in islice(self._warm_orders(), orders):
                pass
            if threads > 0:
                done = 0
                for finished in self._warm_threads():
                    done += finished
                    if done >= threads:
                        break

    def _warm_up(self) -> Iterator[object]:
        for _ in zip_longest(self._warm_orders(), self._warm_threads()):
            yield None

    def _warm_orders(self) -> Iterator[None]:
        """One step per order; resumes by key, so orders added meanwhile do no harm."""
        renderer = self.renderer
        order_key: tuple[int, str] | None = None
        while True:
            orders = self.order_seq.following(order_key, 20)
            if not orders:
                break
            for order in orders:
                if order.cache is None:
                    renderer.order_json(order)
                yield
            order_key = (orders[-1].created_ms, orders[-1].order_id)

    def _warm_threads(self) -> Iterator[bool]:
        """A step per 20 messages, True at each thread's end; resumes by (date_updated, id)."""
        renderer = self.renderer
        thread_key: ThreadKey | None = None
        while True:
            keys = self.thread_keys
            index = 0 if thread_key is None else bisect_right(keys, thread_key)
            if index >= len(keys):
                break
            thread_key = keys[index]
            thread = self.threads[thread_key[1]]
            renderer.thread_header_json(thread)
            for count, message in enumerate(thread.messages, start=1):
                if message.cache is None:
                    renderer.message_json(thread, message)
                if count % 20 == 0:
                    yield False
            yield True

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

    # =============================================================== summary
    def snapshot(self) -> dict[str, Any]:
        """Counts for /_sandbox/state and for tests."""
        with self.lock:
            self.process_due()
            open_lines = 0
            pending = 0
            contested = 0
            for order_id in self.incident_orders:
                for line in self.orders[order_id].lines:
                    incident = line.open_incident
                    if incident is None:
                        continue
                    open_lines += 1
                    if incident.close_due_ms is not None:
                        pending += 1
                    elif incident.contested_ms:
                        contested += 1
            return {
                "now": format_ms(self.now_ms()),
                "shop": {"id": self.shop.shop_id, "name": self.shop.name},
                "orders": len(self.orders),
                "orders_with_incident": len(self.incident_orders),
                "open_incidents": open_lines,
                "resolved_awaiting_close": pending,
                "contested_incidents": contested,
                "threads": len(self.threads),
                "threads_needing_reply": sum(
                    1 for t in self.threads.values() if t.shop_reply_needed_since is not None
                ),
                "messages": self.message_count,
                "attachments": len(self.attachments),
                "payable_balance": float(self.payable_balance),
                "shop_state": self.account.state,
                "documents_uploaded": self.documents.uploaded,
                "documents_deleted": self.documents.deleted,
                "auto_close_seconds": self.auto_close_ms / 1000,
                "faults": self.faults.spec.as_dict(),
                "late_writes": len(self._late),
                "requests": dict(self.stats),
            }

    # -------------------------------------------------- convenience for tests
    def order_payload(self, order_id: str) -> dict[str, Any]:
        with self.lock:
            self.process_due()
            payload: dict[str, Any] = json.loads(self.renderer.order_json(self.get_order(order_id)))
            return payload

    def thread_payload(self, thread_id: str) -> dict[str, Any]:
        with self.lock:
            payload: dict[str, Any] = json.loads(
                self.renderer.thread_json(self.get_thread(thread_id))
            )
            return payload

    def threads_of_order(self, order_id: str) -> list[str]:
        with self.lock:
            threads = sorted(self.threads_by_order.get(order_id, ()), key=lambda t: t.key)
            return [t.thread_id for t in threads]

    def open_incidents(self) -> list[tuple[str, str]]:
        """(order_id, line_id) of every INCIDENT_OPEN line, in order creation order."""
        with self.lock:
            self.process_due()
            return [
                (order.order_id, line.line_id)
                for order in self.select_orders(has_incident=True)
                for line in order.lines
                if line.state == "INCIDENT_OPEN"
            ]


_CREATABLE_STATES = frozenset({"SHIPPING", "SHIPPED", "RECEIVED", "WAITING_ACCEPTANCE"})


def _within(value: int, low: int | None, high: int | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _fmt(ms: int | None) -> str | None:
    return None if ms is None else format_ms(ms)
