"""Known Mirakl codes and values.

These are the values seen in Mirakl's documentation and SDK. Mirakl adds values without
notice, so the schemas keep these fields as plain ``str``: compare against the members
below (``StrEnum`` members equal their string), never assume the list is complete.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "MAX_PAGE_SIZE",
    "MAX_ORDER_IDS",
    "Call",
    "EntityType",
    "OrderState",
    "Party",
    "ReasonType",
    "RefundState",
    "SenderType",
    "TaxMode",
    "TopicType",
]

#: OR11 ``max`` and M11 ``limit`` ceiling (SDK: "from 10 (default) to 100 (max)").
MAX_PAGE_SIZE = 100
#: OR11 ``order_ids`` accepts at most 100 ids.
MAX_ORDER_IDS = 100


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
