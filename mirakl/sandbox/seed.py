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

import random
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from mirakl.sandbox.catalog import (
    CARRIERS,
    CITIES,
    FIRST_NAMES,
    PAYMENT_TYPES,
    PRODUCTS,
    STREETS,
    SURNAMES,
    Product,
    ShopProfile,
)
from mirakl.sandbox.catalog import DELIVERY_NOTES as _NOTES
from mirakl.sandbox.catalog import STREET_EXTRAS as _EXTRAS
from mirakl.sandbox.conversations import (
    CONTEST_BODY,
    INCIDENT_OPENED_BODY,
    INCIDENT_SCRIPTS,
    LONG_THREAD_FILLERS,
    OTHER_SCRIPTS,
    Script,
    Step,
)
from mirakl.sandbox.models import (
    Attachment,
    Cancelation,
    Customer,
    Incident,
    Line,
    Message,
    Order,
    Participant,
    Refund,
    Thread,
)
from mirakl.sandbox.reasons import INCIDENT_OPEN, reason_label
from mirakl.sandbox.render import IVA_CODE, q2, vat_included
from mirakl.sandbox.samples import sample_for

__all__ = [
    "DAY",
    "HOUR",
    "MINUTE",
    "STATE_MIX",
    "DatasetGenerator",
]

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR

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
_OFFER_IDS = {product.product_sku: 3100 + i for i, product in enumerate(PRODUCTS)}
_COMMISSION_RATES = (Decimal("0.07"), Decimal("0.10"), Decimal("0.12"), Decimal("0.15"))
_SHIPPING_FEES = (Decimal("3.99"), Decimal("4.99"), Decimal("5.95"))
_FREE_SHIPPING_FROM = Decimal("50")
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


_T = TypeVar("_T")


class _Random(random.Random):
    """``random.Random`` with cheaper float-based helpers: plenty for fake data, and
    generating 100 000 orders stays fast."""

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def choice(self, seq: Sequence[_T]) -> _T:  # type: ignore[override]
        return seq[int(self.random() * len(seq))]

    def weighted(self, values: Sequence[_T], cumulative: Sequence[int]) -> _T:
        """One of ``values`` drawn with the given cumulative weights."""
        return values[bisect(cumulative, self.random() * cumulative[-1])]

    def digits(self, count: int) -> str:
        return f"{self.getrandbits(64) % 10**count:0{count}d}"

    def uuid4(self) -> str:
        """A random (version 4, RFC 4122 variant) UUID string from this generator."""
        h = f"{self.getrandbits(128):032x}"
        variant = _VARIANT[int(h[16], 16) & 3]
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


_VARIANT = "89ab"


def _cumulative(weights: tuple[int, ...]) -> tuple[int, ...]:
    total, out = 0, []
    for weight in weights:
        total += weight
        out.append(total)
    return tuple(out)


_LINE_COUNTS, _LINE_COUNT_CUM = (1, 2, 3), _cumulative((65, 27, 8))
_QUANTITIES, _QUANTITY_CUM = (1, 2, 3), _cumulative((82, 14, 4))


@dataclass(slots=True)
class _Timeline:
    created: int
    accepted: int | None = None
    debited: int | None = None
    shipped: int | None = None
    received: int | None = None
    last: int = 0


@dataclass(slots=True)
class _Plan:
    state: str
    last: int
    incident: str | None = None  # "open" | "closed"
    reason: str | None = None
    incident_ms: int = 0
    urgency: str = ""  # urgent | recent | overdue | long
    thread_kind: str | None = None
    timeline: _Timeline | None = None


class DatasetGenerator:
    """Builds records with one ``random.Random``: same seed, same data, same ids."""

    def __init__(self, *, seed: int, now_ms: int, shop: ShopProfile, auto_close_ms: int) -> None:
        self.rng = _Random(seed)
        self.now = now_ms
        self.shop = shop
        self.auto_close_ms = auto_close_ms
        self._next_commercial = 59_100_000 + self.rng.randrange(200_000)
        self._refund_seq = 21_000 + self.rng.randrange(1_000)
        self._cancel_seq = 7_000
        self.orders: list[Order] = []
        self.threads: list[Thread] = []
        self.attachments: dict[str, Attachment] = {}

    # ------------------------------------------------------------------ ids
    def uuid(self) -> str:
        return self.rng.uuid4()

    def next_refund_id(self) -> str:
        self._refund_seq += 1
        return str(self._refund_seq)

    def _next_order_id(self) -> tuple[str, str]:
        self._next_commercial += self.rng.randint(1, 9)
        commercial = str(self._next_commercial)
        return commercial, f"{commercial}-A"

    # ----------------------------------------------------------- data set
    def generate(self, count: int) -> None:
        """Generate ``count`` orders and their threads (appended to the lists)."""
        plans = self._plan(count)
        plans.sort(key=lambda plan: plan.timeline.created if plan.timeline else 0)
        for plan in plans:
            self._realise(plan)

    def _plan(self, count: int) -> list[_Plan]:
        rng = self.rng
        states: list[str] = []
        for state, share in STATE_MIX:
            states.extend([state] * int(count * share / 100))
        while len(states) < count:
            states.append("RECEIVED")
        rng.shuffle(states)
        plans = [_Plan(state=state, last=0) for state in states]

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

    def timeline(self, state: str, last: int) -> _Timeline:
        """Walk back from the order's latest event to its creation."""
        u = self.rng.randint
        t = _Timeline(created=last, last=last)
        if state == "WAITING_ACCEPTANCE":
            return t
        if state in ("WAITING_DEBIT", "WAITING_DEBIT_PAYMENT", "REFUSED"):
            t.accepted = last
            t.created = last - u(20 * MINUTE, 20 * HOUR)
            return t
        if state == "CANCELED":
            if self.rng.random() < 0.5:
                t.debited = last - u(1 * HOUR, 30 * HOUR)
                t.accepted = t.debited - u(5 * MINUTE, 90 * MINUTE)
            else:
                t.accepted = last - u(1 * HOUR, 10 * HOUR)
            t.created = t.accepted - u(20 * MINUTE, 10 * HOUR)
            return t
        anchor = last
        if state in ("RECEIVED", "CLOSED", "REFUNDED"):
            if state != "RECEIVED":
                anchor = last - u(7 * DAY, 30 * DAY)
            t.received = anchor
            t.shipped = anchor - u(18 * HOUR, 72 * HOUR)
            anchor = t.shipped
        elif state in ("SHIPPED", "TO_COLLECT"):
            t.shipped = anchor
        if state != "SHIPPING":
            anchor -= u(3 * HOUR, 40 * HOUR)
        t.debited = anchor
        t.accepted = anchor - u(5 * MINUTE, 90 * MINUTE)
        t.created = t.accepted - u(20 * MINUTE, 10 * HOUR)
        return t

    # ------------------------------------------------------------ records
    def _customer(self) -> Customer:
        rng = self.rng
        first, gender = rng.choice(FIRST_NAMES)
        last = f"{rng.choice(SURNAMES)} {rng.choice(SURNAMES)}"
        city = rng.choice(CITIES)
        return Customer(
            customer_id=f"MYA{rng.getrandbits(28):07x}",
            civility="Sra." if gender == "F" else "Sr.",
            firstname=first,
            lastname=last,
            street_1=f"{rng.choice(STREETS)}, {rng.randint(1, 160)}",
            street_2=rng.choice(_EXTRAS),
            city=city.name,
            province=city.province,
            zip_code=f"{city.zip_prefix}{rng.randint(1, 999):03d}",
            phone=f"6{rng.randint(10_000_000, 99_999_999)}",
            additional_info=rng.choice(_NOTES),
        )

    def _lines(self, order_id: str, state: str, t: _Timeline) -> list[Line]:
        rng = self.rng
        count = rng.weighted(_LINE_COUNTS, _LINE_COUNT_CUM)
        products: list[Product] = rng.sample(PRODUCTS, count)
        rate = rng.choice(_COMMISSION_RATES)
        lines = []
        for index, product in enumerate(products, start=1):
            quantity = 1 if product.price > 250 else rng.weighted(_QUANTITIES, _QUANTITY_CUM)
            cents = int(product.price * 100) * rng.randint(970, 1030) // 1000
            unit = Decimal(cents).scaleb(-2)
            lines.append(
                Line(
                    line_id=f"{order_id}-{index}",
                    index=index,
                    product=product,
                    offer_id=_OFFER_IDS[product.product_sku],
                    quantity=quantity,
                    price_unit=unit,
                    price=unit * quantity,
                    shipping_price=Decimal("0.00"),
                    commission_rate=rate,
                    state=state,
                    created_ms=t.created,
                    updated_ms=t.last,
                    debited_ms=t.debited,
                    shipped_ms=t.shipped,
                    received_ms=t.received,
                )
            )
        if sum(line.price for line in lines) < _FREE_SHIPPING_FROM:
            lines[0].shipping_price = rng.choice(_SHIPPING_FEES)
        return lines

    def make_order(self, state: str, t: _Timeline) -> Order:
        """A new order in ``state`` following timeline ``t`` (lines share the state)."""
        rng = self.rng
        commercial, order_id = self._next_order_id()
        shipped = t.shipped is not None
        carrier = rng.choice(CARRIERS) if shipped or state == "SHIPPING" else None
        tracking = None
        if carrier and shipped:
            tracking = carrier.tracking_prefix + rng.digits(carrier.tracking_digits)
        express = rng.random() < 0.2
        zone = ("ES-BAL", "Islas Baleares") if rng.random() < 0.04 else ("ES-PEN", "Península")
        order = Order(
            order_id=order_id,
            commercial_id=commercial,
            created_ms=t.created,
            updated_ms=t.last,
            state=state,
            customer=self._customer(),
            lines=[],
            carrier=carrier,
            tracking=tracking,
            shipping_type=("EXP", "Envío exprés 24h") if express else ("STD", "Envío estándar"),
            shipping_zone=zone,
            payment_type=rng.choice(PAYMENT_TYPES),
            acceptance_ms=t.accepted,
            debited_ms=t.debited,
            shipping_deadline_ms=(t.accepted or t.created) + 2 * DAY,
            leadtime_to_ship=2,
            notification_token=f"{rng.getrandbits(96):024x}",
            transaction_number=f"{rng.getrandbits(48):012X}" if t.debited else None,
            has_invoice=state in ("RECEIVED", "CLOSED") and rng.random() < 0.6,
        )
        order.lines = self._lines(order_id, state, t)
        if state == "CANCELED" and t.debited is not None:
            for line in order.lines:
                self._cancel(line, t.last)
        if state == "REFUNDED":
            for line in order.lines:
                self._refund_line_fully(line, t.last - 2 * DAY, "17", "REFUNDED")
        return order

    def _cancel(self, line: Line, when: int) -> None:
        self._cancel_seq += 1
        commission = q2(line.price * line.commission_rate)
        line.cancelations.append(
            Cancelation(
                cancelation_id=str(self._cancel_seq),
                amount=line.price,
                shipping_amount=line.shipping_price,
                quantity=line.quantity,
                reason_code=self.rng.choice(("31", "32")),
                created_ms=when,
                tax=vat_included(line.price),
                shipping_tax=vat_included(line.shipping_price),
                commission_amount=commission,
                commission_tax=q2(commission * Decimal("0.21")),
            )
        )

    def build_refund(
        self,
        line: Line,
        *,
        amount: Decimal,
        shipping_amount: Decimal,
        reason_code: str,
        when: int,
        state: str = "WAITING_REFUND",
        quantity: int | None = None,
        taxes: list[tuple[str, Decimal]] | None = None,
        shipping_taxes: list[tuple[str, Decimal]] | None = None,
    ) -> Refund:
        commission = q2(amount * line.commission_rate)
        return Refund(
            refund_id=self.next_refund_id(),
            amount=amount,
            shipping_amount=shipping_amount,
            quantity=quantity,
            reason_code=reason_code,
            taxes=taxes if taxes is not None else [(IVA_CODE, vat_included(amount))],
            shipping_taxes=(
                shipping_taxes
                if shipping_taxes is not None
                else [(IVA_CODE, vat_included(shipping_amount))]
            ),
            created_ms=when,
            state=state,
            commission_amount=commission,
            commission_tax=q2(commission * Decimal("0.21")),
        )

    def _refund_state(self, when: int) -> str:
        """Tax confirmation for a day, then waiting, then paid (``refund_state``)."""
        age = self.now - when
        if age > 10 * DAY:
            return "REFUNDED"
        if age > 2 * DAY:
            return "WAITING_REFUND_PAYMENT"
        return "WAITING_REFUND" if age > DAY else "WAITING_REFUND_TAX_CONFIRMATION"

    def _refund_line_fully(self, line: Line, when: int, reason: str, state: str = "") -> None:
        refund = self.build_refund(
            line,
            amount=line.price,
            shipping_amount=line.shipping_price,
            reason_code=reason,
            when=when,
            state=state or self._refund_state(when),
            quantity=line.quantity,
        )
        line.refunds.append(refund)
        line.updated_ms = max(line.updated_ms, when)
        if state == "REFUNDED":
            line.state = "REFUNDED"

    def _partial_refund(self, line: Line, when: int, reason: str) -> None:
        share = Decimal(self.rng.randint(10, 30)) / Decimal(100)
        amount = q2(line.price * share)
        line.refunds.append(
            self.build_refund(
                line,
                amount=amount,
                shipping_amount=Decimal("0.00"),
                reason_code=reason,
                when=when,
                state=self._refund_state(when),
            )
        )
        line.updated_ms = max(line.updated_ms, when)

    # --------------------------------------------------------- realisation
    def _realise(self, plan: _Plan) -> None:
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

    def threads_of(self, order: Order) -> list[Thread]:
        # Only used while seeding: the threads of an order were added last.
        found = []
        for thread in reversed(self.threads):
            if thread.order_id != order.order_id:
                break
            found.append(thread)
        return found

    @staticmethod
    def open_on_line(line: Line, reason: str, when: int, *, reopened: bool = False) -> Incident:
        incident = Incident(
            reason_code=reason, opened_ms=when, state_before=line.state, reopened=reopened
        )
        line.incidents.append(incident)
        line.state = "INCIDENT_OPEN"
        line.reason_code = reason
        line.reason_label = reason_label(INCIDENT_OPEN, reason)
        line.updated_ms = max(line.updated_ms, when)
        return incident

    @staticmethod
    def close_on_line(line: Line, incident: Incident, when: int, closed_by: str) -> None:
        incident.closed_ms = when
        incident.closed_by = closed_by
        incident.close_due_ms = None
        line.state = incident.state_before
        line.reason_code = None
        line.reason_label = None
        line.updated_ms = max(line.updated_ms, when)

    def _seed_open_incident(self, order: Order, line: Line, plan: _Plan) -> None:
        rng = self.rng
        reason = plan.reason or "3"
        opened = plan.incident_ms
        incident = self.open_on_line(line, reason, opened)
        script = INCIDENT_SCRIPTS[reason]
        thread = self._new_thread(order, script)
        ctx = self._context(order, line, reason)
        start = self._incident_thread_start(thread, script, ctx, opened, plan.urgency)
        end = self.now - MINUTE
        post = list(script.steps[script.incident_after or 0 :])
        contested = False
        if plan.urgency == "long":
            self._play_long(thread, post, ctx, start, end)
        elif plan.urgency == "urgent":
            pass  # only the customer's message and the operator's notice: urgent
        else:
            draw = rng.random()
            if draw < 0.25:
                resolved = max(
                    opened + (self.now - opened) // 2,
                    self.now - rng.randint(0, max(1, self.auto_close_ms // 2)),
                )
                self._play(thread, post[:-1] or post, ctx, start, resolved - MINUTE)
                incident.resolved_ms = resolved
                incident.resolve_reason = _resolution_for(reason)
                incident.close_due_ms = resolved + self.auto_close_ms
            elif draw < 0.32 and len(post) >= 2:
                resolved = start + (end - start) // 2
                self._play(thread, post[:-1], ctx, start, resolved - MINUTE)
                incident.resolved_ms = resolved
                incident.resolve_reason = _resolution_for(reason)
                contest_at = resolved + (end - resolved) // 2
                incident.contested_ms.append(contest_at)
                body = CONTEST_BODY.format(**ctx)
                self._say(thread, "OPERATOR", ("SHOP",), body, contest_at)
                contested = True
            else:
                steps = rng.randint(0, len(post) - 1)
                if plan.urgency == "overdue" and rng.random() < 0.3:
                    steps = 0
                self._play(thread, post[:steps], ctx, start, end)
        if not contested and rng.random() < 0.12 and line.price > 0:
            when = opened + (self.now - opened) // 3
            self._partial_refund(line, when, "19")
        line.updated_ms = max(line.updated_ms, *(c for c in incident.contested_ms), opened)
        order.touch(max(line.updated_ms, incident.resolved_ms or 0))

    def _seed_closed_incident(self, order: Order, line: Line, plan: _Plan) -> None:
        rng = self.rng
        reason = plan.reason or "3"
        opened = plan.incident_ms
        incident = self.open_on_line(line, reason, opened)
        incident.state_before = "RECEIVED"  # a CLOSED order was RECEIVED back then
        script = INCIDENT_SCRIPTS[reason]
        thread = self._new_thread(order, script)
        ctx = self._context(order, line, reason)
        start = self._incident_thread_start(thread, script, ctx, opened, "closed")
        post = list(script.steps[script.incident_after or 0 :])
        handled = opened + rng.randint(3 * DAY, 8 * DAY)
        last_message = self._play(thread, post, ctx, start, handled)
        if script.ends_with_thanks and rng.random() < 0.5:
            flagged = last_message + rng.randint(10 * MINUTE, 5 * HOUR)
            thread.no_store_reply_needed.append((flagged, "SHOP"))
            thread.shop_reply_needed_since = None
            thread.updated_ms = max(thread.updated_ms, flagged)
            thread.cache = None
        refund_at = last_message + rng.randint(HOUR, DAY)
        single_line = len(order.lines) == 1
        if reason in ("5", "1") and (reason == "5" or rng.random() < 0.5):
            self._refund_line_fully(line, refund_at, "17" if reason == "5" else "18")
            if single_line:
                self.close_on_line(line, incident, refund_at, "FULL_REFUND")
                line.state = order.state
                order.touch(line.updated_ms)
                return
        elif reason in ("2", "3", "4") and rng.random() < 0.3:
            self._partial_refund(line, refund_at, "19")
        incident.resolved_ms = refund_at + rng.randint(HOUR, 6 * HOUR)
        incident.resolve_reason = _resolution_for(reason)
        closed = incident.resolved_ms + rng.randint(2 * DAY, 5 * DAY)
        self.close_on_line(line, incident, closed, "AUTO_AFTER_RESOLUTION")
        line.state = order.state
        order.touch(line.updated_ms)

    def _seed_other_thread(self, order: Order, script: Script) -> None:
        rng = self.rng
        t_first = max(order.created_ms, (order.debited_ms or order.created_ms)) + rng.randint(
            10 * MINUTE, 20 * HOUR
        )
        end = self.now - MINUTE
        if t_first >= end - 10 * MINUTE:
            base = max(order.created_ms, order.debited_ms or order.created_ms)
            t_first = base + int((end - base) * (0.2 + 0.4 * rng.random()))
        thread = self._new_thread(order, script)
        ctx = self._context(order, order.lines[0], None)
        steps = list(script.steps)
        if rng.random() < 0.4:
            steps = steps[: rng.randint(1, len(steps))]
        first, rest = steps[0], steps[1:]
        self._say_step(thread, first, ctx, t_first)
        last = self._play(thread, rest, ctx, t_first, min(end, t_first + 6 * DAY))
        full = len(steps) == len(script.steps)
        if full and script.ends_with_thanks and rng.random() < 0.3:
            flagged = min(end, last + rng.randint(10 * MINUTE, 5 * HOUR))
            thread.no_store_reply_needed.append((flagged, "SHOP"))
            thread.shop_reply_needed_since = None
            thread.updated_ms = max(thread.updated_ms, flagged)
            thread.cache = None

    # ------------------------------------------------------------- threads
    def _new_thread(self, order: Order, script: Script) -> Thread:
        customer = order.customer
        thread = Thread(
            thread_id=self.uuid(),
            order_id=order.order_id,
            topic_type=script.topic_type,
            topic_value=script.topic_value,
            created_ms=0,
            updated_ms=0,
            customer=Participant("CUSTOMER", customer.display_name, customer.customer_id),
        )
        self.threads.append(thread)
        return thread

    def new_thread(
        self, order: Order, topic_type: str, topic_value: str, created_ms: int
    ) -> Thread:
        """A thread created live (OR43, control API); not registered anywhere."""
        customer = order.customer
        return Thread(
            thread_id=self.uuid(),
            order_id=order.order_id,
            topic_type=topic_type,
            topic_value=topic_value,
            created_ms=created_ms,
            updated_ms=created_ms,
            customer=Participant("CUSTOMER", customer.display_name, customer.customer_id),
        )

    def _context(self, order: Order, line: Line, reason: str | None) -> dict[str, str]:
        carrier = order.carrier
        tracking2 = self.rng.digits(12)
        return {
            "order_id": order.order_id,
            "name": order.customer.firstname,
            "product": line.product.title,
            "carrier": carrier.name if carrier else "la agencia de transporte",
            "tracking": order.tracking or "pendiente de asignar",
            "tracking2": (carrier.tracking_prefix if carrier else "") + tracking2,
            "reason": (reason_label(INCIDENT_OPEN, reason) or "") if reason else "",
        }

    def _incident_thread_start(
        self, thread: Thread, script: Script, ctx: dict[str, str], opened: int, urgency: str
    ) -> int:
        """Customer's first message(s) before the incident, then the operator's notice."""
        rng = self.rng
        pre = script.steps[: script.incident_after or 0]
        if pre and not (urgency == "urgent" and rng.random() < 0.3):
            first = opened - rng.randint(5 * MINUTE, 20 * HOUR)
            for offset, step in enumerate(pre):
                self._say_step(thread, step, ctx, first + offset * MINUTE)
        notice = INCIDENT_OPENED_BODY.format(**ctx)
        self._say(thread, "OPERATOR", ("SHOP",), notice, opened)
        return opened

    def _play(
        self, thread: Thread, steps: list[Step], ctx: dict[str, str], start: int, end: int
    ) -> int:
        """Spread ``steps`` between ``start`` and ``end``; returns the last message time."""
        if not steps:
            return thread.messages[-1].created_ms if thread.messages else start
        rng = self.rng
        gaps = [rng.randint(20 * MINUTE, 26 * HOUR) for _ in steps]
        span = max(end - start, len(steps) * 1000)
        scale = min(1.0, span * 0.95 / sum(gaps))
        moment = start
        for step, gap in zip(steps, gaps, strict=True):
            moment += max(1000, int(gap * scale))
            self._say_step(thread, step, ctx, moment)
        return moment

    def _play_long(
        self, thread: Thread, steps: list[Step], ctx: dict[str, str], start: int, end: int
    ) -> None:
        """A warranty saga of 110-170 messages ending with the customer waiting."""
        rng = self.rng
        total = rng.randint(110, 170) - len(thread.messages)
        pattern = ("SHOP", "CUSTOMER", "SHOP", "CUSTOMER", "OPERATOR", "SHOP", "CUSTOMER")
        sequence: list[Step] = list(steps[:3])
        while len(sequence) < total - 1:
            party = pattern[len(sequence) % len(pattern)]
            body = rng.choice(LONG_THREAD_FILLERS[party])
            to = ("CUSTOMER",) if party == "SHOP" else ("SHOP",)
            sequence.append((party, to, body, None))
        sequence.append(("CUSTOMER", ("SHOP",), LONG_THREAD_FILLERS["CUSTOMER"][3], None))
        step_ms = (end - start) // (len(sequence) + 1)
        moment = start
        for step in sequence:
            moment += max(1000, step_ms - rng.randint(0, step_ms // 3))
            self._say_step(thread, step, ctx, moment)

    def _say_step(self, thread: Thread, step: Step, ctx: dict[str, str], when: int) -> None:
        party, to, template, attachment_kind = step
        attachments: tuple[Attachment, ...] = ()
        if attachment_kind and self.rng.random() < 0.6:
            attachments = (self._attachment(attachment_kind, ctx),)
        self._say(thread, party, to, template.format(**ctx), when, attachments)

    def _say(
        self,
        thread: Thread,
        party: str,
        to: tuple[str, ...],
        body: str,
        when: int,
        attachments: tuple[Attachment, ...] = (),
    ) -> Message:
        message = Message(self.uuid(), when, party, body, to, attachments)
        if not thread.messages:
            thread.created_ms = when
        thread.append(message)
        return message

    def _attachment(self, kind: str, ctx: dict[str, str]) -> Attachment:
        content_type, data = sample_for(kind)
        if kind == "invoice":
            name = f"factura_{ctx['order_id']}.pdf"
        else:
            name = self.rng.choice(("foto_producto.png", "foto_embalaje.png", "captura.png"))
        attachment = Attachment(self.uuid(), name, content_type, data)
        self.attachments[attachment.attachment_id] = attachment
        return attachment


def _resolution_for(reason: str) -> str:
    return {
        "1": "INC_SOLVED_DELIVERED",
        "2": "INC_SOLVED_REPLACEMENT",
        "3": "INC_SOLVED_REPLACEMENT",
        "4": "INC_SOLVED_REPLACEMENT",
        "5": "INC_SOLVED_RETURN",
        "6": "INC_SOLVED_REPAIRED",
    }.get(reason, "INC_SOLVED_INFO")
