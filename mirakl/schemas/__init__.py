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

from mirakl.schemas.account import (
    CodeList,
    KpiSeries,
    Kyc,
    LenientBool,
    LenientDatetime,
    LenientDecimal,
    LenientInt,
    PaymentDetails,
    PaymentSubBalance,
    ShopAccount,
    ShopShipping,
    ShopStatistics,
    StatisticValue,
)
from mirakl.schemas.base import (
    InvalidRecord,
    MiraklDatetime,
    MiraklId,
    MiraklModel,
    summarize_validation_error,
)
from mirakl.schemas.documents import (
    DocumentDownload,
    DocumentFile,
    DocumentType,
    DocumentUpload,
    DocumentUploadResult,
    OrderDocument,
    OrderDocumentList,
    RejectedDocument,
    UploadFieldError,
    UploadInputEcho,
    UploadReturnEntity,
)
from mirakl.schemas.orders import (
    Address,
    Cancelation,
    Channel,
    Customer,
    LineRefund,
    Order,
    OrderLine,
    OrderPage,
    Tax,
)
from mirakl.schemas.records import (
    AddressRecord,
    CancelationRecord,
    LineRefundRecord,
    MessageRecord,
    OrderLineRecord,
    OrderRecord,
    OrderRecordPage,
    ParticipantRecord,
    TaxRecord,
    ThreadRecord,
    ThreadRecordPage,
    record_json,
)
from mirakl.schemas.threads import (
    Attachment,
    Entity,
    Message,
    NoReplyNeeded,
    OrganizationDetails,
    Participant,
    Reason,
    Sender,
    Thread,
    ThreadMetadata,
    ThreadPage,
    Topic,
)
from mirakl.schemas.writes import (
    AttachmentFile,
    MessageCreated,
    MessageInput,
    Recipient,
    RefundCreated,
    RefundLineRequest,
    RefundRequest,
    RefundResult,
    ResolveIncidentInput,
    TaxAmount,
    ThreadInput,
)

__all__ = [
    "Address",
    "AddressRecord",
    "Attachment",
    "AttachmentFile",
    "Cancelation",
    "CancelationRecord",
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
    "LineRefundRecord",
    "Message",
    "MessageCreated",
    "MessageInput",
    "MessageRecord",
    "MiraklDatetime",
    "MiraklId",
    "MiraklModel",
    "NoReplyNeeded",
    "Order",
    "OrderDocument",
    "OrderDocumentList",
    "OrderLine",
    "OrderLineRecord",
    "OrderPage",
    "OrderRecord",
    "OrderRecordPage",
    "OrganizationDetails",
    "Participant",
    "ParticipantRecord",
    "PaymentDetails",
    "PaymentSubBalance",
    "Reason",
    "Recipient",
    "RefundCreated",
    "RefundLineRequest",
    "RefundRequest",
    "RefundResult",
    "RejectedDocument",
    "ResolveIncidentInput",
    "Sender",
    "ShopAccount",
    "ShopShipping",
    "ShopStatistics",
    "StatisticValue",
    "Tax",
    "TaxAmount",
    "TaxRecord",
    "Thread",
    "ThreadInput",
    "ThreadMetadata",
    "ThreadPage",
    "ThreadRecord",
    "ThreadRecordPage",
    "Topic",
    "UploadFieldError",
    "UploadInputEcho",
    "UploadReturnEntity",
    "record_json",
    "summarize_validation_error",
]
