"""Deterministic generation of the sandbox data set.

Given a seed, an order count and "now", ``DatasetGenerator`` builds the same orders, lines,
incidents, refunds, threads and messages every time. Proportions (per 200 orders): ~40 open
incidents (some a few hours old, some overdue by days, some resolved and waiting for the
operator to close, a few contested), ~20 closed incident histories (some closed by a full
refund), ~150 threads, 2 threads of more than 100 messages (one per 500 orders beyond that).

The generator stays alive after seeding: the state uses it for ids and for orders created
later through the control API, so those are deterministic too.
"""

from __future__ import annotations

from mirakl.sandbox.catalog import ShopProfile
from mirakl.sandbox.conversations import OTHER_SCRIPTS
from mirakl.sandbox.models import Attachment, Order, Thread
from mirakl.sandbox.seed.base import DAY, HOUR, MINUTE, Plan, SeedRandom
from mirakl.sandbox.seed.threads import ThreadBuilder

__all__ = [
    "DAY",
    "HOUR",
    "MINUTE",
    "STATE_MIX",
    "DatasetGenerator",
]

# Order states and their share (percent) of the data set.
STATE_MIX: tuple[tuple[str, int], ...] = (
    ("RECEIVED", 37),
    ("CLOSED", 19),
    ("SHIPPED", 14),
    ("SHIPPING", 11),
    ("CANCELED", 6),
    ("WAITING_ACCEPTANCE", 4),
    ("REFUSED", 3),
    ("TO_COLLECT", 2),
    ("WAITING_DEBIT_PAYMENT", 2),
    ("WAITING_DEBIT", 1),
    ("REFUNDED", 1),
)
OPEN_INCIDENT_SHARE = 0.20
CLOSED_INCIDENT_SHARE = 0.10
OTHER_THREAD_SHARE = 0.64  # of orders without incident: ~0.75 thread per order overall

_REASON_CODES = ("1", "2", "3", "4", "5", "6")
_REASON_CUM = (10, 22, 50, 65, 85, 100)
_OTHER_KINDS: dict[str, tuple[str, ...]] = {
    "WAITING_ACCEPTANCE": ("cancel", "preparing"),
    "WAITING_DEBIT": ("cancel",),
    "WAITING_DEBIT_PAYMENT": ("cancel", "preparing"),
    "SHIPPING": ("preparing", "cancel", "shop_notice"),
    "SHIPPED": ("delivery", "shipping_info", "operator_query"),
    "TO_COLLECT": ("shipping_info", "delivery"),
    "RECEIVED": ("invoice", "delivery", "operator_query", "invoice"),
    "CLOSED": ("invoice", "delivery"),
    "CANCELED": ("cancel",),
    "REFUSED": ("cancel",),
    "REFUNDED": ("cancel", "invoice"),
}


class DatasetGenerator(ThreadBuilder):
    """Builds records with one ``random.Random``: same seed, same data, same ids.

    By resource: orders and what happens to their lines (``seed.orders``), threads and
    incidents (``seed.threads``); this class plans the data set and realises the plan.
    """

    def __init__(self, *, seed: int, now_ms: int, shop: ShopProfile, auto_close_ms: int) -> None:
        self.rng = SeedRandom(seed)
        self.now = now_ms
        self.shop = shop
        self.auto_close_ms = auto_close_ms
        self._next_commercial = 59_100_000 + self.rng.randrange(200_000)
        self._refund_seq = 21_000 + self.rng.randrange(1_000)
        self._cancel_seq = 7_000
        self.orders: list[Order] = []
        self.threads: list[Thread] = []
        self.attachments: dict[str, Attachment] = {}

    # ----------------------------------------------------------- data set
    def generate(self, count: int) -> None:
        """Generate ``count`` orders and their threads (appended to the lists)."""
        plans = self._plan(count)
        plans.sort(key=lambda plan: plan.timeline.created if plan.timeline else 0)
        for plan in plans:
            self._realise(plan)

    def _plan(self, count: int) -> list[Plan]:
        rng = self.rng
        states: list[str] = []
        for state, share in STATE_MIX:
            states.extend([state] * int(count * share / 100))
        while len(states) < count:
            states.append("RECEIVED")
        rng.shuffle(states)
        plans = [Plan(state=state, last=0) for state in states]

        open_pool = [i for i, s in enumerate(states) if s in ("SHIPPED", "TO_COLLECT", "RECEIVED")]
        n_open = min(len(open_pool), round(count * OPEN_INCIDENT_SHARE))
        open_idx = rng.sample(open_pool, n_open)
        taken = set(open_idx)
        closed_pool = [
            i for i, s in enumerate(states) if s in ("RECEIVED", "CLOSED") and i not in taken
        ]
        n_closed = min(len(closed_pool), round(count * CLOSED_INCIDENT_SHARE))
        closed_idx = rng.sample(closed_pool, n_closed)
        taken.update(closed_idx)

        received_open = [i for i in open_idx if states[i] == "RECEIVED"]
        n_long = min(len(received_open), 2 + max(0, count - 200) // 500) if count >= 10 else 0
        long_idx = set(received_open[:n_long])

        for i in open_idx:
            plan = plans[i]
            plan.incident = "open"
            if i in long_idx:
                plan.reason = "6"
                plan.urgency = "long"
                plan.incident_ms = self.now - rng.randint(13 * DAY, 17 * DAY)
            else:
                plan.reason = "1" if plan.state != "RECEIVED" else self._received_reason()
                draw = rng.random()
                if draw < 0.35:
                    plan.urgency, low, high = "urgent", 10 * MINUTE, 10 * HOUR
                elif draw < 0.60:
                    plan.urgency, low, high = "recent", 10 * HOUR, 2 * DAY
                else:
                    plan.urgency, low, high = "overdue", 2 * DAY, 12 * DAY
                plan.incident_ms = self.now - rng.randint(low, high)
            plan.last = plan.incident_ms - self._gap_before_incident(plan.state, plan.reason)
        for i in closed_idx:
            plan = plans[i]
            plan.incident = "closed"
            plan.reason = self._received_reason()
            plan.incident_ms = self.now - rng.randint(25 * DAY, 80 * DAY)
            if plan.state == "CLOSED":
                # The order closed after the incident did (at most ~15 days after opening).
                plan.last = plan.incident_ms + rng.randint(16 * DAY, 22 * DAY)
            else:
                plan.last = plan.incident_ms - self._gap_before_incident("RECEIVED", plan.reason)
        for plan in plans:
            if plan.incident is None:
                plan.last = self.now - self._age_of_last_event(plan.state)
                if rng.random() < OTHER_THREAD_SHARE:
                    plan.thread_kind = rng.choice(_OTHER_KINDS[plan.state])
            if plan.incident == "closed" and plan.state == "CLOSED":
                received = plan.incident_ms - self._gap_before_incident("RECEIVED", plan.reason)
                plan.timeline = self.timeline("RECEIVED", received)
                plan.timeline.last = plan.last
            else:
                plan.timeline = self.timeline(plan.state, plan.last)
        return plans

    def _received_reason(self) -> str:
        return self.rng.weighted(_REASON_CODES, _REASON_CUM)

    def _gap_before_incident(self, state: str, reason: str | None) -> int:
        rng = self.rng
        if state != "RECEIVED":
            return rng.randint(2 * DAY, 6 * DAY)  # shipped, never arrived
        if reason == "6":
            return rng.randint(35 * DAY, 150 * DAY)  # warranty: months after delivery
        if reason == "5":
            return rng.randint(1 * DAY, 12 * DAY)  # within the withdrawal period
        return rng.randint(2 * HOUR, 5 * DAY)

    def _age_of_last_event(self, state: str) -> int:
        rng = self.rng
        ranges = {
            "WAITING_ACCEPTANCE": (10 * MINUTE, 20 * HOUR),
            "WAITING_DEBIT": (1 * HOUR, 30 * HOUR),
            "WAITING_DEBIT_PAYMENT": (1 * HOUR, 30 * HOUR),
            "SHIPPING": (1 * HOUR, 3 * DAY),
            "SHIPPED": (6 * HOUR, 6 * DAY),
            "TO_COLLECT": (1 * DAY, 5 * DAY),
            "RECEIVED": (1 * DAY, 45 * DAY),
            "CLOSED": (30 * DAY, 150 * DAY),
            "REFUNDED": (20 * DAY, 120 * DAY),
            "CANCELED": (1 * DAY, 90 * DAY),
            "REFUSED": (1 * DAY, 90 * DAY),
        }
        low, high = ranges[state]
        return rng.randint(low, high)

    # --------------------------------------------------------- realisation
    def _realise(self, plan: Plan) -> None:
        assert plan.timeline is not None  # noqa: S101 - set by _plan
        order = self.make_order(plan.state, plan.timeline)
        self.orders.append(order)
        if plan.incident is not None and plan.reason is not None:
            line = self.rng.choice(order.lines)
            if plan.incident == "open":
                self._seed_open_incident(order, line, plan)
            else:
                self._seed_closed_incident(order, line, plan)
        elif plan.thread_kind:
            self._seed_other_thread(order, OTHER_SCRIPTS[plan.thread_kind])
        order.has_customer_message = any(t.has_customer_message() for t in self.threads_of(order))
        order.cache = None
