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

The shop account (A01) and its statistics (A21) go further: one answer a day carries the
shop's state, balance and quality figures, so only ``shop_id`` is required there and an
unreadable value (a KPI sent as text, a date that does not parse) reads as ``None``
instead of rejecting the answer (the ``Lenient*`` types).

Field names are Mirakl's JSON names, except ``Message.from_`` (alias ``"from"``).
Pages (:class:`OrderPage`, :class:`ThreadPage`) are validated record by record: a
malformed record lands in ``invalid`` and the rest of the page is still returned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)

from mirakl.constants import (
    RATE_KPIS,
    STATISTIC_KPIS,
    EntityType,
    Party,
    ShopState,
    StatisticPeriod,
)
from mirakl.errors import MiraklPayloadError

__all__ = [
    "Address",
    "Attachment",
    "AttachmentFile",
    "Cancelation",
    "Channel",
    "CodeList",
    "Customer",
    "DocumentDownload",
    "DocumentFile",
    "DocumentType",
    "DocumentUpload",
    "DocumentUploadResult",
    "Entity",
    "InvalidRecord",
    "KpiSeries",
    "Kyc",
    "LenientBool",
    "LenientDatetime",
    "LenientDecimal",
    "LenientInt",
    "LineRefund",
    "Message",
    "MessageCreated",
    "MessageInput",
    "MiraklDatetime",
    "MiraklId",
    "MiraklModel",
    "NoReplyNeeded",
    "Order",
    "OrderDocument",
    "OrderDocumentList",
    "OrderLine",
    "OrderPage",
    "OrganizationDetails",
    "Participant",
    "PaymentDetails",
    "PaymentSubBalance",
    "Reason",
    "Recipient",
    "RejectedDocument",
    "RefundCreated",
    "RefundLineRequest",
    "RefundRequest",
    "RefundResult",
    "ResolveIncidentInput",
    "Sender",
    "ShopAccount",
    "ShopShipping",
    "ShopStatistics",
    "StatisticValue",
    "Tax",
    "TaxAmount",
    "Thread",
    "ThreadInput",
    "ThreadMetadata",
    "ThreadPage",
    "Topic",
    "UploadFieldError",
    "UploadInputEcho",
    "UploadReturnEntity",
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
    #: Messages of the payload that could not be read; the thread keeps the others.
    invalid_messages: list[InvalidRecord] = Field(default_factory=list, exclude=True)

    @model_validator(mode="wrap")
    @classmethod
    def _set_unreadable_messages_aside(
        cls, data: Any, handler: ValidatorFunctionWrapHandler
    ) -> Any:
        """One unreadable message costs that message, not its thread.

        The thread is validated whole first (the usual case costs nothing more); when
        only some of its messages fail, it is validated again without them and they
        are kept in ``invalid_messages``.
        """
        try:
            return handler(data)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
            bad: dict[int, list[str]] = {}
            for error in errors:
                loc = error["loc"]
                if len(loc) < 2 or loc[0] != "messages" or not isinstance(loc[1], int):
                    raise
                field = ".".join(str(p) for p in loc[2:]) or "<message>"
                bad.setdefault(loc[1], []).append(f"{field}: {error['msg']}")
            raw = data["messages"]
            thread = handler({**data, "messages": [m for i, m in enumerate(raw) if i not in bad]})
            thread.invalid_messages = [
                InvalidRecord(
                    id=_record_id(raw[i], "id"),
                    error="; ".join(messages[:5]),
                    raw=dict(raw[i]) if isinstance(raw[i], Mapping) else {"value": raw[i]},
                )
                for i, messages in sorted(bad.items())
            ]
            return thread

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


# --------------------------------------------------------------------------- lenient values
#
# A01 and A21 arrive once a day and carry one shop's state, balance and quality figures:
# one odd value (a KPI sent as text, a fractional "integer", an unreadable date) must not
# cost the whole answer. The types below read such a value as ``None`` instead of failing.


def _none_when_invalid(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    try:
        return handler(value)
    except ValidationError:
        return None


def _to_whole_number(value: Any) -> Any:
    """Counts and delays are int64 in the OpenAPI; an average may still come as 33.5."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except ArithmeticError:
            return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value.to_integral_value(rounding=ROUND_HALF_UP))
    return value


def _not_bool(value: Any) -> Any:
    return None if isinstance(value, bool) else value


def _str_list(value: Any) -> Any:
    """A list of codes: ``null`` is empty, numbers become text, ``{"code": ...}`` its code."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return []
    items: list[str] = []
    for item in value:
        if isinstance(item, Mapping):
            item = item.get("code")
        item = _id_to_str(item)
        if isinstance(item, str) and item.strip():
            items.append(item)
    return items


#: A number (``Decimal``) or ``None`` when missing or unreadable.
LenientDecimal = Annotated[
    Decimal | None, BeforeValidator(_not_bool), WrapValidator(_none_when_invalid)
]
#: A whole number (rounded half up when Mirakl sends decimals) or ``None``.
LenientInt = Annotated[
    int | None, BeforeValidator(_to_whole_number), WrapValidator(_none_when_invalid)
]
#: A boolean or ``None`` when missing or unreadable.
LenientBool = Annotated[bool | None, WrapValidator(_none_when_invalid)]
#: An aware UTC datetime or ``None`` when missing or unreadable.
LenientDatetime = Annotated[MiraklDatetime | None, WrapValidator(_none_when_invalid)]
#: A list of codes (channels, domains, mime types).
CodeList = Annotated[list[str], BeforeValidator(_str_list)]


# --------------------------------------------------------------------------- A01 shop account


class PaymentSubBalance(MiraklModel):
    """One ``payment_details.sub_balances`` entry (hybrid pay-out PSP platforms only)."""

    pay_out_psp_code: str | None = None
    paid: LenientDecimal = None
    payable: LenientDecimal = None
    pending: LenientDecimal = None


class PaymentDetails(MiraklModel):
    """A01 ``payment_details``. Balances may be negative; their currency is not documented
    (◐ the shop's ``currency_iso_code``)."""

    paid_balance: LenientDecimal = None
    payable_balance: LenientDecimal = None
    pending_balance: LenientDecimal = None
    reserve_balance: LenientDecimal = None
    reserve_target: LenientDecimal = None
    sub_balances: list[PaymentSubBalance] = Field(default_factory=list)


class Kyc(MiraklModel):
    """A01 ``kyc`` (only when the platform's KYC feature is on)."""

    status: str | None = None
    reason: str | None = None


class ShopShipping(MiraklModel):
    """A01 ``shipping``."""

    lead_time_to_ship: LenientInt = None


class ShopAccount(MiraklModel):
    """A01: the shop's state, closing dates, balance, currency, channels and headline KPIs.

    Only ``shop_id`` is required: the OpenAPI marks many more fields required (some of them
    deprecated and missing from its own example), and a shop whose state is readable but
    whose balance is not is still worth knowing about. ``shop_state`` is kept as sent
    (compare with :class:`mirakl.constants.ShopState`); ``None`` means Mirakl did not say.

    The KPI fields (``grade``, ``approval_rate``, the delays in seconds...) are the
    all-time figures; A21 gives them per period. They do not move ``last_updated_date``.
    """

    shop_id: MiraklId
    shop_name: str | None = None
    shop_state: str | None = None
    suspension_type: str | None = None
    closed_from: LenientDatetime = None
    closed_to: LenientDatetime = None
    currency_iso_code: str | None = None
    channels: CodeList = Field(default_factory=list)
    date_created: LenientDatetime = None
    last_updated_date: LenientDatetime = None
    grade: LenientDecimal = None
    evaluations_count: LenientInt = None
    approval_delay: LenientInt = None
    approval_rate: LenientDecimal = None
    order_messages_response_delay: LenientInt = None
    orders_count: LenientInt = None
    offers_count: LenientInt = None
    payment_details: PaymentDetails | None = None
    kyc: Kyc | None = None
    model: str | None = None
    premium: LenientBool = None
    is_professional: LenientBool = None
    free_shipping: LenientBool = None
    payment_method_mandatory: LenientBool = None
    shipping: ShopShipping | None = None
    shipping_country: str | None = None
    domains: CodeList = Field(default_factory=list)

    @field_validator("shop_state", "suspension_type", "currency_iso_code", mode="before")
    @classmethod
    def _code(cls, value: Any) -> Any:
        # Codes are compared upper-case; ``""`` means "not said".
        if isinstance(value, str):
            return value.strip().upper() or None
        return value

    @property
    def payable_balance(self) -> Decimal | None:
        """``payment_details.payable_balance``: what refunds are paid from (◐)."""
        return self.payment_details.payable_balance if self.payment_details else None

    @property
    def is_open(self) -> bool:
        return self.shop_state == ShopState.OPEN

    @property
    def is_suspended(self) -> bool:
        return self.shop_state == ShopState.SUSPENDED

    @property
    def is_terminated(self) -> bool:
        return self.shop_state == ShopState.TERMINATED

    def is_closed_at(self, moment: datetime) -> bool:
        """True when the shop is closed (holidays) at ``moment``.

        How ``shop_state: CLOSE`` relates to ``closed_from``/``closed_to`` is not documented
        (MIRAKL_API_ACCOUNT.md section 8, question 2): the shop counts as closed when the
        state says ``CLOSE`` or when ``moment`` falls inside a closing window, whichever
        Mirakl reports. An open-ended window (no ``closed_to``) runs on.
        """
        if self.shop_state == ShopState.CLOSE:
            return True
        if self.closed_from is None:
            return False
        moment = _as_utc(moment)
        return self.closed_from <= moment and (self.closed_to is None or moment < self.closed_to)

    @property
    def approval_delay_duration(self) -> timedelta | None:
        return _seconds(self.approval_delay)

    @property
    def order_messages_response_duration(self) -> timedelta | None:
        return _seconds(self.order_messages_response_delay)


def _seconds(value: int | Decimal | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=int(value))


# --------------------------------------------------------------------------- A21 statistics


class StatisticValue(MiraklModel):
    """One ``{period, value}`` entry of an A21 KPI; ``value`` is ``None`` when not given."""

    period: str
    value: LenientDecimal = None


def _kpi_entries(value: Any) -> Any:
    """Keep the entries that have a period; anything else in the array is dropped."""
    if not isinstance(value, list):
        return []
    return [
        entry
        for entry in value
        if isinstance(entry, Mapping)
        and isinstance(entry.get("period"), str)
        and entry["period"].strip()
    ]


#: An A21 KPI: its ``{period, value}`` entries (``null`` or an odd value reads as ``[]``).
KpiSeries = Annotated[list[StatisticValue], BeforeValidator(_kpi_entries)]

_STATISTICS_SCALARS = frozenset({"shop_id", "channel", "last_updated_date"})


class ShopStatistics(MiraklModel):
    """A21: the shop's quality and sales KPIs per period, overall or for one channel.

    Every KPI is a list of :class:`StatisticValue`; read one with :meth:`value`,
    :meth:`rate` (a 0-1 fraction whatever scale Mirakl used) or :meth:`duration`. KPIs
    Mirakl adds later are kept in ``other_kpis``. Without a ``channel_code`` filter
    ``channel`` is ``None``; with one, ``offers_count`` and
    ``consecutive_refused_orders_count`` are absent (documented).

    Not documented, so not assumed: whether ``LAST_MONTH`` is a calendar month or a rolling
    window, the time zone, the order of the entries (the first entry of a period wins),
    and whether a period without data is omitted or ``null`` (both read as ``None``).
    """

    shop_id: MiraklId | None = None
    channel: str | None = None
    last_updated_date: LenientDatetime = None
    approval_delay: KpiSeries = Field(default_factory=list)
    approval_rate: KpiSeries = Field(default_factory=list)
    auto_refused_rate: KpiSeries = Field(default_factory=list)
    average_cart: KpiSeries = Field(default_factory=list)
    average_cart_with_shipping: KpiSeries = Field(default_factory=list)
    cancelation_rate: KpiSeries = Field(default_factory=list)
    consecutive_refused_orders_count: KpiSeries = Field(default_factory=list)
    evaluations_count: KpiSeries = Field(default_factory=list)
    grade: KpiSeries = Field(default_factory=list)
    incident_rate: KpiSeries = Field(default_factory=list)
    late_shipment_rate: KpiSeries = Field(default_factory=list)
    offers_count: KpiSeries = Field(default_factory=list)
    order_messages_response_delay: KpiSeries = Field(default_factory=list)
    orders_count: KpiSeries = Field(default_factory=list)
    refund_rate: KpiSeries = Field(default_factory=list)
    return_rate: KpiSeries = Field(default_factory=list)
    shipping_delay: KpiSeries = Field(default_factory=list)
    total_revenue: KpiSeries = Field(default_factory=list)
    valid_tracking_rate: KpiSeries = Field(default_factory=list)
    #: KPI arrays this client does not know yet, by their JSON name.
    other_kpis: dict[str, KpiSeries] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _collect_other_kpis(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        others = {
            key: value
            for key, value in data.items()
            if key not in STATISTIC_KPIS
            and key not in _STATISTICS_SCALARS
            and isinstance(value, list)
            and value
            and all(isinstance(entry, Mapping) and "period" in entry for entry in value)
        }
        return {**data, "other_kpis": others}

    @field_validator("channel", mode="before")
    @classmethod
    def _channel(cls, value: Any) -> Any:
        value = _id_to_str(value)
        if isinstance(value, str) and not value.strip():
            return None
        return value

    def kpis(self) -> dict[str, list[StatisticValue]]:
        """Every KPI with at least one entry (known and ``other_kpis``), by JSON name."""
        known = {name: getattr(self, name) for name in sorted(STATISTIC_KPIS)}
        merged: dict[str, list[StatisticValue]] = {**known, **self.other_kpis}
        return {name: series for name, series in merged.items() if series}

    def series(self, kpi: str) -> list[StatisticValue]:
        """The entries of one KPI (``[]`` when Mirakl sent none)."""
        if kpi in STATISTIC_KPIS:
            series: list[StatisticValue] = getattr(self, kpi)
            return series
        return self.other_kpis.get(kpi, [])

    def value(self, kpi: str, period: str = StatisticPeriod.LAST_MONTH) -> Decimal | None:
        """The raw value of ``kpi`` for ``period``, as Mirakl sent it."""
        for entry in self.series(kpi):
            if entry.period == period:
                return entry.value
        return None

    @property
    def rate_scale(self) -> Literal["fraction", "percent"]:
        """How this answer writes rates.

        The scale is not documented (section 8, question 1); the definitions are ratios and
        A01's example has ``approval_rate: 1``, so 0-1 is expected. An answer in which any
        rate exceeds 1 is read as percentages instead. Deciding on the whole answer, not
        per value, keeps a 1 (100 %) from being read as 1 % next to percentages.
        """
        for kpi in RATE_KPIS:
            for entry in self.series(kpi):
                if entry.value is not None and entry.value > 1:
                    return "percent"
        return "fraction"

    def rate(self, kpi: str, period: str = StatisticPeriod.LAST_MONTH) -> Decimal | None:
        """A rate KPI as a 0-1 fraction (``Decimal("0.076")`` for 7.6 %)."""
        raw = self.value(kpi, period)
        if raw is None:
            return None
        return raw / 100 if self.rate_scale == "percent" else raw

    def duration(self, kpi: str, period: str = StatisticPeriod.LAST_MONTH) -> timedelta | None:
        """A KPI in seconds (``approval_delay``, ``order_messages_response_delay``...)."""
        raw = self.value(kpi, period)
        if raw is None or not raw.is_finite():
            return None
        return timedelta(seconds=float(raw))


# --------------------------------------------------------------------------- DO01 types


class DocumentType(MiraklModel):
    """A DO01 document type. ``label`` is localised (``locale``); ``entity`` is
    ``ORDER`` or ``SHOP``. The codes are each marketplace's own (no fixed enum)."""

    code: MiraklId
    label: str | None = None
    description: str | None = None
    entity: str | None = None
    mime_types: CodeList = Field(default_factory=list)


# --------------------------------------------------------------------------- OR72-OR76 documents


class OrderDocument(MiraklModel):
    """An OR72 document of an order. ``type`` is a DO01 code; ``file_size`` in bytes (◐,
    the unit is not documented). Who uploaded it (shop, operator, system) is not said."""

    id: MiraklId
    order_id: MiraklId
    type: str | None = None
    file_name: str | None = None
    file_size: LenientInt = None
    date_uploaded: LenientDatetime = None


class OrderDocumentList(MiraklModel):
    """The OR72 answer, validated document by document (broken ones land in ``invalid``)."""

    documents: list[OrderDocument] = Field(default_factory=list)
    invalid: list[InvalidRecord] = Field(default_factory=list)

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        """:raises MiraklPayloadError: the body has no ``order_documents`` list."""
        records = _require_list(payload, "order_documents", call="OR72")
        documents, invalid = _validate_records(records, OrderDocument, id_key="id")
        return cls(documents=documents, invalid=invalid)

    def for_order(self, order_id: str) -> list[OrderDocument]:
        return [document for document in self.documents if document.order_id == order_id]

    def of_type(self, type_code: str) -> list[OrderDocument]:
        return [document for document in self.documents if document.type == type_code]


class DocumentFile(MiraklModel):
    """One downloaded document (OR73). ``order_id`` is known when it came in a ZIP
    (``<order_id>/<file>``); ``file_name`` when Mirakl named it."""

    content: bytes
    file_name: str | None = None
    order_id: str | None = None
    content_type: str | None = None

    @property
    def size(self) -> int:
        return len(self.content)


class DocumentDownload(MiraklModel):
    """An OR73 answer: the raw body and the documents it holds.

    One document id gives the file itself; several ids, or order ids, give a ZIP archive
    (``documents-<timestamp>.zip`` / ``<order_id>/`` / files, duplicates renamed
    ``name(1).ext``). ``files`` is filled either way.
    """

    content: bytes
    filename: str | None = None
    content_type: str | None = None
    is_zip: bool = False
    files: list[DocumentFile] = Field(default_factory=list)


class UploadReturnEntity(MiraklModel):
    """OR74 ``entity``: only for documents of a return (``type`` ``RETURN``)."""

    id: MiraklId
    type: str = "RETURN"


class DocumentUpload(MiraklModel):
    """One document to upload with OR74: its bytes and its DO01 type code.

    ``file_name`` is both the multipart filename of the ``files`` part and the
    ``file_name`` of its ``order_documents`` entry (whether Mirakl pairs them by that name
    is not documented, section 8 question 5: sending the same name satisfies either reading).
    """

    file_name: str
    type_code: str
    content: bytes
    content_type: str | None = None
    entity: UploadReturnEntity | None = None

    def to_entry(self) -> dict[str, Any]:
        """The ``order_documents`` entry of this file."""
        entry: dict[str, Any] = {"file_name": self.file_name, "type_code": self.type_code}
        if self.entity is not None:
            entry["entity"] = self.entity.model_dump(mode="json")
        return entry


class UploadFieldError(MiraklModel):
    """Why Mirakl refused one document, e.g. ``valid_order_document.type`` on
    ``type_code``: "Unable to retrieve document's type from the given code"."""

    code: str | None = None
    field: str | None = None
    message: str | None = None


class UploadInputEcho(MiraklModel):
    """The refused document as Mirakl echoes it."""

    file_name: str | None = None
    type_code: str | None = None


class RejectedDocument(MiraklModel):
    """An OR74 ``order_documents`` entry: a document that was not uploaded."""

    errors: list[UploadFieldError] = Field(default_factory=list)
    input: UploadInputEcho | None = None

    @property
    def file_name(self) -> str | None:
        return self.input.file_name if self.input else None

    @property
    def message(self) -> str:
        """Mirakl's messages, ``field: message`` joined with ``; ``."""
        parts = [
            f"{error.field}: {error.message}" if error.field else (error.message or "")
            for error in self.errors
        ]
        return "; ".join(part for part in parts if part) or "refused"


class DocumentUploadResult(MiraklModel):
    """The OR74 answer. Mirakl lists **only the documents in error**: an empty list means
    every file was accepted; a 200 with errors is a partial failure, never a success."""

    errors_count: LenientInt = None
    order_documents: list[RejectedDocument] = Field(default_factory=list)

    @property
    def rejected(self) -> list[RejectedDocument]:
        return self.order_documents

    @property
    def ok(self) -> bool:
        """True when Mirakl reported no document in error."""
        return not self.order_documents and not self.errors_count

    def rejected_file_names(self) -> set[str]:
        return {name for name in (doc.file_name for doc in self.order_documents) if name}

    def accepted_file_names(self, sent: Sequence[str]) -> list[str]:
        """The names in ``sent`` that Mirakl did not list as refused.

        When ``errors_count`` is larger than the refusals Mirakl named, which of the others
        were taken cannot be told: an empty list is returned (check with OR72).
        """
        rejected = self.rejected_file_names()
        if (self.errors_count or 0) > len(rejected):
            return []
        return [name for name in sent if name not in rejected]
