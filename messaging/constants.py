"""Constants of the messaging app: recipient choices, attachment limits, delivery attempts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

__all__ = [
    "BACK_OFFICE_ORDER_PATH",
    "DELIVERY_MAX_ATTEMPTS",
    "MAX_ATTACHMENTS",
    "MAX_ATTACHMENTS_PER_FILE_LIMITS",
    "MESSAGING_REASON_TYPE",
    "RECIPIENT_HELP",
    "RECIPIENT_PARTIES",
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
RECIPIENT_HELP: dict[str, StrOrPromise] = {
    RecipientChoice.CUSTOMER: _(
        "The customer sees it and is notified; the operator can read it but is not notified."
    ),
    RecipientChoice.OPERATOR: _("Only the marketplace sees it, and it is notified."),
    RecipientChoice.BOTH: _(
        "Both see it and both are notified. Copy the operator only when it is needed."
    ),
}

#: Files per message. Each file may be ``UPLOAD_MAX_BYTES`` (checked by
#: ``core.validators.validate_upload``) and a message this many times that: Mirakl
#: itself caps attachments per order; these limits keep a POST quick and reliable.
MAX_ATTACHMENTS = 5
MAX_ATTACHMENTS_PER_FILE_LIMITS = 2

#: Attempts at delivering a message before it is shown as failed (the first try and
#: about two hours of retries with the outbox's backoff, capped at 15 minutes); the
#: agent can then retry it.
DELIVERY_MAX_ATTEMPTS = 13

#: The order's page in the seller back office, where the agent can also mark a thread
#: "no reply required" (the API cannot). Relative to the connection's base URL.
BACK_OFFICE_ORDER_PATH = "/mmp/shop/order/{order_id}"

#: The RE01 reason type of a new conversation on an order (OR43).
MESSAGING_REASON_TYPE = "ORDER_MESSAGING"

#: OR43 topic types (MIRAKL_API.md section 6).
TOPIC_REASON_CODE = "REASON_CODE"
TOPIC_FREE_TEXT = "FREE_TEXT"
