"""Orders of the data set: customers, lines, their timeline, cancelations, refunds."""

from __future__ import annotations

from decimal import Decimal

from mirakl.sandbox.catalog import (
    CARRIERS,
    CITIES,
    FIRST_NAMES,
    PAYMENT_TYPES,
    PRODUCTS,
    STREETS,
    SURNAMES,
    Product,
)
from mirakl.sandbox.catalog import DELIVERY_NOTES as _NOTES
from mirakl.sandbox.catalog import STREET_EXTRAS as _EXTRAS
from mirakl.sandbox.models import (
    Cancelation,
    Customer,
    Line,
    Order,
    Refund,
)
from mirakl.sandbox.render import IVA_CODE, q2, vat_included
from mirakl.sandbox.seed.base import DAY, HOUR, MINUTE, SeedRandom, Timeline, cumulative

__all__ = ["OrderBuilder"]

_OFFER_IDS = {product.product_sku: 3100 + i for i, product in enumerate(PRODUCTS)}
_COMMISSION_RATES = (Decimal("0.07"), Decimal("0.10"), Decimal("0.12"), Decimal("0.15"))
_SHIPPING_FEES = (Decimal("3.99"), Decimal("4.99"), Decimal("5.95"))
_FREE_SHIPPING_FROM = Decimal("50")
_LINE_COUNTS, _LINE_COUNT_CUM = (1, 2, 3), cumulative((65, 27, 8))
_QUANTITIES, _QUANTITY_CUM = (1, 2, 3), cumulative((82, 14, 4))


class OrderBuilder:
    """Makes orders and the refunds and cancelations on their lines."""

    rng: SeedRandom
    now: int
    _next_commercial: int
    _refund_seq: int
    _cancel_seq: int

    def next_refund_id(self) -> str:
        self._refund_seq += 1
        return str(self._refund_seq)

    def _next_order_id(self) -> tuple[str, str]:
        self._next_commercial += self.rng.randint(1, 9)
        commercial = str(self._next_commercial)
        return commercial, f"{commercial}-A"

    def timeline(self, state: str, last: int) -> Timeline:
        """Walk back from the order's latest event to its creation."""
        u = self.rng.randint
        t = Timeline(created=last, last=last)
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

    def _lines(self, order_id: str, state: str, t: Timeline) -> list[Line]:
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

    def make_order(self, state: str, t: Timeline) -> Order:
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
