"""Constants of the order documents."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

__all__ = [
    "DOCUMENT_TYPES_CACHE_SECONDS",
    "INVOICE_TYPE",
    "KNOWN_TYPE_LABELS",
    "ORDER_DOCUMENTS_CACHE_SECONDS",
    "UPLOAD_MAX_ATTEMPTS",
]

#: The invoice's DO01 code on the marketplaces we know (MIRAKL_API_ACCOUNT.md); DO01
#: may name others, offered in the upload form too.
INVOICE_TYPE = "CUSTOMER_INVOICE"
#: Labels of the common codes when DO01 cannot be read (never a raw code on screen).
KNOWN_TYPE_LABELS = {
    "CUSTOMER_INVOICE": _("Invoice"),
    "CUSTOMER_CREDIT_NOTE": _("Credit note"),
    "SYSTEM_DELIVERY_BILL": _("Delivery note"),
    "SYSTEM_SHIPMENT_DELIVERY_BILL": _("Delivery note"),
    "SYSTEM_MESSAGE_ATTACHMENT": _("Message attachment"),
}
#: How long an order's OR72 list is reused between page views (an upload forgets it).
ORDER_DOCUMENTS_CACHE_SECONDS = 60
#: DO01 changes rarely: read once an hour per marketplace and language.
DOCUMENT_TYPES_CACHE_SECONDS = 3600
#: OR74 attempts before an upload is shown as failed (about two hours of backoff).
UPLOAD_MAX_ATTEMPTS = 12
