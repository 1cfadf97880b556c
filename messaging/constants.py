"""Constants of the messaging app: recipient choices, attachment limits, outbox timings."""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = [
    "BACK_OFFICE_ORDER_PATH",
    "DELIVERY_CHECK_SKEW",
    "DELIVERY_MAX_RETRIES",
    "MAX_ATTACHMENTS",
    "MAX_ATTACHMENTS_PER_FILE_LIMITS",
    "MESSAGING_REASON_TYPE",
    "RECIPIENT_HELP",
    "RECIPIENT_PARTIES",
    "SENDING_LEASE",
    "RecipientChoice",
]


class RecipientChoice(models.TextChoices):
    """The three recipient choices of the seller guides (DOMAIN.md, "Messages and recipients")."""

    CUSTOMER = "CUSTOMER", _("Customer")
    OPERATOR = "OPERATOR", _("Operator")
    BOTH = "BOTH", _("Customer and operator")


#: Party types each choice sends to, in Mirakl's terms.
RECIPIENT_PARTIES: dict[str, tuple[str, ...]] = {
    RecipientChoice.CUSTOMER: ("CUSTOMER",),
    RecipientChoice.OPERATOR: ("OPERATOR",),
    RecipientChoice.BOTH: ("CUSTOMER", "OPERATOR"),
}

#: One line per choice: who sees the message and who is notified.
RECIPIENT_HELP: dict[str, str] = {
    RecipientChoice.CUSTOMER: _(
        "The customer sees it and is notified; the operator can read it but is not notified."
    ),
    RecipientChoice.OPERATOR: _("Only the marketplace sees it, and it is notified."),
    RecipientChoice.BOTH: _(
        "Both see it and both are notified. Copy the operator only when it is needed."
    ),
}

#: Files per message. Each file may be ``UPLOAD_MAX_BYTES`` (checked by
#: ``incidents.validators.validate_upload``) and a message this many times that: Mirakl
#: itself caps attachments per order; these limits keep a POST quick and reliable.
MAX_ATTACHMENTS = 5
MAX_ATTACHMENTS_PER_FILE_LIMITS = 2

#: A message seen "sending" for longer than this belongs to a worker that died: it may
#: be claimed again (after checking Mirakl for it).
SENDING_LEASE = timedelta(minutes=5)

#: Looking for a message whose POST had an unknown outcome, accept Mirakl dates this
#: much before our ``created_at`` (the two clocks are not the same).
DELIVERY_CHECK_SKEW = timedelta(minutes=2)

#: Retries of a delivery task before the message is shown as failed (about 2 hours of
#: exponential backoff capped at 15 minutes).
DELIVERY_MAX_RETRIES = 12

#: The order's page in the seller back office, where the agent can also mark a thread
#: "no reply required" (the API cannot). Relative to the connection's base URL.
BACK_OFFICE_ORDER_PATH = "/mmp/shop/order/{order_id}"

#: The RE01 reason type of a new conversation on an order (OR43).
MESSAGING_REASON_TYPE = "ORDER_MESSAGING"
