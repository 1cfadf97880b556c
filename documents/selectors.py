"""Reads of the order documents: Mirakl's list (OR72), its types (DO01), our uploads.

OR72 and DO01 are read live (Incidesk does not sync documents), each through Django's
cache for a short while, so opening an order page twice costs Mirakl one call. Mirakl
not answering is shown on the panel, never as an error page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.core.cache import cache
from django.db.models import QuerySet
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from core.clients import client_for
from core.models import MarketplaceConnection, Order
from documents.constants import (
    DOCUMENT_TYPES_CACHE_SECONDS,
    INVOICE_TYPE,
    KNOWN_TYPE_LABELS,
    ORDER_DOCUMENTS_CACHE_SECONDS,
)
from documents.models import DocumentUpload
from mirakl.errors import MiraklError

__all__ = [
    "OrderDocumentRow",
    "OrderDocuments",
    "document_types",
    "order_document",
    "order_documents",
    "order_documents_forget",
    "order_uploads",
    "upload_type_choices",
]

logger = logging.getLogger(__name__)

#: Types a shop may not upload (OR74 refuses them): the platform's own.
_NOT_UPLOADABLE = frozenset(
    {"SYSTEM_DELIVERY_BILL", "SYSTEM_SHIPMENT_DELIVERY_BILL", "SYSTEM_MESSAGE_ATTACHMENT"}
)


@dataclass(frozen=True, slots=True)
class OrderDocumentRow:
    """One document of the order as OR72 lists it, with its type in words."""

    id: str
    type_code: str
    type_label: str
    file_name: str
    size: int | None
    uploaded_at: datetime | None


@dataclass(slots=True)
class OrderDocuments:
    """What the documents panel lists: Mirakl's documents (``error`` when OR72 could not
    be read) and our uploads not yet in that list."""

    documents: list[OrderDocumentRow] = field(default_factory=list)
    uploads: list[DocumentUpload] = field(default_factory=list)
    error: str | None = None


def _cache_key(order: Order) -> str:
    return f"documents:or72:v1:{order.pk}"


def _locale() -> str:
    return "en_GB" if (get_language() or "es").startswith("en") else "es_ES"


def document_types(*, connection: MarketplaceConnection) -> dict[str, str]:
    """The marketplace's order document types (DO01), code → label in the UI's language;
    the common codes' own labels when DO01 cannot be read."""
    locale = _locale()
    key = f"documents:do01:v1:{connection.pk}:{locale}"
    types = cache.get(key)
    if types is None:
        try:
            with client_for(connection) as client:
                listed = client.list_document_types(entities=["ORDER"], locale=locale)
        except MiraklError as exc:
            logger.warning("DO01 failed for %s: %s", connection.code, exc.message)
            listed = []
        types = {t.code: t.label or "" for t in listed}
        if listed:
            cache.set(key, types, DOCUMENT_TYPES_CACHE_SECONDS)
    labels = {code: str(label) for code, label in KNOWN_TYPE_LABELS.items()}
    labels.update({code: label for code, label in types.items() if label})
    return labels


def _label(code: str, labels: dict[str, str]) -> str:
    return labels.get(code) or _("Document")


def upload_type_choices(*, connection: MarketplaceConnection) -> list[tuple[str, str]]:
    """The types the upload form offers: the invoice first, then DO01's other order types
    a shop may upload."""
    labels = document_types(connection=connection)
    codes = [INVOICE_TYPE] + sorted(
        code
        for code in labels
        if code != INVOICE_TYPE and code not in _NOT_UPLOADABLE and code not in KNOWN_TYPE_LABELS
    )
    return [(code, _label(code, labels)) for code in codes]


def order_uploads(*, order: Order) -> QuerySet[DocumentUpload]:
    """Our uploads to the order, newest first (without their bytes)."""
    return (
        DocumentUpload.objects.filter(order=order)
        .defer("content")
        .select_related("created_by", "delivery")
        .order_by("-created_at", "-pk")
    )


def order_documents(*, order: Order) -> OrderDocuments:
    """The order's documents in Mirakl (OR72, cached for a minute) and our uploads that
    it does not show yet (queued, in doubt, refused, failed)."""
    listing = cache.get(_cache_key(order))
    error = None
    if listing is None:
        try:
            with client_for(order.connection) as client:
                found = client.list_order_documents([order.mirakl_id])
            listing = [
                (d.id, d.type or "", d.file_name or "", d.file_size, d.date_uploaded)
                for d in found.for_order(order.mirakl_id)
            ]
            cache.set(_cache_key(order), listing, ORDER_DOCUMENTS_CACHE_SECONDS)
        except MiraklError as exc:
            logger.warning("OR72 failed for order %s: %s", order.mirakl_id, exc.message)
            listing = []
            error = _("Mirakl did not list the order's documents; try again in a minute.")
    labels = document_types(connection=order.connection) if listing else {}
    rows = sorted(
        (
            OrderDocumentRow(
                id=str(doc_id),
                type_code=code,
                type_label=_label(code, labels),
                file_name=name or _("document"),
                size=size,
                uploaded_at=at,
            )
            for doc_id, code, name, size, at in listing
        ),
        key=lambda row: (row.uploaded_at is None, row.uploaded_at),
    )
    listed = {row.id for row in rows} | {(row.file_name, row.type_code) for row in rows}
    uploads = [
        upload
        for upload in order_uploads(order=order)
        if upload.state != DocumentUpload.State.SENT
        or (
            upload.mirakl_document_id not in listed
            and (upload.file_name, upload.type_code) not in listed
        )
    ]
    return OrderDocuments(documents=rows, uploads=uploads, error=error)


def order_document(*, order: Order, document_id: str) -> OrderDocumentRow | None:
    """One document of this order (OR72), or None: only the order's own are downloaded."""
    listing = order_documents(order=order)
    return next((row for row in listing.documents if row.id == document_id), None)


def order_documents_forget(*, order_id: int) -> None:
    """Forget the cached OR72 list of an order (after an upload reached Mirakl)."""
    cache.delete(f"documents:or72:v1:{order_id}")
