"""Document types (DO01) and order documents (OR72-OR76)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

from pydantic import (
    Field,
)

from mirakl.schemas.account import CodeList, LenientDatetime, LenientInt
from mirakl.schemas.base import (
    InvalidRecord,
    MiraklId,
    MiraklModel,
    _require_list,
    _validate_records,
)

__all__ = [
    "DocumentDownload",
    "DocumentFile",
    "DocumentType",
    "DocumentUpload",
    "DocumentUploadResult",
    "OrderDocument",
    "OrderDocumentList",
    "RejectedDocument",
    "UploadFieldError",
    "UploadInputEcho",
    "UploadReturnEntity",
]


class DocumentType(MiraklModel):
    """A DO01 document type. ``label`` is localised (``locale``); ``entity`` is
    ``ORDER`` or ``SHOP``. The codes are each marketplace's own (no fixed enum)."""

    code: MiraklId
    label: str | None = None
    description: str | None = None
    entity: str | None = None
    mime_types: CodeList = Field(default_factory=list)


class OrderDocument(MiraklModel):
    """An OR72 document of an order. ``type`` is a DO01 code; ``file_size`` in bytes (◐,
    the unit is not documented). Who uploaded it (shop, operator, system) is not said."""

    id: MiraklId
    order_id: MiraklId
    type: str | None = None
    file_name: str | None = None
    file_size: LenientInt = None
    date_uploaded: LenientDatetime = None


class OrderDocumentList(MiraklModel):
    """The OR72 answer, validated document by document (broken ones land in ``invalid``)."""

    documents: list[OrderDocument] = Field(default_factory=list)
    invalid: list[InvalidRecord] = Field(default_factory=list)

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        """:raises MiraklPayloadError: the body has no ``order_documents`` list."""
        records = _require_list(payload, "order_documents", call="OR72")
        documents, invalid = _validate_records(records, OrderDocument, id_key="id")
        return cls(documents=documents, invalid=invalid)

    def for_order(self, order_id: str) -> list[OrderDocument]:
        return [document for document in self.documents if document.order_id == order_id]

    def of_type(self, type_code: str) -> list[OrderDocument]:
        return [document for document in self.documents if document.type == type_code]


class DocumentFile(MiraklModel):
    """One downloaded document (OR73). ``order_id`` is known when it came in a ZIP
    (``<order_id>/<file>``); ``file_name`` when Mirakl named it."""

    content: bytes
    file_name: str | None = None
    order_id: str | None = None
    content_type: str | None = None

    @property
    def size(self) -> int:
        return len(self.content)


class DocumentDownload(MiraklModel):
    """An OR73 answer: the raw body and the documents it holds.

    One document id gives the file itself; several ids, or order ids, give a ZIP archive
    (``documents-<timestamp>.zip`` / ``<order_id>/`` / files, duplicates renamed
    ``name(1).ext``). ``files`` is filled either way.
    """

    content: bytes
    filename: str | None = None
    content_type: str | None = None
    is_zip: bool = False
    files: list[DocumentFile] = Field(default_factory=list)


class UploadReturnEntity(MiraklModel):
    """OR74 ``entity``: only for documents of a return (``type`` ``RETURN``)."""

    id: MiraklId
    type: str = "RETURN"


class DocumentUpload(MiraklModel):
    """One document to upload with OR74: its bytes and its DO01 type code.

    ``file_name`` is both the multipart filename of the ``files`` part and the
    ``file_name`` of its ``order_documents`` entry (whether Mirakl pairs them by that name
    is not documented, section 8 question 5: sending the same name satisfies either reading).
    """

    file_name: str
    type_code: str
    content: bytes
    content_type: str | None = None
    entity: UploadReturnEntity | None = None

    def to_entry(self) -> dict[str, Any]:
        """The ``order_documents`` entry of this file."""
        entry: dict[str, Any] = {"file_name": self.file_name, "type_code": self.type_code}
        if self.entity is not None:
            entry["entity"] = self.entity.model_dump(mode="json")
        return entry


class UploadFieldError(MiraklModel):
    """Why Mirakl refused one document, e.g. ``valid_order_document.type`` on
    ``type_code``: "Unable to retrieve document's type from the given code"."""

    code: str | None = None
    field: str | None = None
    message: str | None = None


class UploadInputEcho(MiraklModel):
    """The refused document as Mirakl echoes it."""

    file_name: str | None = None
    type_code: str | None = None


class RejectedDocument(MiraklModel):
    """An OR74 ``order_documents`` entry: a document that was not uploaded."""

    errors: list[UploadFieldError] = Field(default_factory=list)
    input: UploadInputEcho | None = None

    @property
    def file_name(self) -> str | None:
        return self.input.file_name if self.input else None

    @property
    def message(self) -> str:
        """Mirakl's messages, ``field: message`` joined with ``; ``."""
        parts = [
            f"{error.field}: {error.message}" if error.field else (error.message or "")
            for error in self.errors
        ]
        return "; ".join(part for part in parts if part) or "refused"


class DocumentUploadResult(MiraklModel):
    """The OR74 answer. Mirakl lists **only the documents in error**: an empty list means
    every file was accepted; a 200 with errors is a partial failure, never a success."""

    errors_count: LenientInt = None
    order_documents: list[RejectedDocument] = Field(default_factory=list)

    @property
    def rejected(self) -> list[RejectedDocument]:
        return self.order_documents

    @property
    def ok(self) -> bool:
        """True when Mirakl reported no document in error."""
        return not self.order_documents and not self.errors_count

    def rejected_file_names(self) -> set[str]:
        return {name for name in (doc.file_name for doc in self.order_documents) if name}

    def accepted_file_names(self, sent: Sequence[str]) -> list[str]:
        """The names in ``sent`` that Mirakl did not list as refused.

        When ``errors_count`` is larger than the refusals Mirakl named, which of the others
        were taken cannot be told: an empty list is returned (check with OR72).
        """
        rejected = self.rejected_file_names()
        if (self.errors_count or 0) > len(rejected):
            return []
        return [name for name in sent if name not in rejected]
