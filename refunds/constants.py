"""Constants of the refunds app: refundable states, delivery timings."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

__all__ = [
    "CENT",
    "DELIVERY_CHECK_SKEW",
    "DELIVERY_MAX_RETRIES",
    "MIRAKL_PENDING_REFUND_STATES",
    "PENDING_MIN_AGE",
    "REFUNDABLE_LINE_STATES",
    "SENDING_LEASE",
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

#: A request seen "sending" for longer than this belongs to a worker that died: it may
#: be claimed again, after looking for its refunds in Mirakl.
SENDING_LEASE = timedelta(minutes=5)

#: Looking for the refunds of an attempt whose outcome is unknown, accept Mirakl dates
#: this much before our ``created_at`` (the two clocks are not the same).
DELIVERY_CHECK_SKEW = timedelta(minutes=2)

#: The periodic sweep leaves younger requests to their own delivery task.
PENDING_MIN_AGE = timedelta(minutes=1)

#: Retries of one delivery task (exponential backoff capped at 15 minutes); after that the
#: periodic sweep keeps trying.
DELIVERY_MAX_RETRIES = 8
