"""Order documents (DO01, OR72, OR73, OR74, OR76): the calls of :class:`MiraklClient`
that list, download, upload and delete the documents of orders."""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath

from pydantic import ValidationError

from mirakl.constants import (
    MAX_DOCUMENT_IDS,
    MAX_ORDER_IDS,
    OPERATOR_ONLY_DOCUMENT_TYPES,
    Call,
)
from mirakl.errors import (
    MiraklBadRequest,
    MiraklPayloadError,
)
from mirakl.schemas import (
    DocumentDownload,
    DocumentFile,
    DocumentType,
    DocumentUpload,
    DocumentUploadResult,
    OrderDocumentList,
    summarize_validation_error,
)
from mirakl.transport import (
    _ZIP_MAGIC,
    MAX_ARCHIVE_BYTES,
    FilePart,
    MiraklTransport,
    _filename_from_disposition,
    _segment,
    decode_json,
    id_list,
)

__all__ = ["OrderDocumentsApi"]

logger = logging.getLogger(__name__)


class OrderDocumentsApi(MiraklTransport):
    """The order-document calls (:class:`mirakl.client.MiraklClient` has them all)."""

    def list_document_types(
        self, *, entities: Sequence[str] | None = None, locale: str | None = None
    ) -> list[DocumentType]:
        """DO01: the marketplace's document types (``entities``: ``ORDER``, ``SHOP``).

        The invoice and delivery-note codes differ per marketplace: resolve them here.
        A type that does not validate is logged and skipped.
        """
        params: dict[str, str] = {}
        if entities:
            params["entities"] = ",".join(str(entity) for entity in entities)
        if locale:
            params["locale"] = locale
        response = self._request("GET", "/api/documents", call=Call.DO01, params=params or None)
        payload = self._json(response, Call.DO01)
        if not isinstance(payload, Mapping) or not isinstance(payload.get("documents"), list):
            raise MiraklPayloadError(
                "expected a JSON object with a 'documents' list",
                call=Call.DO01,
                status=response.status_code,
                body=self._scrub(response.text),
            )
        types: list[DocumentType] = []
        for raw in payload["documents"]:
            try:
                types.append(DocumentType.model_validate(raw))
            except ValidationError as exc:
                logger.warning(
                    "DO01 skipped an invalid document type: %s", summarize_validation_error(exc)
                )
        return types

    def list_order_documents(self, order_ids: Sequence[str]) -> OrderDocumentList:
        """OR72: the documents of up to 100 orders (not paginated)."""
        ids = id_list(order_ids, "order_ids", limit=MAX_ORDER_IDS, call="OR72")
        if not ids:
            raise ValueError("OR72 needs at least one order id")
        response = self._request(
            "GET", "/api/orders/documents", call=Call.OR72, params={"order_ids": ",".join(ids)}
        )
        documents = OrderDocumentList.from_payload(self._json(response, Call.OR72))
        self._log_invalid(Call.OR72, documents.invalid)
        return documents

    def download_order_documents(
        self,
        *,
        document_ids: Sequence[str | int] | None = None,
        order_ids: Sequence[str] | None = None,
        document_codes: Sequence[str] | None = None,
        max_archive_bytes: int = MAX_ARCHIVE_BYTES,
    ) -> DocumentDownload:
        """OR73: download documents by id, or every document (of some types) of orders.

        One document id answers with the file itself; several ids, or order ids, with a
        ZIP archive that is opened here: ``files`` lists the documents either way (with
        their order id when the archive says it). Document ids win over order ids when
        both are given ("only these documents are downloaded").

        What Mirakl answers without ids is not documented, so it is never asked:
        ``document_codes`` only narrows ``order_ids``.
        """
        doc_ids = id_list(document_ids, "document_ids", limit=MAX_DOCUMENT_IDS, call="OR73")
        orders = id_list(order_ids, "order_ids", limit=MAX_DOCUMENT_IDS, call="OR73")
        codes = id_list(document_codes, "document_codes", limit=MAX_DOCUMENT_IDS, call="OR73")
        if not doc_ids and not orders:
            raise ValueError("OR73 needs document_ids or order_ids")
        params: dict[str, str] = {}
        if doc_ids:
            params["document_ids"] = ",".join(doc_ids)
        if orders:
            params["order_ids"] = ",".join(orders)
        if codes:
            params["document_codes"] = ",".join(codes)
        # A file is not JSON: asking for JSON only could earn a 406.
        response = self._request(
            "GET",
            "/api/orders/documents/download",
            call=Call.OR73,
            params=params,
            headers={"Accept": "*/*"},
        )
        content = response.content
        filename = _filename_from_disposition(response.headers.get("Content-Disposition"))
        content_type = response.headers.get("Content-Type")
        single = len(doc_ids) == 1 and not orders
        if _is_archive(content, filename, single=single):
            files = _read_archive(
                content, call=Call.OR73, status=response.status_code, limit=max_archive_bytes
            )
            return DocumentDownload(
                content=content,
                filename=filename,
                content_type=content_type,
                is_zip=True,
                files=files,
            )
        document = DocumentFile(
            content=content,
            file_name=filename,
            content_type=content_type,
            order_id=orders[0] if len(orders) == 1 else None,
        )
        return DocumentDownload(
            content=content, filename=filename, content_type=content_type, files=[document]
        )

    def download_order_document(self, document_id: str | int) -> DocumentFile:
        """OR73 with one document id: that document's bytes.

        Mirakl documents this answer as the bare file; its name and type headers are not
        documented (``file_name`` may be None: take it from OR72). An archive holding one
        file is unwrapped.

        :raises MiraklPayloadError: the answer held no file, or several.
        """
        download = self.download_order_documents(document_ids=[document_id])
        if len(download.files) != 1:
            raise MiraklPayloadError(
                f"expected one document, the answer holds {len(download.files)}", call=Call.OR73
            )
        return download.files[0]

    def upload_order_documents(
        self, order_id: str, documents: Sequence[DocumentUpload]
    ) -> DocumentUploadResult:
        """OR74: upload documents (an invoice...) to an order, in one multipart call.

        A write: sent once. A 5xx, a timeout or a dropped connection raises
        ``MiraklTransientError(outcome_unknown=True)``; look for the file names in OR72
        before sending again. Mirakl answers 200 listing only the documents it refused:
        check ``result.ok`` / ``result.rejected``. Whether it answers 200 or 4xx when it
        refuses every document is not documented; a 4xx whose body has that shape is
        returned as a result too.

        :raises ValueError: no document, a name twice, a name outside US-ASCII, or a type
            Mirakl keeps for the operator (delivery slips, message attachments).
        """
        if not documents:
            raise ValueError("at least one document is required")
        names = [document.file_name for document in documents]
        for name in names:
            if not name.strip() or "/" in name or "\\" in name:
                raise ValueError(f"invalid document file name {name!r}")
            if not name.isascii():
                raise ValueError(f"document file names must be US-ASCII: {name!r}")
        if len(set(names)) != len(names):
            raise ValueError("document file names must be distinct")
        for document in documents:
            if not document.type_code.strip():
                raise ValueError(f"{document.file_name}: a document type code is required")
            if document.type_code in OPERATOR_ONLY_DOCUMENT_TYPES:
                raise ValueError(
                    f"{document.file_name}: type {document.type_code} cannot be uploaded by a shop"
                )
        payload = {"order_documents": [document.to_entry() for document in documents]}
        files: list[FilePart] = [
            (
                document.file_name,
                document.content,
                document.content_type or "application/octet-stream",
            )
            for document in documents
        ]
        path = f"/api/orders/{_segment(order_id)}/documents"
        parts = self._multipart("order_documents", payload, files)
        try:
            response = self._request("POST", path, call=Call.OR74, files=parts)
        except MiraklBadRequest as exc:
            refused = _upload_refusal(exc.body)
            if refused is None:
                raise
            logger.warning("OR74 refused every document (HTTP %s)", exc.status)
            return refused
        if not response.content.strip():
            logger.warning("OR74 answered %s without a body", response.status_code)
            return DocumentUploadResult(errors_count=0)
        result = self._model(
            DocumentUploadResult, self._json(response, Call.OR74), Call.OR74, response
        )
        if not result.ok:
            logger.warning(
                "OR74 refused %s of %s documents",
                result.errors_count or len(result.rejected),
                len(documents),
            )
        return result

    def delete_order_document(self, document_id: str | int) -> None:
        """OR76: delete one document of an order (204).

        A write: a 5xx or a timeout raises with ``outcome_unknown=True`` (OR72 tells whether
        the document is still there). Whether a shop may delete documents the operator or
        Mirakl uploaded is not documented: Mirakl's refusal comes back as a typed error.
        """
        path = f"/api/orders/documents/{_segment(document_id)}"
        self._request("DELETE", path, call=Call.OR76)


def _is_archive(content: bytes, filename: str | None, *, single: bool) -> bool:
    """Whether an OR73 answer is Mirakl's ZIP archive rather than one document.

    Office files (xlsx, odt...) are ZIP files too, so the magic number alone cannot tell.
    Asked for one document id, Mirakl sends the document unzipped: it is read as an
    archive only if it is also named ``*.zip``. Asked for several, or for orders, Mirakl
    always zips; an answer that is not a ZIP, or that is named as another kind of file,
    is read as the one document it is.
    """
    if not content.startswith(_ZIP_MAGIC):
        return False
    named_zip = filename is not None and filename.lower().endswith(".zip")
    if single:
        return named_zip
    return filename is None or named_zip


def _read_archive(content: bytes, *, call: str, status: int, limit: int) -> list[DocumentFile]:
    """The documents of an OR73 ZIP (``<order_id>/<file>``), read in memory.

    Only base names are kept (nothing is written to disk, and no entry can name a path
    outside the archive); the order id is the entry's folder. A declared total beyond
    ``limit`` is refused before anything is inflated.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            entries = [info for info in archive.infolist() if not info.is_dir()]
            total = sum(info.file_size for info in entries)
            if total > limit:
                raise MiraklPayloadError(
                    f"the archive would inflate to {total} bytes (limit {limit})",
                    call=call,
                    status=status,
                )
            files: list[DocumentFile] = []
            for info in entries:
                path = PurePosixPath(info.filename.replace("\\", "/"))
                # A name that climbs out of its folder tells no order.
                folder = None if ".." in path.parts else path.parent.name or None
                files.append(
                    DocumentFile(
                        content=archive.read(info),
                        file_name=path.name or None,
                        order_id=folder,
                    )
                )
            return files
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise MiraklPayloadError(
            f"the documents archive cannot be read: {exc}", call=call, status=status
        ) from None


def _upload_refusal(body: str | None) -> DocumentUploadResult | None:
    """An OR74 error body shaped like its 200 answer (documents in error), else None."""
    if not body:
        return None
    try:
        payload = decode_json(body)
    except ValueError:
        return None
    if not isinstance(payload, Mapping):
        return None
    refused = payload.get("order_documents")
    if not isinstance(refused, list) or not refused:
        return None
    try:
        result = DocumentUploadResult.model_validate(payload)
    except ValidationError:
        return None
    return result if result.rejected else None
