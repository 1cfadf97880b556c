"""Writes of the order documents: an upload (OR74) stored with its outbox row.

The file was checked by :func:`core.validators.validate_upload` (size, extension, the
bytes' type) before it gets here; OR74 names must be US-ASCII, so the name is reduced
to ASCII here (accents dropped) and kept unique among the order's pending uploads.
"""

from __future__ import annotations

import unicodedata
from pathlib import PurePosixPath
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.models import Order
from core.outbox.engine import outbox_enqueue
from core.outbox.kinds import OutboxKind
from documents.models import DocumentUpload
from incidents.audit import audit_log
from incidents.models import AuditEntry, Incident

__all__ = ["ascii_file_name", "document_upload_queue"]


def ascii_file_name(name: str) -> str:
    """``name`` in US-ASCII (OR74 refuses anything else): accents dropped, other
    characters replaced by ``_``; the extension kept."""
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_name = "".join(c for c in decomposed if not unicodedata.combining(c))
    ascii_name = "".join(c if c.isascii() and c.isprintable() else "_" for c in ascii_name)
    return ascii_name.strip() or "document"


def _unique_name(order: Order, name: str) -> str:
    """A name none of the order's uploads still waiting for Mirakl uses (the check in
    OR72 tells uploads apart by name): ``factura.pdf``, ``factura-2.pdf``…"""
    taken = set(
        DocumentUpload.objects.filter(order=order)
        .exclude(state__in=(DocumentUpload.State.REFUSED, DocumentUpload.State.FAILED))
        .values_list("file_name", flat=True)
    )
    if name not in taken:
        return name
    path = PurePosixPath(name)
    n = 2
    while f"{path.stem}-{n}{path.suffix}" in taken:
        n += 1
    return f"{path.stem}-{n}{path.suffix}"


def document_upload_queue(
    *,
    order: Order,
    type_code: str,
    type_label: str,
    file_name: str,
    content_type: str,
    content: bytes,
    actor: Any,
    incident: Incident | None = None,
) -> DocumentUpload:
    """Store an upload to the order and its outbox row in one transaction; the worker
    sends it with OR74 once it commits (:mod:`documents.outbox`)."""
    now = timezone.now()
    with transaction.atomic():
        upload = DocumentUpload(
            connection_id=order.connection_id,
            order=order,
            incident=incident,
            type_code=type_code,
            type_label=type_label,
            file_name=_unique_name(order, ascii_file_name(file_name)),
            content_type=content_type,
            size=len(content),
            content=content,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            created_at=now,
        )
        upload.delivery = outbox_enqueue(
            kind=OutboxKind.DOCUMENT_UPLOAD, group_key=f"order:{order.pk}", now=now
        )
        upload.save(force_insert=True)
        audit_log(
            action=AuditEntry.Action.DOCUMENT_UPLOAD,
            actor=actor,
            incident=incident,
            order=order,
            detail=upload.file_name,
            data={"type": type_code, "size": upload.size, "document_upload": upload.pk},
            at=now,
        )
    return upload
