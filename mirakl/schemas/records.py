"""OR11 orders and M11/M10 threads as the sync reads them: structs decoded from bytes.

A page of 100 orders is tens of thousands of values. Decoding its JSON into Python
dicts and then validating them with the pydantic models made reading Mirakl cost more
CPU than everything else in a sync. Here a page is decoded straight from its bytes into
msgspec structs, in C, values and all: amounts as exact ``Decimal`` (from the number's
digits, never through a float), dates as aware datetimes.

The structs mirror the pydantic models of :mod:`mirakl.schemas.orders` and
:mod:`mirakl.schemas.threads` field for field, properties included, and those models
stay the reference of what a record means. The structs accept only what needs no
interpretation (a UTC date, an id as text, a list as a list, a finite amount); any
other record (an id sent as a number where Mirakl usually sends text, ``null`` on a
list, a blank or naive date, a non-finite amount) is validated by its pydantic model,
leniently as always, and converted: it costs itself only, and one that the model refuses
lands in the page's ``invalid`` as before. A page that is not valid JSON for msgspec
(a ``NaN``, an escaped lone surrogate, bytes that are not UTF-8) is read the slow way
as a whole, with the same result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Self, TypeVar

import msgspec
from pydantic import BaseModel

from mirakl.schemas.base import (
    InvalidRecord,
    _record_id,
    _require_list,
    _validate_records,
)
from mirakl.schemas.orders import (
    Order,
    _optional_int,
    order_incident_lines,
    refund_current_state,
)
from mirakl.schemas.threads import (
    Thread,
    _token,
    sender_party,
    thread_needs_reply,
    thread_order_id,
    thread_participant,
)

__all__ = [
    "AddressRecord",
    "AttachmentRecord",
    "CancelationRecord",
    "ChannelRecord",
    "CustomerRecord",
    "EntityRecord",
    "LineRefundRecord",
    "MessageRecord",
    "NoReplyNeededRecord",
    "OrderLineRecord",
    "OrderRecord",
    "OrderRecordPage",
    "OrganizationRecord",
    "ParticipantRecord",
    "SenderRecord",
    "TaxRecord",
    "ThreadMetadataRecord",
    "ThreadRecord",
    "ThreadRecordPage",
    "TopicRecord",
    "record_json",
    "thread_record_from_json",
]

#: An aware datetime (a naive one is refused here: the pydantic model reads it as UTC).
_Date = Annotated[datetime, msgspec.Meta(tz=True)]


class _Unreadable(ValueError):
    """Raised in ``__post_init__``: msgspec reports it as a validation error."""


def _finite(*values: Decimal | None) -> None:
    for value in values:
        if value is not None and not value.is_finite():
            raise _Unreadable("a non-finite amount")


def _utc(*values: datetime | None) -> None:
    for value in values:
        if value is not None and value.tzinfo is not UTC:
            raise _Unreadable("a date not in UTC")


def _id(value: str | int) -> str:
    return value if isinstance(value, str) else str(value)


#: The JSON name of :attr:`ThreadRecord.invalid_messages`: none that Mirakl could send.
_INVALID_MESSAGES = "incidesk:invalid_messages"


class _Record(msgspec.Struct, gc=False):
    """Records are trees (no cycles): the garbage collector need not track them."""


# ---------------------------------------------------------------- orders (OR11)


class TaxRecord(_Record, kw_only=True):
    """:class:`mirakl.schemas.Tax`."""

    code: str
    amount: Decimal
    rate: Decimal | None = None
    tax_calculation_rule: str | None = None

    def __post_init__(self) -> None:
        _finite(self.amount, self.rate)


class ChannelRecord(_Record, kw_only=True):
    """:class:`mirakl.schemas.Channel`."""

    code: str | None = None
    label: str | None = None


class AddressRecord(_Record, kw_only=True, omit_defaults=True):
    """:class:`mirakl.schemas.Address`.

    Its fields all default to None: encoded, it leaves out the missing ones, which is
    how the rows keep it as JSON (msgspec encodes it as it is, in C).
    """

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


class CustomerRecord(_Record, kw_only=True):
    """:class:`mirakl.schemas.Customer`."""

    customer_id: str | None = None
    civility: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    locale: str | None = None
    billing_address: AddressRecord | None = None
    shipping_address: AddressRecord | None = None


class LineRefundRecord(_Record, kw_only=True):
    """:class:`mirakl.schemas.LineRefund`."""

    id: str
    order_refund_id: str | None = None
    amount: Decimal
    shipping_amount: Decimal = Decimal(0)
    quantity: int | None = None
    reason_code: str | None = None
    state: str | None = None
    refund_state: str | None = None
    created_date: _Date | None = None
    taxes: list[TaxRecord] = msgspec.field(default_factory=list)
    shipping_taxes: list[TaxRecord] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        _finite(self.amount, self.shipping_amount)
        _utc(self.created_date)

    @property
    def current_state(self) -> str | None:
        """:attr:`mirakl.schemas.LineRefund.current_state`."""
        return refund_current_state(self)


class CancelationRecord(_Record, kw_only=True):
    """:class:`mirakl.schemas.Cancelation`."""

    id: str
    amount: Decimal = Decimal(0)
    shipping_amount: Decimal = Decimal(0)
    quantity: int | None = None
    reason_code: str | None = None
    created_date: _Date | None = None
    taxes: list[TaxRecord] = msgspec.field(default_factory=list)
    shipping_taxes: list[TaxRecord] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        _finite(self.amount, self.shipping_amount)
        _utc(self.created_date)


class OrderLineRecord(_Record, kw_only=True):
    """:class:`mirakl.schemas.OrderLine`."""

    order_line_id: str
    order_line_index: int | None = None
    order_line_state: str
    order_line_state_reason_code: str | None = None
    order_line_state_reason_label: str | None = None
    offer_id: str | int | None = None
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
    taxes: list[TaxRecord] = msgspec.field(default_factory=list)
    shipping_taxes: list[TaxRecord] = msgspec.field(default_factory=list)
    can_refund: bool | None = None
    refunds: list[LineRefundRecord] = msgspec.field(default_factory=list)
    cancelations: list[CancelationRecord] = msgspec.field(default_factory=list)
    created_date: _Date | None = None
    last_updated_date: _Date | None = None
    debited_date: _Date | None = None
    shipped_date: _Date | None = None
    received_date: _Date | None = None

    def __post_init__(self) -> None:
        if self.offer_id is not None:
            self.offer_id = _id(self.offer_id)
        _finite(self.price_unit, self.price, self.shipping_price, self.total_price)
        _utc(
            self.created_date,
            self.last_updated_date,
            self.debited_date,
            self.shipped_date,
            self.received_date,
        )


class OrderRecord(_Record, kw_only=True):
    """:class:`mirakl.schemas.Order`."""

    order_id: str
    commercial_id: str | None = None
    order_state: str
    order_state_reason_code: str | None = None
    order_state_reason_label: str | None = None
    channel: ChannelRecord | None = None
    created_date: _Date
    last_updated_date: _Date
    currency_iso_code: str = "EUR"
    price: Decimal | None = None
    shipping_price: Decimal | None = None
    total_price: Decimal | None = None
    has_incident: bool = False
    has_customer_message: bool = False
    fully_refunded: bool | None = None
    customer: CustomerRecord | None = None
    customer_notification_email: str | None = None
    shipping_company: str | None = None
    shipping_carrier_code: str | None = None
    shipping_tracking: str | None = None
    shipping_tracking_url: str | None = None
    shipping_type_label: str | None = None
    shipping_zone_label: str | None = None
    shipping_deadline: _Date | None = None
    acceptance_decision_date: _Date | None = None
    payment_type: str | None = None
    order_tax_mode: str | None = None
    order_lines: list[OrderLineRecord] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        _finite(self.price, self.shipping_price, self.total_price)
        _utc(
            self.created_date,
            self.last_updated_date,
            self.shipping_deadline,
            self.acceptance_decision_date,
        )

    @property
    def incident_lines(self) -> list[OrderLineRecord]:
        """Lines currently in ``INCIDENT_OPEN``."""
        return order_incident_lines(self)


# ---------------------------------------------------------------- threads (M11, M10)


class ParticipantRecord(_Record, kw_only=True, omit_defaults=True):
    """:class:`mirakl.schemas.Participant`.

    Its fields all default to None: encoded, it leaves out the missing ones, which is
    how the rows keep it as JSON (msgspec encodes it as it is, in C).
    """

    type: str
    id: str | None = None
    display_name: str | None = None


class OrganizationRecord(_Record, kw_only=True):
    """:class:`mirakl.schemas.OrganizationDetails`."""

    type: str | None = None
    id: str | None = None
    display_name: str | None = None


class SenderRecord(_Record, kw_only=True):
    """:class:`mirakl.schemas.Sender`."""

    type: str
    display_name: str | None = None
    organization_details: OrganizationRecord | None = None

    @property
    def party(self) -> str:
        """:attr:`mirakl.schemas.Sender.party`."""
        return sender_party(self)


class AttachmentRecord(_Record, kw_only=True, omit_defaults=True):
    """:class:`mirakl.schemas.Attachment`.

    Its fields all default to None: encoded, it leaves out the missing ones, which is
    how the rows keep it as JSON (msgspec encodes it as it is, in C).
    """

    id: str
    name: str | None = None
    size: int | None = None


class MessageRecord(_Record, kw_only=True):
    """:class:`mirakl.schemas.Message` (``from_`` is the JSON field ``from``)."""

    id: str
    body: str = ""
    date_created: _Date
    from_: SenderRecord = msgspec.field(name="from")
    to: list[ParticipantRecord] = msgspec.field(default_factory=list)
    attachments: list[AttachmentRecord] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        _utc(self.date_created)


class TopicRecord(_Record, kw_only=True):
    """:class:`mirakl.schemas.Topic`."""

    type: str
    value: str


class EntityRecord(_Record, kw_only=True):
    """:class:`mirakl.schemas.Entity`."""

    id: str
    label: str | None = None
    type: str


class ThreadMetadataRecord(_Record, kw_only=True):
    """:class:`mirakl.schemas.ThreadMetadata`."""

    last_message_date: _Date | None = None
    total_count: int | None = None
    shop_reply_needed_since: _Date | None = None
    last_sender: SenderRecord | None = None

    def __post_init__(self) -> None:
        _utc(self.last_message_date, self.shop_reply_needed_since)


class NoReplyNeededRecord(_Record, kw_only=True):
    """:class:`mirakl.schemas.NoReplyNeeded`."""

    date: _Date | None = None
    user_type: str | None = None

    def __post_init__(self) -> None:
        _utc(self.date)


class ThreadRecord(_Record, kw_only=True):
    """:class:`mirakl.schemas.Thread`."""

    id: str
    topic: TopicRecord | None = None
    date_created: _Date
    date_updated: _Date
    entities: list[EntityRecord] = msgspec.field(default_factory=list)
    authorized_participants: list[ParticipantRecord] = msgspec.field(default_factory=list)
    current_participants: list[ParticipantRecord] = msgspec.field(default_factory=list)
    metadata: ThreadMetadataRecord | None = None
    no_store_reply_needed: list[NoReplyNeededRecord] = msgspec.field(default_factory=list)
    messages: list[MessageRecord] = msgspec.field(default_factory=list)
    #: Messages that could not be read (:attr:`mirakl.schemas.Thread.invalid_messages`);
    #: never read from Mirakl's JSON, hence a name no payload uses.
    invalid_messages: list[Any] = msgspec.field(default_factory=list, name=_INVALID_MESSAGES)

    def __post_init__(self) -> None:
        _utc(self.date_created, self.date_updated)

    @property
    def order_id(self) -> str | None:
        """:attr:`mirakl.schemas.Thread.order_id`."""
        return thread_order_id(self)

    @property
    def needs_reply(self) -> bool:
        """:attr:`mirakl.schemas.Thread.needs_reply`."""
        return thread_needs_reply(self)

    def participant(self, party: str) -> ParticipantRecord | None:
        """:meth:`mirakl.schemas.Thread.participant`."""
        return thread_participant(self.authorized_participants, party)


# ---------------------------------------------------------------- pages


class OrderRecordPage(msgspec.Struct, kw_only=True):
    """One OR11 page (:class:`mirakl.schemas.OrderPage`, with the orders as structs)."""

    orders: list[OrderRecord] = msgspec.field(default_factory=list)
    total_count: int | None = None
    invalid: list[InvalidRecord] = msgspec.field(default_factory=list)
    offset: int = 0
    next_offset: int | None = None

    @classmethod
    def from_json(
        cls, content: bytes, *, offset: int = 0, max: int = 100, payload: Callable[[], Any]
    ) -> Self:
        """An OR11 body, its valid orders as structs and the others in ``invalid``.

        ``payload()`` decodes the body the slow way (the client's decoder, which reads
        bytes that are not UTF-8 with replacement characters and says when the body is
        not JSON); it is called only for a body msgspec cannot decode.

        :raises MiraklPayloadError: the body has no ``orders`` list.
        """
        records, invalid, received, envelope = _ORDERS.read(content, payload)
        total_count = _optional_int(envelope.get("total_count"))
        end = offset + received
        if received == 0:
            next_offset = None
        elif total_count is not None:
            next_offset = end if end < total_count else None
        else:
            next_offset = end if received >= max else None
        return cls(
            orders=records,
            total_count=total_count,
            invalid=invalid,
            offset=offset,
            next_offset=next_offset,
        )


class ThreadRecordPage(msgspec.Struct, kw_only=True):
    """One M11 page (:class:`mirakl.schemas.ThreadPage`, with the threads as structs)."""

    data: list[ThreadRecord] = msgspec.field(default_factory=list)
    next_page_token: str | None = None
    previous_page_token: str | None = None
    invalid: list[InvalidRecord] = msgspec.field(default_factory=list)

    @classmethod
    def from_json(cls, content: bytes, *, payload: Callable[[], Any]) -> Self:
        """An M11 body, its valid threads as structs and the others in ``invalid``
        (``payload``: as for :meth:`OrderRecordPage.from_json`).

        :raises MiraklPayloadError: the body has no ``data`` list.
        """
        records, invalid, _received, envelope = _THREADS.read(content, payload)
        return cls(
            data=records,
            next_page_token=_token(envelope.get("next_page_token")),
            previous_page_token=_token(envelope.get("previous_page_token")),
            invalid=invalid,
        )


def thread_record_from_json(content: bytes, *, payload: Callable[[], Any]) -> ThreadRecord:
    """An M10 body as a struct; raises :class:`pydantic.ValidationError` as
    ``Thread.model_validate`` does for a thread that cannot be read."""
    try:
        return _THREAD.decode(content)
    except msgspec.MsgspecError:
        return _from_model(Thread.model_validate(payload()), ThreadRecord)


def record_json(record: msgspec.Struct) -> dict[str, Any]:
    """The record as JSON values without its missing fields, as pydantic's
    ``model_dump(mode="json", by_alias=True, exclude_none=True)`` gives it."""
    return _without_none(msgspec.to_builtins(record, enc_hook=_invalid_json))  # type: ignore[no-any-return]


def _invalid_json(value: Any) -> Any:
    if isinstance(value, InvalidRecord):
        return value.model_dump(mode="json")
    raise NotImplementedError(type(value).__name__)


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_none(v)
            for k, v in value.items()
            if v is not None and k != _INVALID_MESSAGES
        }
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


_R = TypeVar("_R", bound=msgspec.Struct)


class _OrderPageBody(msgspec.Struct):
    orders: list[OrderRecord]
    total_count: Any = None


class _RawOrderPageBody(msgspec.Struct):
    orders: list[msgspec.Raw]
    total_count: Any = None


class _ThreadPageBody(msgspec.Struct):
    data: list[ThreadRecord]
    next_page_token: Any = None
    previous_page_token: Any = None


class _RawThreadPageBody(msgspec.Struct):
    data: list[msgspec.Raw]
    next_page_token: Any = None
    previous_page_token: Any = None


#: A record the structs refused, decoded as the client decodes a body (exact decimals).
_ANY = msgspec.json.Decoder(float_hook=Decimal)


class _PageKind(Generic[_R]):
    """How one kind of page is read: its list's key, its decoders, its record's model."""

    def __init__(
        self,
        call: str,
        key: str,
        struct: type[_R],
        model: type[BaseModel],
        id_key: str,
        body: type[msgspec.Struct],
        raw_body: type[msgspec.Struct],
    ) -> None:
        self.call, self.key, self.struct, self.model, self.id_key = call, key, struct, model, id_key
        # The body's other keys (``total_count``, the tokens) as plain JSON, floats exact.
        self.page = msgspec.json.Decoder(body, float_hook=Decimal)
        self.raw_page = msgspec.json.Decoder(raw_body, float_hook=Decimal)
        self.record = msgspec.json.Decoder(struct)

    def read(
        self, content: bytes, payload: Callable[[], Any]
    ) -> tuple[list[_R], list[InvalidRecord], int, dict[str, Any]]:
        """The page's records, those that could not be read, how many it held, its body."""
        return self._fast(content) or self._slow(payload())

    def _fast(
        self, content: bytes
    ) -> tuple[list[_R], list[InvalidRecord], int, dict[str, Any]] | None:
        """The page decoded by msgspec, or None when its body needs the slow way.

        Usually the whole page in one call. When a record is refused, the page is
        decoded again with its records left as raw JSON, and each is decoded on its
        own: those the structs refuse go through their pydantic model.
        """
        try:
            body = self.page.decode(content)
            records: list[_R] = getattr(body, self.key)
            return records, [], len(records), msgspec.structs.asdict(body)
        except msgspec.ValidationError:
            pass
        except msgspec.DecodeError:
            return None
        try:
            body = self.raw_page.decode(content)
        except msgspec.MsgspecError:
            return None  # no list of records: the slow way says so in its own words
        raws: list[msgspec.Raw] = getattr(body, self.key)
        records = []
        invalid: list[InvalidRecord] = []
        for raw in raws:
            try:
                records.append(self.record.decode(raw))
                continue
            except msgspec.ValidationError:
                pass
            valid, refused = _validate_records([_ANY.decode(raw)], self.model, id_key=self.id_key)
            records.extend(_from_models(valid, self.struct, invalid, self.id_key))
            invalid.extend(refused)
        return records, invalid, len(raws), msgspec.structs.asdict(body)

    def _slow(self, payload: Any) -> tuple[list[_R], list[InvalidRecord], int, dict[str, Any]]:
        """A body msgspec could not decode, validated record by record by the models."""
        raws = _require_list(payload, self.key, call=self.call)
        valid, invalid = _validate_records(raws, self.model, id_key=self.id_key)
        records = list(_from_models(valid, self.struct, invalid, self.id_key))
        return records, invalid, len(raws), dict(payload)


_ORDERS = _PageKind(
    "OR11", "orders", OrderRecord, Order, "order_id", _OrderPageBody, _RawOrderPageBody
)
_THREADS = _PageKind("M11", "data", ThreadRecord, Thread, "id", _ThreadPageBody, _RawThreadPageBody)
_THREAD = _THREADS.record


def _from_models(
    models: list[BaseModel], struct: type[_R], invalid: list[InvalidRecord], id_key: str
) -> Iterator[_R]:
    for model in models:
        try:
            yield _from_model(model, struct)
        except msgspec.ValidationError as exc:  # not expected: the model made it plain
            raw = model.model_dump(mode="json", by_alias=True)
            invalid.append(InvalidRecord(id=_record_id(raw, id_key), error=str(exc), raw=raw))


def _from_model(model: BaseModel, struct: type[_R]) -> _R:
    """A record the pydantic model read (leniently) as a struct."""
    record = msgspec.convert(model.model_dump(by_alias=True), struct)
    if isinstance(model, Thread) and isinstance(record, ThreadRecord):
        record.invalid_messages = list(model.invalid_messages)
    return record
