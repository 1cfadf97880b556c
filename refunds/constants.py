"""Constants of the refunds app: money steps and refundable states."""

from __future__ import annotations

from decimal import Decimal

__all__ = [
    "CENT",
    "MIRAKL_PENDING_REFUND_STATES",
    "REFUNDABLE_LINE_STATES",
    "UNREFUNDABLE_ORDER_STATES",
    "ZERO",
]

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

#: Line states in which Mirakl accepts OR28 (MIRAKL_API.md section 5): the line has been
#: debited and is not closed, canceled or refused.
REFUNDABLE_LINE_STATES = frozenset(
    {"SHIPPING", "SHIPPED", "TO_COLLECT", "RECEIVED", "INCIDENT_OPEN"}
)

#: States of a refund Mirakl has accepted but not paid yet (OR11 ``refund_state``): the
#: tax confirmation, then the refund, then its payment.
MIRAKL_PENDING_REFUND_STATES = frozenset(
    {"WAITING_REFUND_TAX_CONFIRMATION", "WAITING_REFUND", "WAITING_REFUND_PAYMENT"}
)

#: Order states in which Mirakl refuses any refund (closed, never debited, canceled).
UNREFUNDABLE_ORDER_STATES = frozenset(
    {
        "STAGING",
        "WAITING_ACCEPTANCE",
        "WAITING_DEBIT",
        "WAITING_DEBIT_PAYMENT",
        "CLOSED",
        "CANCELED",
        "REFUSED",
        "REFUNDED",
    }
)
