"""Known Mirakl codes and values.

These are the values seen in Mirakl's documentation and SDK. Mirakl adds values without
notice, so the schemas keep these fields as plain ``str``: compare against the members
below (``StrEnum`` members equal their string), never assume the list is complete.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "MAX_DOCUMENT_IDS",
    "MAX_DOCUMENTS_PER_ORDER",
    "MAX_ORDER_IDS",
    "MAX_PAGE_SIZE",
    "OPERATOR_ONLY_DOCUMENT_TYPES",
    "ORDER_DOCUMENT_EXTENSIONS",
    "RATE_KPIS",
    "SECONDS_KPIS",
    "STATISTIC_KPIS",
    "Call",
    "DocumentEntity",
    "DocumentTypeCode",
    "EntityType",
    "KycStatus",
    "OrderState",
    "Party",
    "ReasonType",
    "RefundState",
    "SenderType",
    "ShopState",
    "StatisticPeriod",
    "SuspensionType",
    "TaxMode",
    "TopicType",
]

#: OR11 ``max`` and M11 ``limit`` ceiling (SDK: "from 10 (default) to 100 (max)").
MAX_PAGE_SIZE = 100
#: OR11 and OR72 ``order_ids`` accept at most 100 ids (OR72's schema: ``maximum: 100``).
MAX_ORDER_IDS = 100
#: OR73 ``order_ids``, ``document_ids`` and ``document_codes``: ``maximum: 100`` each.
MAX_DOCUMENT_IDS = 100
#: OR74: "An order can have a maximum of 50 documents."
MAX_DOCUMENTS_PER_ORDER = 50
#: OR74: the file types Mirakl accepts ("csv, doc, xls, ... mp4"), lower-case, no dot.
ORDER_DOCUMENT_EXTENSIONS = frozenset(
    {
        "csv",
        "doc",
        "xls",
        "xlsx",
        "ppt",
        "pdf",
        "odt",
        "ods",
        "odp",
        "txt",
        "rtf",
        "png",
        "jpg",
        "gif",
        "zpl",
        "mov",
        "mp4",
    }
)


class Call(StrEnum):
    """Mirakl API codes of the calls this client makes (used in errors and logs)."""

    OR11 = "OR11"  # list orders
    OR28 = "OR28"  # refund order lines
    OR43 = "OR43"  # create a thread on an order
    OR64 = "OR64"  # mark an incident as resolved
    RE01 = "RE01"  # list reasons
    M10 = "M10"  # get one thread
    M11 = "M11"  # list threads
    M12 = "M12"  # reply to a thread
    M13 = "M13"  # download an attachment
    A01 = "A01"  # shop information
    A21 = "A21"  # shop statistics
    DO01 = "DO01"  # document types
    OR72 = "OR72"  # list an order's documents
    OR73 = "OR73"  # download order documents
    OR74 = "OR74"  # upload documents to an order
    OR76 = "OR76"  # delete an order document


class Party(StrEnum):
    """Participant and recipient types (M10/M11 participants, M12 ``to``, OR43 ``to``)."""

    CUSTOMER = "CUSTOMER"
    OPERATOR = "OPERATOR"
    SHOP = "SHOP"


class SenderType(StrEnum):
    """``from.type`` / ``last_sender.type`` values seen in real threads."""

    CUSTOMER_USER = "CUSTOMER_USER"
    OPERATOR_USER = "OPERATOR_USER"
    SHOP_USER = "SHOP_USER"


class EntityType(StrEnum):
    """Thread entity types (M11 ``entity_type``)."""

    MMP_ORDER = "MMP_ORDER"
    MMP_OFFER = "MMP_OFFER"
    MPS_ORDER = "MPS_ORDER"
    MPS_SERVICE = "MPS_SERVICE"
    SELLER_OPERATOR = "SELLER_OPERATOR"


class TopicType(StrEnum):
    """Thread topic types."""

    FREE_TEXT = "FREE_TEXT"
    REASON_CODE = "REASON_CODE"


class OrderState(StrEnum):
    """Order and order-line states (SDK ``OrderState``; INCIDENT_* are line states)."""

    STAGING = "STAGING"
    WAITING_ACCEPTANCE = "WAITING_ACCEPTANCE"
    WAITING_DEBIT = "WAITING_DEBIT"
    WAITING_DEBIT_PAYMENT = "WAITING_DEBIT_PAYMENT"
    SHIPPING = "SHIPPING"
    SHIPPED = "SHIPPED"
    TO_COLLECT = "TO_COLLECT"
    RECEIVED = "RECEIVED"
    CLOSED = "CLOSED"
    REFUSED = "REFUSED"
    CANCELED = "CANCELED"
    INCIDENT_OPEN = "INCIDENT_OPEN"
    INCIDENT_CLOSED = "INCIDENT_CLOSED"
    REFUNDED = "REFUNDED"


class RefundState(StrEnum):
    """``order_lines[].refunds[].refund_state`` (and the deprecated ``state``).

    ``state`` "will not contain newer states added to refunds": only ``refund_state``
    has ``WAITING_REFUND_TAX_CONFIRMATION`` (MIRAKL_API_ACCOUNT.md §6.1).
    """

    WAITING_REFUND_TAX_CONFIRMATION = "WAITING_REFUND_TAX_CONFIRMATION"
    WAITING_REFUND = "WAITING_REFUND"
    WAITING_REFUND_PAYMENT = "WAITING_REFUND_PAYMENT"
    REFUNDED = "REFUNDED"


class ReasonType(StrEnum):
    """RE01 reason types (SDK ``ReasonType``; MPS_* variants omitted)."""

    INCIDENT_OPEN = "INCIDENT_OPEN"
    INCIDENT_CLOSE = "INCIDENT_CLOSE"
    REFUND = "REFUND"
    CANCELATION = "CANCELATION"
    CANCELED = "CANCELED"
    REFUSED = "REFUSED"
    RETURN = "RETURN"
    RETURN_REJECTION = "RETURN_REJECTION"
    ORDER_MESSAGING = "ORDER_MESSAGING"
    OFFER_MESSAGING = "OFFER_MESSAGING"
    MMP_SELLER_MESSAGING = "MMP_SELLER_MESSAGING"
    MESSAGING = "MESSAGING"


class TaxMode(StrEnum):
    """OR11/OR28 ``order_tax_mode``."""

    TAX_INCLUDED = "TAX_INCLUDED"
    TAX_EXCLUDED = "TAX_EXCLUDED"


# --------------------------------------------------------------------------- A01 / A21


class ShopState(StrEnum):
    """A01 ``shop_state``. Note ``CLOSE`` (not ``CLOSED``): the shop is closed for a while."""

    OPEN = "OPEN"
    CLOSE = "CLOSE"
    SUSPENDED = "SUSPENDED"
    TERMINATED = "TERMINATED"


class SuspensionType(StrEnum):
    """A01 ``suspension_type``; ``AUTOMATIC_SUSPENSION`` is Mirakl's quality control."""

    MANUAL = "MANUAL"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    INCOMPLETE_PROFILE = "INCOMPLETE_PROFILE"
    AUTOMATIC_SUSPENSION = "AUTOMATIC_SUSPENSION"


class KycStatus(StrEnum):
    """A01 ``kyc.status``."""

    PENDING_SUBMISSION = "PENDING_SUBMISSION"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    REFUSED = "REFUSED"
    APPROVED = "APPROVED"
    NOT_REQUIRED = "NOT_REQUIRED"


class StatisticPeriod(StrEnum):
    """A21 ``periods`` values and the ``period`` of each KPI entry."""

    ALL_SINCE_BEGINNING = "ALL_SINCE_BEGINNING"
    LAST_MONTH = "LAST_MONTH"
    LAST_THREE_MONTHS = "LAST_THREE_MONTHS"
    LAST_SIX_MONTHS = "LAST_SIX_MONTHS"
    LAST_YEAR = "LAST_YEAR"


#: A21 KPIs that are ratios ("... divided by ..."). Their scale is not documented (0-1 is
#: expected, MIRAKL_API_ACCOUNT.md section 8 question 1): see ``ShopStatistics.rate``.
RATE_KPIS = frozenset(
    {
        "approval_rate",
        "auto_refused_rate",
        "cancelation_rate",
        "incident_rate",
        "late_shipment_rate",
        "refund_rate",
        "return_rate",
        "valid_tracking_rate",
    }
)
#: A21 KPIs that are average durations in seconds.
SECONDS_KPIS = frozenset({"approval_delay", "order_messages_response_delay", "shipping_delay"})
#: Every A21 KPI the OpenAPI lists (19), each an array of ``{period, value}``.
STATISTIC_KPIS = (
    RATE_KPIS
    | SECONDS_KPIS
    | frozenset(
        {
            "average_cart",
            "average_cart_with_shipping",
            "consecutive_refused_orders_count",
            "evaluations_count",
            "grade",
            "offers_count",
            "orders_count",
            "total_revenue",
        }
    )
)


# --------------------------------------------------------------------------- documents


class DocumentEntity(StrEnum):
    """DO01 ``entity`` / ``entities``: what a document type is attached to."""

    ORDER = "ORDER"
    SHOP = "SHOP"


class DocumentTypeCode(StrEnum):
    """Document type codes the OpenAPI names. Not an enum in Mirakl: each marketplace
    defines its own list (DO01); the invoice code in particular is the operator's choice."""

    SYSTEM_DELIVERY_BILL = "SYSTEM_DELIVERY_BILL"
    SYSTEM_SHIPMENT_DELIVERY_BILL = "SYSTEM_SHIPMENT_DELIVERY_BILL"
    SYSTEM_MESSAGE_ATTACHMENT = "SYSTEM_MESSAGE_ATTACHMENT"
    SYSTEM_RETURN_LABEL = "SYSTEM_RETURN_LABEL"
    CUSTOMER_INVOICE = "CUSTOMER_INVOICE"


#: OR74: types a shop cannot upload ("restricted to operator role", "cannot be directly
#: uploaded to an order").
OPERATOR_ONLY_DOCUMENT_TYPES = frozenset(
    {
        DocumentTypeCode.SYSTEM_DELIVERY_BILL,
        DocumentTypeCode.SYSTEM_SHIPMENT_DELIVERY_BILL,
        DocumentTypeCode.SYSTEM_MESSAGE_ATTACHMENT,
    }
)
