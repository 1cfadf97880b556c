"""Orders (OR11): orders, lines, refunds on lines, and the page of them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Self

from pydantic import (
    Field,
)

from mirakl.schemas.base import (
    InvalidRecord,
    MiraklDatetime,
    MiraklId,
    MiraklModel,
    _require_list,
    _validate_records,
)

__all__ = [
    "Address",
    "Cancelation",
    "Channel",
    "Customer",
    "LineRefund",
    "Order",
    "OrderLine",
    "OrderPage",
    "Tax",
]


class Tax(MiraklModel):
    """A tax on a line, its shipping, a refund or a cancelation."""

    code: str
    amount: Decimal
    rate: Decimal | None = None
    tax_calculation_rule: str | None = None


class Channel(MiraklModel):
    """Sales channel of an order (``null`` when the marketplace has one channel)."""

    code: str | None = None
    label: str | None = None


class Address(MiraklModel):
    """Billing or shipping address; every field may be missing or ``null``."""

    civility: str | None = None
    company: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    street_1: str | None = None
    street_2: str | None = None
    zip_code: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    country_iso_code: str | None = None
    phone: str | None = None
    phone_secondary: str | None = None
    additional_info: str | None = None


class Customer(MiraklModel):
    """The order's customer as the shop sees it (names may be anonymised)."""

    customer_id: MiraklId | None = None
    civility: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    locale: str | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None


class LineRefund(MiraklModel):
    """One refund recorded on an order line (``order_lines[].refunds[]``)."""

    id: MiraklId
    order_refund_id: MiraklId | None = None
    amount: Decimal
    shipping_amount: Decimal = Decimal(0)
    quantity: int | None = None
    reason_code: str | None = None
    #: Deprecated by Mirakl: "will not contain newer states added to refunds".
    state: str | None = None
    refund_state: str | None = None
    created_date: MiraklDatetime | None = None
    taxes: list[Tax] = Field(default_factory=list)
    shipping_taxes: list[Tax] = Field(default_factory=list)

    @property
    def current_state(self) -> str | None:
        """``refund_state``, which alone carries the newer states (e.g.
        ``WAITING_REFUND_TAX_CONFIRMATION``), or the deprecated ``state`` on instances
        that send only it (Mirakl's own OR11 example has no ``refund_state``)."""
        return refund_current_state(self)


class Cancelation(MiraklModel):
    """One cancelation recorded on an order line (``order_lines[].cancelations[]``)."""

    id: MiraklId
    amount: Decimal = Decimal(0)
    shipping_amount: Decimal = Decimal(0)
    quantity: int | None = None
    reason_code: str | None = None
    created_date: MiraklDatetime | None = None
    taxes: list[Tax] = Field(default_factory=list)
    shipping_taxes: list[Tax] = Field(default_factory=list)


class OrderLine(MiraklModel):
    """One order line. ``INCIDENT_OPEN`` is a line state (``order_line_state``)."""

    order_line_id: MiraklId
    order_line_index: int | None = None
    order_line_state: str
    order_line_state_reason_code: str | None = None
    order_line_state_reason_label: str | None = None
    offer_id: MiraklId | None = None
    offer_sku: str | None = None
    product_sku: str | None = None
    product_title: str | None = None
    category_code: str | None = None
    category_label: str | None = None
    quantity: int
    price_unit: Decimal | None = None
    price: Decimal
    shipping_price: Decimal = Decimal(0)
    total_price: Decimal | None = None
    taxes: list[Tax] = Field(default_factory=list)
    shipping_taxes: list[Tax] = Field(default_factory=list)
    can_refund: bool | None = None
    refunds: list[LineRefund] = Field(default_factory=list)
    cancelations: list[Cancelation] = Field(default_factory=list)
    created_date: MiraklDatetime | None = None
    last_updated_date: MiraklDatetime | None = None
    debited_date: MiraklDatetime | None = None
    shipped_date: MiraklDatetime | None = None
    received_date: MiraklDatetime | None = None


class Order(MiraklModel):
    """An OR11 order. ``has_incident`` is the reliable order-level incident flag."""

    order_id: MiraklId
    commercial_id: MiraklId | None = None
    order_state: str
    order_state_reason_code: str | None = None
    order_state_reason_label: str | None = None
    channel: Channel | None = None
    created_date: MiraklDatetime
    last_updated_date: MiraklDatetime
    currency_iso_code: str = "EUR"
    price: Decimal | None = None
    shipping_price: Decimal | None = None
    total_price: Decimal | None = None
    has_incident: bool = False
    has_customer_message: bool = False
    fully_refunded: bool | None = None
    customer: Customer | None = None
    customer_notification_email: str | None = None
    shipping_company: str | None = None
    shipping_carrier_code: str | None = None
    shipping_tracking: str | None = None
    shipping_tracking_url: str | None = None
    shipping_type_label: str | None = None
    shipping_zone_label: str | None = None
    shipping_deadline: MiraklDatetime | None = None
    acceptance_decision_date: MiraklDatetime | None = None
    payment_type: str | None = None
    order_tax_mode: str | None = None
    order_lines: list[OrderLine] = Field(default_factory=list)

    @property
    def incident_lines(self) -> list[OrderLine]:
        """Lines currently in ``INCIDENT_OPEN``."""
        return order_incident_lines(self)


class OrderPage(MiraklModel):
    """One OR11 page. ``next_offset`` is None on the last page."""

    orders: list[Order] = Field(default_factory=list)
    total_count: int | None = None
    invalid: list[InvalidRecord] = Field(default_factory=list)
    offset: int = 0
    next_offset: int | None = None

    @classmethod
    def from_payload(cls, payload: Any, *, offset: int = 0, max: int = 100) -> Self:
        """Validate an OR11 body record by record.

        ``next_offset`` counts every record received, valid or not, so one broken order
        never makes the sync loop or skip. Without ``total_count`` a short page is the last.

        :raises MiraklPayloadError: the body has no ``orders`` list.
        """
        records = _require_list(payload, "orders", call="OR11")
        orders, invalid = _validate_records(records, Order, id_key="order_id")
        total_count = _optional_int(payload.get("total_count"))
        received = len(records)
        end = offset + received
        if received == 0:
            next_offset = None
        elif total_count is not None:
            next_offset = end if end < total_count else None
        else:
            next_offset = end if received >= max else None
        return cls(
            orders=orders,
            total_count=total_count,
            invalid=invalid,
            offset=offset,
            next_offset=next_offset,
        )


def _optional_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, ArithmeticError):
        return None


# The rules of an order and a refund, shared with their struct twins
# (:mod:`mirakl.schemas.records`): each reads only the attributes both forms have.


def refund_current_state(refund: Any) -> str | None:
    """A refund's ``refund_state``, else its deprecated ``state``."""
    state = refund.refund_state or refund.state
    return None if state is None else str(state)


def order_incident_lines(order: Any) -> list[Any]:
    """An order's lines currently in ``INCIDENT_OPEN``."""
    return [line for line in order.order_lines if line.order_line_state == "INCIDENT_OPEN"]
