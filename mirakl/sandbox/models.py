"""The sandbox's records: compact slotted objects, rendered to Mirakl JSON on demand.

Instants are epoch milliseconds (see ``clock``), money is ``Decimal`` with two places.
Each order and thread keeps a cache of its rendered JSON; every mutation must go through
``touch``/``invalidate`` so readers never see a stale payload.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from mirakl.sandbox.catalog import Carrier, Product

__all__ = [
    "INCIDENT_ELIGIBLE_STATES",
    "REFUNDABLE_STATES",
    "Attachment",
    "Cancelation",
    "Customer",
    "Incident",
    "Line",
    "Message",
    "Order",
    "Participant",
    "Refund",
    "Thread",
    "ZERO",
]

ZERO = Decimal("0.00")

# A customer or the operator can open an incident on a line once it left the warehouse.
INCIDENT_ELIGIBLE_STATES = frozenset({"SHIPPED", "TO_COLLECT", "RECEIVED", "CLOSED"})
# OR28 accepts refunds on debited lines that are not closed (refused at CLOSED, per the
# connectors quoted in MIRAKL_API.md section 5).
REFUNDABLE_STATES = frozenset({"SHIPPING", "SHIPPED", "TO_COLLECT", "RECEIVED", "INCIDENT_OPEN"})


@dataclass(slots=True, eq=False)
class Customer:
    customer_id: str
    civility: str
    firstname: str
    lastname: str
    street_1: str
    street_2: str
    city: str
    province: str
    zip_code: str
    phone: str
    additional_info: str | None
    company: str | None = None

    @property
    def display_name(self) -> str:
        return f"{self.firstname} {self.lastname}"


@dataclass(slots=True, eq=False)
class Refund:
    refund_id: str
    amount: Decimal
    shipping_amount: Decimal
    quantity: int | None
    reason_code: str
    taxes: list[tuple[str, Decimal]]
    shipping_taxes: list[tuple[str, Decimal]]
    created_ms: int
    state: str
    commission_amount: Decimal
    commission_tax: Decimal


@dataclass(slots=True, eq=False)
class Cancelation:
    cancelation_id: str
    amount: Decimal
    shipping_amount: Decimal
    quantity: int
    reason_code: str
    created_ms: int
    tax: Decimal
    shipping_tax: Decimal
    commission_amount: Decimal
    commission_tax: Decimal


@dataclass(slots=True, eq=False)
class Incident:
    """One incident on one line, kept after it closes (the line's incident history)."""

    reason_code: str
    opened_ms: int
    state_before: str
    reopened: bool = False
    resolved_ms: int | None = None
    resolve_reason: str | None = None
    close_due_ms: int | None = None
    #: OR64 calls that changed something (a repeated one with the same reason does not).
    resolutions: int = 0
    contested_ms: list[int] = field(default_factory=list)
    closed_ms: int | None = None
    closed_by: str | None = None  # AUTO_AFTER_RESOLUTION | FULL_REFUND | OPERATOR

    @property
    def status(self) -> str:
        if self.closed_ms is not None:
            return "CLOSED"
        if self.close_due_ms is not None:
            return "RESOLVED"
        if self.contested_ms:
            return "CONTESTED"
        return "OPEN"


@dataclass(slots=True, eq=False)
class Line:
    line_id: str
    index: int
    product: Product
    offer_id: int
    quantity: int
    price_unit: Decimal
    price: Decimal
    shipping_price: Decimal
    commission_rate: Decimal
    state: str
    created_ms: int
    updated_ms: int
    debited_ms: int | None = None
    shipped_ms: int | None = None
    received_ms: int | None = None
    reason_code: str | None = None
    reason_label: str | None = None
    refunds: list[Refund] = field(default_factory=list)
    cancelations: list[Cancelation] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)

    @property
    def open_incident(self) -> Incident | None:
        if self.incidents and self.incidents[-1].closed_ms is None:
            return self.incidents[-1]
        return None

    def refunded_amount(self) -> Decimal:
        return sum((r.amount for r in self.refunds), ZERO)

    def refunded_shipping(self) -> Decimal:
        return sum((r.shipping_amount for r in self.refunds), ZERO)

    def fully_refunded(self) -> bool:
        return (
            self.refunded_amount() >= self.price and self.refunded_shipping() >= self.shipping_price
        )


@dataclass(slots=True, eq=False)
class Order:
    order_id: str
    commercial_id: str
    created_ms: int
    updated_ms: int
    state: str
    customer: Customer
    lines: list[Line]
    carrier: Carrier | None
    tracking: str | None
    shipping_type: tuple[str, str]
    shipping_zone: tuple[str, str]
    payment_type: str
    acceptance_ms: int | None
    debited_ms: int | None
    shipping_deadline_ms: int
    leadtime_to_ship: int
    notification_token: str
    transaction_number: str | None
    has_customer_message: bool = False
    has_invoice: bool = False
    cache: bytes | None = None  # rendered JSON (UTF-8), dropped by ``touch``

    @property
    def has_incident(self) -> bool:
        return any(line.state == "INCIDENT_OPEN" for line in self.lines)

    @property
    def fully_refunded(self) -> bool:
        billable = [line for line in self.lines if line.price > 0 or line.shipping_price > 0]
        return bool(billable) and all(line.fully_refunded() for line in billable)

    def line(self, line_id: str) -> Line | None:
        for line in self.lines:
            if line.line_id == line_id:
                return line
        return None

    def touch(self, now_ms: int) -> None:
        """Record a change: bump last_updated_date and drop the rendered payload."""
        self.updated_ms = max(self.updated_ms, now_ms)
        self.cache = None


@dataclass(slots=True, eq=False)
class Participant:
    type: str  # CUSTOMER | OPERATOR | SHOP
    display_name: str
    id: str | None = None

    def as_dict(self) -> dict[str, str]:
        if self.id is None:
            return {"display_name": self.display_name, "type": self.type}
        return {"display_name": self.display_name, "id": self.id, "type": self.type}


@dataclass(slots=True, eq=False)
class Attachment:
    attachment_id: str
    name: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(slots=True, eq=False)
class Message:
    message_id: str
    created_ms: int
    sender: str  # CUSTOMER | OPERATOR | SHOP
    body: str
    to: tuple[str, ...]
    attachments: tuple[Attachment, ...] = ()
    cache: bytes | None = None


@dataclass(slots=True, eq=False)
class Thread:
    thread_id: str
    order_id: str
    topic_type: str
    topic_value: str
    created_ms: int
    updated_ms: int
    customer: Participant
    messages: list[Message] = field(default_factory=list)
    current: set[str] = field(default_factory=set)
    shop_reply_needed_since: int | None = None
    no_store_reply_needed: list[tuple[int, str]] = field(default_factory=list)
    cache: bytes | None = None  # the header's JSON (UTF-8), dropped by ``append``

    @property
    def key(self) -> tuple[int, str]:
        """Position in M11's keyset order (date_updated, id)."""
        return (self.updated_ms, self.thread_id)

    def append(self, message: Message) -> None:
        """Add a message and update what Mirakl derives from it.

        A shop message clears ``shop_reply_needed_since``; a customer or operator message
        addressed to the shop starts it if it was not running (so it holds the date of the
        first unanswered inbound message). The caller re-indexes the thread (its
        date_updated moves).
        """
        self.messages.append(message)
        self.updated_ms = max(self.updated_ms, message.created_ms)
        self.current.add(message.sender)
        self.current.update(message.to)
        if message.sender == "SHOP":
            self.shop_reply_needed_since = None
        elif "SHOP" in message.to and self.shop_reply_needed_since is None:
            self.shop_reply_needed_since = message.created_ms
        self.cache = None

    def has_customer_message(self) -> bool:
        return any(m.sender == "CUSTOMER" for m in self.messages)
