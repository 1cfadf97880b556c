"""Pydantic models of the Mirakl shop API payloads this project reads and writes.

Parsing is tolerant on purpose, because Mirakl adds fields and enum values without notice:

- unknown fields are ignored (``extra="ignore"``);
- states, types and codes are plain ``str``, so an unknown value is kept as it is
  (compare with the ``StrEnum`` members of :mod:`mirakl.constants`);
- ids sent as JSON numbers (``"offer_id": 2000``) become ``str``;
- ``null`` on a field that has a default (a list, ``0``, ``False``) gives the default;
- money is ``Decimal``. The client decodes JSON with ``parse_float=Decimal``, so
  ``11.24`` stays ``Decimal("11.24")``; a float input is converted through its ``repr``;
- datetimes are timezone-aware UTC (Mirakl sends ``Z``, sometimes with milliseconds; a
  naive value is taken as UTC).

Field names are Mirakl's JSON names, except ``Message.from_`` (alias ``"from"``).
Pages (:class:`OrderPage`, :class:`ThreadPage`) are validated record by record: a
malformed record lands in ``invalid`` and the rest of the page is still returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from mirakl.constants import EntityType, Party
from mirakl.errors import MiraklPayloadError

__all__ = [
    "Address",
    "Attachment",
    "AttachmentFile",
    "Cancelation",
    "Channel",
    "Customer",
    "Entity",
    "InvalidRecord",
    "LineRefund",
    "Message",
    "MessageCreated",
    "MessageInput",
    "MiraklDatetime",
    "MiraklId",
    "MiraklModel",
    "NoReplyNeeded",
    "Order",
    "OrderLine",
    "OrderPage",
    "OrganizationDetails",
    "Participant",
    "Reason",
    "Recipient",
    "RefundCreated",
    "RefundLineRequest",
    "RefundRequest",
    "RefundResult",
    "ResolveIncidentInput",
    "Sender",
    "Tax",
    "TaxAmount",
    "Thread",
    "ThreadInput",
    "ThreadMetadata",
    "ThreadPage",
    "Topic",
    "summarize_validation_error",
]


def _id_to_str(value: Any) -> Any:
    """Mirakl sends some ids as JSON numbers (``offer_id``, refund ``id``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return str(int(value))
    return value


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


#: An id: ``str`` in Python whatever JSON type Mirakl used.
MiraklId = Annotated[str, BeforeValidator(_id_to_str)]
#: An aware UTC datetime; ``""`` is read as missing.
MiraklDatetime = Annotated[datetime, BeforeValidator(_blank_to_none), AfterValidator(_as_utc)]


class MiraklModel(BaseModel):
    """Base of every Mirakl model: ignore unknown fields, coerce numbers to ``str``."""

    model_config = ConfigDict(
        extra="ignore",
        coerce_numbers_to_str=True,
        populate_by_name=True,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _null_means_default(cls, value: Any, info: ValidationInfo) -> Any:
        # `"refunds": null` or `"has_incident": null` must not reject a whole order.
        if value is None and info.field_name:
            field = cls.model_fields[info.field_name]
            if not field.is_required():
                return field.get_default(call_default_factory=True)
        return value


# --------------------------------------------------------------------------- orders (OR11)


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
        return self.refund_state or self.state


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
    payment_type: str | None = None
    order_tax_mode: str | None = None
    order_lines: list[OrderLine] = Field(default_factory=list)

    @property
    def incident_lines(self) -> list[OrderLine]:
        """Lines currently in ``INCIDENT_OPEN``."""
        return [line for line in self.order_lines if line.order_line_state == "INCIDENT_OPEN"]


class InvalidRecord(MiraklModel):
    """A record of a page that failed validation, kept for logging and later repair."""

    id: str | None = None
    error: str
    raw: dict[str, Any] = Field(default_factory=dict)


# --------------------------------------------------------------------------- page helpers

_M = TypeVar("_M", bound=BaseModel)


def summarize_validation_error(exc: ValidationError, *, limit: int = 5) -> str:
    """``loc: msg`` pairs without the input values (they may hold personal data)."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:limit]:
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        parts.append(f"{loc}: {err['msg']}")
    extra = exc.error_count() - limit
    if extra > 0:
        parts.append(f"(+{extra} more)")
    return "; ".join(parts)


def _record_id(raw: Any, key: str) -> str | None:
    if isinstance(raw, Mapping):
        value = _id_to_str(raw.get(key))
        if isinstance(value, str) and value:
            return value
    return None


def _validate_records(
    records: list[Any], model: type[_M], *, id_key: str
) -> tuple[list[_M], list[InvalidRecord]]:
    valid: list[_M] = []
    invalid: list[InvalidRecord] = []
    for raw in records:
        if not isinstance(raw, Mapping):
            invalid.append(
                InvalidRecord(id=None, error="record is not a JSON object", raw={"value": raw})
            )
            continue
        try:
            valid.append(model.model_validate(raw))
        except ValidationError as exc:
            invalid.append(
                InvalidRecord(
                    id=_record_id(raw, id_key),
                    error=summarize_validation_error(exc),
                    raw=dict(raw),
                )
            )
    return valid, invalid


def _require_list(payload: Any, key: str, *, call: str) -> list[Any]:
    if not isinstance(payload, Mapping):
        raise MiraklPayloadError(
            f"expected a JSON object with {key!r}, got {type(payload).__name__}", call=call
        )
    value = payload.get(key)
    if not isinstance(value, list):
        raise MiraklPayloadError(f"expected {key!r} to be a list, got {value!r:.80}", call=call)
    return value


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


# --------------------------------------------------------------------------- threads (M10/M11)


class Participant(MiraklModel):
    """A thread participant. The OPERATOR participant has no ``id``."""

    type: str
    id: MiraklId | None = None
    display_name: str | None = None


class OrganizationDetails(MiraklModel):
    """The organisation behind a sender (customer, shop or operator)."""

    type: str | None = None
    id: MiraklId | None = None
    display_name: str | None = None


class Sender(MiraklModel):
    """``from`` of a message or ``metadata.last_sender``; ``type`` is e.g. ``SHOP_USER``."""

    type: str
    display_name: str | None = None
    organization_details: OrganizationDetails | None = None

    @property
    def party(self) -> str:
        """``CUSTOMER``, ``OPERATOR`` or ``SHOP``; an unknown type is returned unchanged."""
        org_type = self.organization_details.type if self.organization_details else None
        if org_type:
            return org_type.upper()
        kind = self.type.upper()
        for known in Party:
            if kind == known or kind.startswith(f"{known}_"):
                return known.value
        return self.type


class Attachment(MiraklModel):
    """An attachment of a message; download it with M13."""

    id: MiraklId
    name: str | None = None
    size: int | None = None


class Message(MiraklModel):
    """A thread message. ``from_`` is the JSON field ``from``."""

    id: MiraklId
    body: str = ""
    date_created: MiraklDatetime
    from_: Sender = Field(alias="from")
    to: list[Participant] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)


class Topic(MiraklModel):
    """Thread topic: ``FREE_TEXT`` with a subject, or ``REASON_CODE`` with an RE01 code."""

    type: str
    value: str


class Entity(MiraklModel):
    """What a thread is about: an order (``MMP_ORDER``, ``id`` = order_id), an offer..."""

    id: MiraklId
    label: str | None = None
    type: str


class ThreadMetadata(MiraklModel):
    """Thread summary. ``shop_reply_needed_since`` is None when no reply is needed."""

    last_message_date: MiraklDatetime | None = None
    total_count: int | None = None
    shop_reply_needed_since: MiraklDatetime | None = None
    last_sender: Sender | None = None


class NoReplyNeeded(MiraklModel):
    """An entry of ``no_store_reply_needed``."""

    date: MiraklDatetime | None = None
    user_type: str | None = None


class Thread(MiraklModel):
    """An inbox thread (M10, or M11 where ``messages`` is filled only with_messages)."""

    id: MiraklId
    topic: Topic | None = None
    date_created: MiraklDatetime
    date_updated: MiraklDatetime
    entities: list[Entity] = Field(default_factory=list)
    authorized_participants: list[Participant] = Field(default_factory=list)
    current_participants: list[Participant] = Field(default_factory=list)
    metadata: ThreadMetadata | None = None
    no_store_reply_needed: list[NoReplyNeeded] = Field(default_factory=list)
    messages: list[Message] = Field(default_factory=list)

    @property
    def order_id(self) -> str | None:
        """Id of the first ``MMP_ORDER`` entity, or None."""
        for entity in self.entities:
            if entity.type == EntityType.MMP_ORDER:
                return entity.id
        return None

    @property
    def needs_reply(self) -> bool:
        """True when Mirakl says the shop owes an answer."""
        return bool(self.metadata and self.metadata.shop_reply_needed_since)

    def participant(self, party: str) -> Participant | None:
        """The first authorized participant of a type (``CUSTOMER``, ``OPERATOR``...)."""
        for candidate in self.authorized_participants:
            if candidate.type == party:
                return candidate
        return None


class ThreadPage(MiraklModel):
    """One M11 page. ``next_page_token`` is None on the last page."""

    data: list[Thread] = Field(default_factory=list)
    next_page_token: str | None = None
    previous_page_token: str | None = None
    invalid: list[InvalidRecord] = Field(default_factory=list)

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        """Validate an M11 body thread by thread.

        :raises MiraklPayloadError: the body has no ``data`` list.
        """
        records = _require_list(payload, "data", call="M11")
        threads, invalid = _validate_records(records, Thread, id_key="id")
        return cls(
            data=threads,
            next_page_token=_token(payload.get("next_page_token")),
            previous_page_token=_token(payload.get("previous_page_token")),
            invalid=invalid,
        )


def _token(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# --------------------------------------------------------------------------- reasons (RE01)


class Reason(MiraklModel):
    """An RE01 reason. Filter on ``type`` and ``is_shop_right`` before offering it."""

    code: MiraklId
    label: str | None = None
    type: str
    is_shop_right: bool | None = None


# --------------------------------------------------------------------------- writes


class Recipient(MiraklModel):
    """An M12 ``to`` entry: ``{"type": "OPERATOR"}`` or ``{"type": "CUSTOMER", "id": ...}``."""

    type: str
    id: MiraklId | None = None


class MessageInput(MiraklModel):
    """The M12 ``message_input`` part."""

    body: str
    to: list[Recipient]
    topic: Topic | None = None

    def to_payload(self) -> dict[str, Any]:
        """JSON-ready dict without the ``None`` fields Mirakl does not expect."""
        return self.model_dump(mode="json", exclude_none=True)


class ThreadInput(MiraklModel):
    """The OR43 ``thread_input`` part: ``to`` is a list of strings, ``topic`` required."""

    body: str
    to: list[str]
    topic: Topic

    def to_payload(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return self.model_dump(mode="json", exclude_none=True)


class MessageCreated(MiraklModel):
    """Answer of M12 and OR43 (201)."""

    message_id: MiraklId
    thread_id: MiraklId


class ResolveIncidentInput(MiraklModel):
    """OR64 body. ``reason_code`` is omitted when None."""

    reason_code: str | None = None

    def to_payload(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return self.model_dump(mode="json", exclude_none=True)


class TaxAmount(MiraklModel):
    """A tax amount sent in (or echoed by) OR28."""

    code: str
    amount: Decimal


NonNegativeDecimal = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class RefundLineRequest(MiraklModel):
    """One OR28 ``refunds[]`` element: what to refund on one order line.

    ``amount`` is the offer-price part, ``shipping_amount`` the shipping part; whether tax
    is included depends on ``order_tax_mode``. ``quantity`` is informative for Mirakl.
    """

    order_line_id: MiraklId
    amount: NonNegativeDecimal
    shipping_amount: NonNegativeDecimal = Decimal(0)
    quantity: int | None = Field(default=None, ge=0)
    reason_code: MiraklId
    taxes: list[TaxAmount] = Field(default_factory=list)
    shipping_taxes: list[TaxAmount] = Field(default_factory=list)
    currency_iso_code: str | None = None
    excluded_from_shipment: bool | None = None

    def to_payload(self) -> dict[str, Any]:
        """Dict with ``Decimal`` amounts kept as they are (see ``client.encode_json``).

        ``None`` fields and empty tax lists are omitted: an empty list would tell Mirakl
        "no tax", while omitting it lets Mirakl refuse the call when taxes are required.
        """
        payload = self.model_dump(mode="python", exclude_none=True)
        for key in ("taxes", "shipping_taxes"):
            if not payload.get(key):
                payload.pop(key, None)
        return payload


class RefundRequest(MiraklModel):
    """The OR28 body."""

    order_tax_mode: str | None = None
    refunds: list[RefundLineRequest]

    def to_payload(self) -> dict[str, Any]:
        """Dict with exact ``Decimal`` amounts."""
        payload: dict[str, Any] = {}
        if self.order_tax_mode is not None:
            payload["order_tax_mode"] = self.order_tax_mode
        payload["refunds"] = [line.to_payload() for line in self.refunds]
        return payload


class RefundCreated(MiraklModel):
    """One refund created by OR28. Only ``refund_id`` and ``order_line_id`` are required."""

    refund_id: MiraklId
    order_refund_id: MiraklId | None = None
    order_line_id: MiraklId
    amount: Decimal | None = None
    shipping_amount: Decimal | None = None
    quantity: int | None = None
    reason_code: MiraklId | None = None
    currency_iso_code: str | None = None
    excluded_from_shipment: bool | None = None
    taxes: list[TaxAmount] = Field(default_factory=list)
    shipping_taxes: list[TaxAmount] = Field(default_factory=list)


class RefundResult(MiraklModel):
    """The OR28 answer."""

    order_tax_mode: str | None = None
    refunds: list[RefundCreated] = Field(default_factory=list)


class AttachmentFile(MiraklModel):
    """A downloaded attachment (M13)."""

    content: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def size(self) -> int:
        """Number of bytes."""
        return len(self.content)
