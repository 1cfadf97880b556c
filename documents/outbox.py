"""The outbox adapter of the order documents: an upload sent with OR74.

The engine (:mod:`core.outbox.engine`) claims and retries the
:class:`~documents.models.DocumentUpload` rows, one group per order. OR74 answers 200
listing only the documents it refused: a refusal is Mirakl's message on the row. When
Mirakl's answer is lost (a 5xx, a timeout) the file may be there all the same: the next
attempt looks in OR72 for a document of the order with our name, type and size,
uploaded after we asked (less the clock skew) and not already taken by another of our
uploads, and sends again only if there is none.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from core.clients import MiraklAdapter
from core.models import MarketplaceConnection
from core.outbox.adapters import Check, DeliveryRefused, DeliveryTransient, register
from core.outbox.engine import Attempt
from core.outbox.kinds import OutboxKind
from core.outbox.models import OutboxEntry
from documents.constants import UPLOAD_MAX_ATTEMPTS
from documents.models import DocumentUpload
from documents.selectors import order_documents_forget
from incidents.audit import audit_log
from incidents.models import AuditEntry
from mirakl.schemas import DocumentUpload as MiraklDocumentUpload
from mirakl.schemas import OrderDocument

__all__ = ["DocumentUploadAdapter"]

State = DocumentUpload.State
Action = AuditEntry.Action
Source = AuditEntry.Source


@register
class DocumentUploadAdapter(MiraklAdapter):
    """OR74 for one upload; OR72 to look for it when the outcome is unknown."""

    kind = OutboxKind.DOCUMENT_UPLOAD
    call = "OR74"
    max_attempts = UPLOAD_MAX_ATTEMPTS

    def load(self, entry: OutboxEntry) -> DocumentUpload | None:
        return (
            DocumentUpload.objects.select_related("order", "connection", "incident")
            .filter(delivery=entry)
            .first()
        )

    def connection(self, row: DocumentUpload) -> MarketplaceConnection:
        return row.connection

    def send(self, attempt: Attempt) -> str:
        upload: DocumentUpload = attempt.row
        result = attempt.client.upload_order_documents(
            upload.order.mirakl_id,
            [
                MiraklDocumentUpload(
                    file_name=upload.file_name,
                    type_code=upload.type_code,
                    content=bytes(upload.content),
                    content_type=upload.content_type,
                )
            ],
        )
        if not result.ok:
            messages = "; ".join(doc.message for doc in result.rejected) or _(
                "Mirakl refused the document."
            )
            raise DeliveryRefused(messages, call="OR74")
        return ""

    def find(self, attempt: Attempt) -> Check:
        upload: DocumentUpload = attempt.row
        listing = attempt.client.list_order_documents([upload.order.mirakl_id])
        documents = listing.for_order(upload.order.mirakl_id)
        taken = set(
            DocumentUpload.objects.filter(order_id=upload.order_id)
            .exclude(pk=upload.pk)
            .exclude(mirakl_document_id="")
            .values_list("mirakl_document_id", flat=True)
        )
        since = attempt.since
        candidates = [
            doc for doc in documents if doc.date_uploaded is None or doc.date_uploaded >= since
        ]
        found = next(
            (doc for doc in candidates if self._ours(doc, upload) and doc.id not in taken), None
        )
        if found is not None:
            return Check(
                str(found.id),
                {"call": "OR72", "found": str(found.id), "found_text": found.file_name or ""},
            )
        return Check(
            None,
            {
                "call": "OR72",
                "seen": len(candidates),
                "unit": "documents",
                "since": since.isoformat(),
            },
        )

    @staticmethod
    def _ours(document: OrderDocument, upload: DocumentUpload) -> bool:
        """Our file: same name and type, and the same size where Mirakl gives one."""
        return (
            document.file_name == upload.file_name
            and (document.type or upload.type_code) == upload.type_code
            and (document.file_size is None or document.file_size == upload.size)
        )

    # ------------------------------------------------------------------ recording

    @staticmethod
    def _save(upload: DocumentUpload, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(upload, name, value)
        upload.save(update_fields=list(fields))

    def on_claimed(self, row: DocumentUpload, entry: OutboxEntry, now: datetime) -> None:
        if row.state != State.IN_DOUBT:
            self._save(row, state=State.SENDING)

    def on_sent(self, row: DocumentUpload, entry: OutboxEntry, result: Any, *, found: bool):
        self._save(
            row,
            state=State.SENT,
            sent_at=entry.done_at,
            mirakl_document_id=str(result or "")[:64],
            error_message="",
        )
        order_documents_forget(order_id=row.order_id)
        audit_log(
            action=Action.DOCUMENT_UPLOADED,
            source=Source.SYSTEM,
            incident=row.incident,
            order=row.order,
            detail=row.file_name,
            data={
                "call": "OR74",
                "outcome": "found" if found else "sent",
                "document_upload": row.pk,
                "document": row.mirakl_document_id,
            },
            at=entry.done_at,
        )

    def on_retry(self, row: DocumentUpload, entry: OutboxEntry, error: DeliveryTransient) -> None:
        self._save(
            row,
            state=State.IN_DOUBT if entry.in_doubt else State.QUEUED,
            error_message=error.message,
        )

    def on_refused(self, row: DocumentUpload, entry: OutboxEntry, error: DeliveryRefused) -> None:
        self._save(row, state=State.REFUSED, error_message=error.message)
        audit_log(
            action=Action.DOCUMENT_REFUSED,
            source=Source.SYSTEM,
            incident=row.incident,
            order=row.order,
            detail=error.message,
            data={"call": "OR74", "document_upload": row.pk, "file": row.file_name},
            at=entry.done_at,
        )

    def on_failed(self, row: DocumentUpload, entry: OutboxEntry, error: DeliveryTransient) -> None:
        self._save(row, state=State.FAILED, error_message=error.message)
