"""HTTP client of the Mirakl shop (seller) API.

One :class:`MiraklClient` per marketplace account. It knows the calls this project needs
(OR11, OR28, OR43, OR64, RE01, M10-M13; the shop account A01 and its statistics A21; order
documents DO01, OR72, OR73, OR74, OR76), returns pydantic models from
:mod:`mirakl.schemas` and raises the typed errors of :mod:`mirakl.errors`. Raw dicts never
leave this package.

Retries are written by hand in :meth:`MiraklClient._request` rather than with urllib3's
``Retry`` so that ``Retry-After`` handling, logging and :attr:`MiraklClient.request_count`
are under our control, and so that writes follow a stricter rule than reads:

- GET: retried on 429, 5xx, timeouts and connection errors.
- POST/PUT/DELETE: retried only on 429 and on connection errors raised before anything was
  sent.
  A 5xx, a read timeout or a dropped connection raises ``MiraklTransientError`` with
  ``outcome_unknown=True`` at once: Mirakl may have refunded or posted the message, and
  only the caller (its outbox) can check that before trying again.

The API key travels in the ``Authorization`` header (raw, no ``Bearer``) set by a
``requests`` auth object, so it is never in ``session.headers``, never logged, and is
scrubbed from every error message in every form it can take there (as typed, quoted by
``repr`` or JSON, as bytes, URL-encoded). A key that is not visible ASCII cannot travel
in a header as typed: every call with it fails at once with ``MiraklAuthError``,
without sending anything and without repeating it (a key stored before keys were
checked shows as such in the sync's records).
"""

from __future__ import annotations

import io
import json
import logging
import random
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from email.message import Message as _EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import PurePosixPath
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote, urlsplit

import requests
from pydantic import BaseModel, ValidationError
from requests.auth import AuthBase
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from mirakl.constants import (
    MAX_DOCUMENT_IDS,
    MAX_ORDER_IDS,
    MAX_PAGE_SIZE,
    OPERATOR_ONLY_DOCUMENT_TYPES,
    Call,
)
from mirakl.errors import (
    MiraklAuthError,
    MiraklBadRequest,
    MiraklError,
    MiraklPayloadError,
    MiraklTransientError,
    error_for_status,
)
from mirakl.schemas import (
    AttachmentFile,
    DocumentDownload,
    DocumentFile,
    DocumentType,
    DocumentUpload,
    DocumentUploadResult,
    MessageCreated,
    MessageInput,
    OrderDocumentList,
    OrderPage,
    Reason,
    Recipient,
    RefundLineRequest,
    RefundRequest,
    RefundResult,
    ResolveIncidentInput,
    ShopAccount,
    ShopStatistics,
    Thread,
    ThreadInput,
    ThreadPage,
    Topic,
    summarize_validation_error,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_ARCHIVE_BYTES",
    "MiraklClient",
    "decode_json",
    "encode_json",
    "format_datetime",
]

logger = logging.getLogger("mirakl.client")

#: (connect, read) seconds.
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)
_JSON_PART_TYPE = "application/json;charset=utf-8"
_REDACTED = "[REDACTED]"
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: OR73 archives are read in memory: refuse one that would inflate beyond this.
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")

_M = TypeVar("_M", bound=BaseModel)

#: A file to upload: (filename, content, content type).
FilePart = tuple[str, bytes, str]


# --------------------------------------------------------------------------- JSON helpers


def decode_json(content: bytes | str) -> Any:
    """Decode JSON with exact ``Decimal`` numbers (``11.24`` stays ``Decimal("11.24")``)."""
    return json.loads(content, parse_float=Decimal, parse_constant=Decimal)


def encode_json(value: Any) -> str:
    """Encode JSON writing each ``Decimal`` with exactly its digits (``10.50`` -> ``10.50``).

    The stdlib encoder turns a Decimal into a float first (``10.5000000001`` artefacts
    are possible); money must reach Mirakl as typed.
    """
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send a non-finite amount to Mirakl: {value}")
        return format(value, "f")
    if value is None or isinstance(value, bool | int | float | str):
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    if isinstance(value, Mapping):
        items = (
            f"{json.dumps(str(key), ensure_ascii=False)}:{encode_json(item)}"
            for key, item in value.items()
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(encode_json(item) for item in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def format_datetime(value: datetime) -> str:
    """ISO 8601 in UTC with ``Z``, truncated to the second (earlier = nothing missed)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("Mirakl dates must be timezone-aware datetimes")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _segment(value: str | int) -> str:
    """Quote one path segment (ids are user data; ``/`` must not change the path)."""
    text = str(value)
    if not text:
        raise ValueError("empty id in a Mirakl path")
    return quote(text, safe="")


def _normalise_base_url(base_url: str) -> str:
    """Instance root without trailing ``/`` or ``/api`` (the SDK's base URL includes it)."""
    url = base_url.strip().rstrip("/")
    if url.lower().endswith("/api"):
        url = url[: -len("/api")].rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
    return url


def _parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _filename_from_disposition(value: str | None) -> str | None:
    """Filename of a ``Content-Disposition`` header (RFC 2231 ``filename*`` too)."""
    if not value:
        return None
    message = _EmailMessage()
    message["content-disposition"] = value
    name = message.get_filename()
    if not name:
        return None
    # Never let a server-chosen name carry a directory.
    base = PurePosixPath(name.replace("\\", "/")).name
    return base or None


def _is_pre_send_error(exc: requests.RequestException) -> bool:
    """True when the connection failed before any byte of the request was sent."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError) or isinstance(
        exc, requests.exceptions.SSLError | requests.exceptions.ProxyError
    ):
        return False
    reason: Any = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


class _ApiKeyAuth(AuthBase):
    """Sets ``Authorization: <key>``; its repr never shows the key."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._api_key
        return request

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {_REDACTED}>"


# --------------------------------------------------------------------------- client


class MiraklClient:
    """Client of one Mirakl shop account.

    :param base_url: instance root, e.g. ``https://pccomponentes-prod.mirakl.net``; a
        trailing ``/`` or ``/api`` is tolerated.
    :param api_key: the shop API key, sent raw in ``Authorization``.
    :param shop_id: sent as ``shop_id`` on every call when the key has several shops.
    :param timeout: seconds, or ``(connect, read)``.
    :param max_retries: retries after the first attempt (so ``max_retries + 1`` sends).
    :param backoff_factor: first backoff in seconds, doubled each retry, with jitter.
    :param max_backoff: cap of every sleep, ``Retry-After`` included.
    :param session: a ``requests.Session`` to use (not closed by :meth:`close`).
    :param sleep: injected for tests.
    :param heartbeat: called after every attempt, answered or not, from the thread that
        sent it (the sync pushes its lock's expiry back with it: waiting on Mirakl is
        progress). What it raises stops the call.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        shop_id: str | int | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        max_retries: int = 4,
        backoff_factor: float = 0.5,
        max_backoff: float = 30.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        heartbeat: Callable[[], None] | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key is required")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = _normalise_base_url(base_url)
        self.shop_id = None if shop_id is None or shop_id == "" else str(shop_id)
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_factor = backoff_factor
        self.max_backoff = max_backoff
        #: HTTP requests actually sent, retries included. The sync reads pages in a
        #: background thread while it writes, so the count is kept under a lock.
        self.request_count = 0
        self._count_lock = threading.Lock()
        self._api_key = api_key
        self._key_is_sendable = all("!" <= ch <= "~" for ch in api_key)
        self._auth = _ApiKeyAuth(api_key)
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self._sleep = sleep
        self.heartbeat = heartbeat

    def __repr__(self) -> str:
        return f"MiraklClient(base_url={self.base_url!r}, shop_id={self.shop_id!r})"

    # ---------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Close the session if this client created it."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---------------------------------------------------------------- orders

    def list_orders(
        self,
        *,
        updated_since: datetime | None = None,
        order_ids: Sequence[str] | None = None,
        has_incident: bool | None = None,
        offset: int = 0,
        max: int = 100,
    ) -> OrderPage:
        """OR11: one page of orders, oldest created first.

        ``updated_since`` maps to ``start_update_date`` (Mirakl subtracts its own safety
        delta). ``has_incident=None`` returns orders with and without incidents.
        """
        _check_page_size(max, "max")
        if offset < 0:
            raise ValueError("offset must be >= 0")
        params: dict[str, str] = {
            "sort": "dateCreated",
            "order": "asc",
            "max": str(max),
            "offset": str(offset),
        }
        if updated_since is not None:
            params["start_update_date"] = format_datetime(updated_since)
        if order_ids:
            ids = [str(order_id) for order_id in order_ids]
            if len(ids) > MAX_ORDER_IDS:
                raise ValueError(f"OR11 accepts at most {MAX_ORDER_IDS} order_ids")
            params["order_ids"] = ",".join(ids)
        if has_incident is not None:
            params["has_incident"] = _bool(has_incident)
        response = self._request("GET", "/api/orders", call=Call.OR11, params=params)
        page = OrderPage.from_payload(self._json(response, Call.OR11), offset=offset, max=max)
        self._log_invalid(Call.OR11, page.invalid)
        return page

    def iter_order_pages(
        self,
        *,
        updated_since: datetime | None = None,
        has_incident: bool | None = None,
        start_offset: int = 0,
        max: int = 100,
    ) -> Iterator[OrderPage]:
        """OR11 pages from ``start_offset`` until the last one (one request per page)."""
        offset: int | None = start_offset
        while offset is not None:
            page = self.list_orders(
                updated_since=updated_since, has_incident=has_incident, offset=offset, max=max
            )
            yield page
            if page.next_offset is not None and page.next_offset <= offset:
                raise MiraklPayloadError("pagination did not move forward", call=Call.OR11)
            offset = page.next_offset

    # ---------------------------------------------------------------- threads

    def list_threads(
        self,
        *,
        updated_since: datetime | None = None,
        entity_type: str | None = None,
        entity_ids: Sequence[str] | None = None,
        with_messages: bool = True,
        limit: int = 100,
        page_token: str | None = None,
    ) -> ThreadPage:
        """M11: one page of threads.

        With ``page_token`` only the token and ``limit`` are sent: Mirakl ignores every
        other parameter then (the token carries the original query).
        ``with_messages`` returns at most the last 100 messages of each thread; use
        :meth:`get_thread` when ``metadata.total_count`` is larger.
        """
        _check_page_size(limit, "limit")
        params: dict[str, str] = {"limit": str(limit)}
        if page_token:
            params["page_token"] = page_token
        else:
            params["with_messages"] = _bool(with_messages)
            if updated_since is not None:
                params["updated_since"] = format_datetime(updated_since)
            if entity_ids:
                if not entity_type:
                    raise ValueError("entity_ids requires entity_type (Mirakl answers 400)")
                params["entity_id"] = ",".join(str(entity_id) for entity_id in entity_ids)
            if entity_type:
                params["entity_type"] = entity_type
        response = self._request("GET", "/api/inbox/threads", call=Call.M11, params=params)
        page = ThreadPage.from_payload(self._json(response, Call.M11))
        self._log_invalid(Call.M11, page.invalid)
        return page

    def iter_thread_pages(
        self,
        *,
        updated_since: datetime | None = None,
        with_messages: bool = True,
        limit: int = 100,
        page_token: str | None = None,
        entity_type: str | None = None,
        entity_ids: Sequence[str] | None = None,
    ) -> Iterator[ThreadPage]:
        """M11 pages following ``next_page_token`` until the last one."""
        seen: set[str] = set()
        token = page_token
        while True:
            page = self.list_threads(
                updated_since=updated_since,
                entity_type=entity_type,
                entity_ids=entity_ids,
                with_messages=with_messages,
                limit=limit,
                page_token=token,
            )
            yield page
            token = page.next_page_token
            if token is None:
                return
            if token in seen:
                raise MiraklPayloadError("next_page_token repeats itself", call=Call.M11)
            seen.add(token)

    def get_thread(self, thread_id: str) -> Thread:
        """M10: one thread with its messages."""
        path = f"/api/inbox/threads/{_segment(thread_id)}"
        response = self._request("GET", path, call=Call.M10)
        return self._model(Thread, self._json(response, Call.M10), Call.M10, response)

    def reply_to_thread(
        self,
        thread_id: str,
        *,
        body: str,
        to: Sequence[Recipient],
        topic: Topic | None = None,
        files: Sequence[FilePart] = (),
    ) -> MessageCreated:
        """M12: post a message in a thread.

        ``to`` e.g. ``[Recipient(type="CUSTOMER", id=<customer participant id>)]``,
        ``[Recipient(type="OPERATOR")]`` or both (ids from ``thread.authorized_participants``).
        """
        if not body.strip():
            raise ValueError("body is required")
        if not to:
            raise ValueError("at least one recipient is required")
        message_input = MessageInput(body=body, to=list(to), topic=topic)
        path = f"/api/inbox/threads/{_segment(thread_id)}/message"
        parts = self._multipart("message_input", message_input.to_payload(), files)
        response = self._request("POST", path, call=Call.M12, files=parts)
        return self._model(MessageCreated, self._json(response, Call.M12), Call.M12, response)

    def create_order_thread(
        self,
        order_id: str,
        *,
        body: str,
        to: Sequence[str],
        topic: Topic,
        files: Sequence[FilePart] = (),
    ) -> MessageCreated:
        """OR43: open a new thread on an order. ``to`` holds strings: CUSTOMER / OPERATOR."""
        if not body.strip():
            raise ValueError("body is required")
        if not to:
            raise ValueError("at least one recipient is required")
        thread_input = ThreadInput(body=body, to=[str(party) for party in to], topic=topic)
        path = f"/api/orders/{_segment(order_id)}/threads"
        parts = self._multipart("thread_input", thread_input.to_payload(), files)
        response = self._request("POST", path, call=Call.OR43, files=parts)
        return self._model(MessageCreated, self._json(response, Call.OR43), Call.OR43, response)

    def download_attachment(self, attachment_id: str) -> AttachmentFile:
        """M13: the bytes of an attachment, with the server's filename and content type."""
        path = f"/api/inbox/threads/{_segment(attachment_id)}/download"
        # A file is not JSON: asking for JSON only could earn a 406.
        response = self._request("GET", path, call=Call.M13, headers={"Accept": "*/*"})
        return AttachmentFile(
            content=response.content,
            filename=_filename_from_disposition(response.headers.get("Content-Disposition")),
            content_type=response.headers.get("Content-Type"),
        )

    # ---------------------------------------------------------------- incidents, refunds

    def resolve_incident(
        self, order_id: str, order_line_id: str, *, reason_code: str | None
    ) -> None:
        """OR64: mark the incident of one order line as resolved (204 or 200)."""
        path = f"/api/orders/{_segment(order_id)}/lines/{_segment(order_line_id)}/resolve_incident"
        payload = ResolveIncidentInput(reason_code=reason_code).to_payload()
        self._request("PUT", path, call=Call.OR64, json_body=payload)

    def refund(
        self, refunds: Sequence[RefundLineRequest], *, order_tax_mode: str | None = None
    ) -> RefundResult:
        """OR28: refund one or more order lines, amounts sent exactly as given.

        A ``MiraklPayloadError`` whose ``status`` is 2xx means Mirakl accepted the refund
        but its answer could not be read: do not send it again.
        """
        if not refunds:
            raise ValueError("at least one refund line is required")
        request = RefundRequest(order_tax_mode=order_tax_mode, refunds=list(refunds))
        response = self._request(
            "PUT", "/api/orders/refund", call=Call.OR28, json_body=request.to_payload()
        )
        if not response.content.strip():
            logger.warning("OR28 answered %s without a body", response.status_code)
            return RefundResult(order_tax_mode=order_tax_mode)
        return self._model(RefundResult, self._json(response, Call.OR28), Call.OR28, response)

    def list_reasons(self, *, locale: str | None = None) -> list[Reason]:
        """RE01: every reason of the marketplace (filter on ``type``/``is_shop_right``)."""
        params = {"locale": locale} if locale else None
        response = self._request("GET", "/api/reasons", call=Call.RE01, params=params)
        payload = self._json(response, Call.RE01)
        if not isinstance(payload, Mapping) or not isinstance(payload.get("reasons"), list):
            raise MiraklPayloadError(
                "expected a JSON object with a 'reasons' list",
                call=Call.RE01,
                status=response.status_code,
                body=self._scrub(response.text),
            )
        reasons: list[Reason] = []
        for raw in payload["reasons"]:
            try:
                reasons.append(Reason.model_validate(raw))
            except ValidationError as exc:
                logger.warning(
                    "RE01 skipped an invalid reason: %s", summarize_validation_error(exc)
                )
        return reasons

    # ---------------------------------------------------------------- shop account

    def get_account(self) -> ShopAccount:
        """A01: the shop's state, closing dates, balances, currency and channels.

        Mirakl's documented call frequency is once a day at most: callers keep the answer.
        """
        response = self._request("GET", "/api/account", call=Call.A01)
        return self._model(ShopAccount, self._json(response, Call.A01), Call.A01, response)

    def get_statistics(
        self, *, periods: Sequence[str] | None = None, channel_code: str | None = None
    ) -> ShopStatistics:
        """A21: the shop's KPIs per period, overall or for one channel (one call each).

        ``periods`` limits the answer to those periods (``LAST_MONTH``...); unknown values
        are left for Mirakl to refuse. Once a day at most, per Mirakl's call frequency.
        """
        params: dict[str, str] = {}
        if periods:
            params["periods"] = ",".join(str(period) for period in periods)
        if channel_code:
            params["channel_code"] = channel_code
        response = self._request(
            "GET", "/api/account/statistics", call=Call.A21, params=params or None
        )
        return self._model(ShopStatistics, self._json(response, Call.A21), Call.A21, response)

    # ---------------------------------------------------------------- order documents

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
        ids = _id_list(order_ids, "order_ids", limit=MAX_ORDER_IDS, call="OR72")
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
        doc_ids = _id_list(document_ids, "document_ids", limit=MAX_DOCUMENT_IDS, call="OR73")
        orders = _id_list(order_ids, "order_ids", limit=MAX_DOCUMENT_IDS, call="OR73")
        codes = _id_list(document_codes, "document_codes", limit=MAX_DOCUMENT_IDS, call="OR73")
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

    # ---------------------------------------------------------------- transport

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _scrub(self, text: str) -> str:
        """Remove the API key, in any form an error message may quote it, from any text
        that may end up in an error or a log."""
        key = self._api_key
        if not key or len(key) < 6:
            return text
        forms = {
            key,
            repr(key)[1:-1],
            json.dumps(key)[1:-1],
            json.dumps(key, ensure_ascii=False)[1:-1],
            repr(key.encode("utf-8", "backslashreplace"))[2:-1],
            quote(key, safe=""),
            quote(key),
        }
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, _REDACTED)
        return text

    def _multipart(
        self, name: str, payload: Mapping[str, Any], files: Sequence[FilePart]
    ) -> list[tuple[str, tuple[str | None, bytes, str]]]:
        parts: list[tuple[str, tuple[str | None, bytes, str]]] = [
            (name, (None, encode_json(payload).encode("utf-8"), _JSON_PART_TYPE))
        ]
        for filename, content, content_type in files:
            parts.append(("files", (filename, content, content_type or "application/octet-stream")))
        return parts

    def _backoff(self, retry: int) -> float:
        """Exponential backoff with "equal jitter": between half and all of the step."""
        step = min(self.max_backoff, self.backoff_factor * (2.0**retry))
        return step / 2 + random.uniform(0, step / 2)

    def _request(
        self,
        method: str,
        path: str,
        *,
        call: str,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        files: Sequence[tuple[str, tuple[str | None, bytes, str]]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send one call with the retry policy described in the module docstring."""
        if not self._key_is_sendable:
            raise MiraklAuthError(
                "the API key holds spaces, line breaks, control or non-ASCII characters: "
                "enter it again",
                call=call,
            )
        method = method.upper()
        is_write = method in _WRITE_METHODS
        url = self._url(path)
        query: dict[str, str] = dict(params or {})
        if self.shop_id is not None:
            query["shop_id"] = self.shop_id
        request_headers = {"Accept": "application/json"}
        data: bytes | None = None
        if json_body is not None:
            data = encode_json(json_body).encode("utf-8")
            request_headers["Content-Type"] = "application/json"
        if headers:
            request_headers.update(headers)

        retry = 0
        while True:
            with self._count_lock:
                self.request_count += 1
            started = time.monotonic()
            try:
                response = self._session.request(
                    method,
                    url,
                    params=query,
                    data=data,
                    files=list(files) if files else None,
                    headers=request_headers,
                    auth=self._auth,
                    timeout=self.timeout,
                    # A redirected POST/PUT would be replayed as a GET by requests and
                    # "succeed" without writing anything: surface the 3xx instead.
                    allow_redirects=not is_write,
                )
            except requests.RequestException as exc:
                if self.heartbeat is not None:
                    self.heartbeat()
                elapsed_ms = (time.monotonic() - started) * 1000
                logger.debug(
                    "%s %s %s -> %s in %.0f ms", call, method, path, type(exc).__name__, elapsed_ms
                )
                error, retryable = self._error_from_exception(exc, call=call, is_write=is_write)
                if retryable and retry < self.max_retries:
                    delay = self._backoff(retry)
                    retry += 1
                    self._warn_retry(call, method, path, error.message, retry, delay)
                    self._sleep(delay)
                    continue
                leaked = self._scrub(str(exc)) != str(exc)
                raise error from (None if leaked else exc)
            except ValueError as exc:
                # http.client refuses a header or URL it cannot send, quoting it
                # (``Invalid header value b'...'``): never let the key out that way.
                raise MiraklError(self._scrub(f"{type(exc).__name__}: {exc}"), call=call) from None

            if self.heartbeat is not None:
                self.heartbeat()
            elapsed_ms = (time.monotonic() - started) * 1000
            status = response.status_code
            logger.debug("%s %s %s -> %s in %.0f ms", call, method, path, status, elapsed_ms)
            if 200 <= status < 300:
                return response

            # 429 means "not processed": safe to resend a write too.
            retryable = status == 429 or (status >= 500 and not is_write)
            retry_after = (
                _parse_retry_after(response.headers.get("Retry-After"))
                if status == 429 or retryable
                else None
            )
            if retryable and retry < self.max_retries:
                if retry_after is not None:
                    delay = min(retry_after, self.max_backoff)
                else:
                    delay = self._backoff(retry)
                retry += 1
                self._warn_retry(call, method, path, f"HTTP {status}", retry, delay)
                response.close()
                self._sleep(delay)
                continue

            body = self._scrub(response.text)
            raise error_for_status(
                status,
                call=call,
                body=body,
                reason=response.reason or "",
                retry_after=retry_after,
                outcome_unknown=is_write and status >= 500,
            )

    def _warn_retry(
        self, call: str, method: str, path: str, reason: str, retry: int, delay: float
    ) -> None:
        logger.warning(
            "%s %s %s failed (%s); retry %d/%d in %.2fs",
            call,
            method,
            path,
            reason,
            retry,
            self.max_retries,
            delay,
        )

    def _error_from_exception(
        self, exc: requests.RequestException, *, call: str, is_write: bool
    ) -> tuple[MiraklError, bool]:
        """Map a ``requests`` exception to (error, may retry)."""
        message = self._scrub(f"{type(exc).__name__}: {exc}")
        if _is_pre_send_error(exc):
            # Nothing reached Mirakl: safe to resend, even a write.
            return MiraklTransientError(message, call=call, outcome_unknown=False), True
        if isinstance(
            exc,
            requests.exceptions.Timeout
            | requests.exceptions.ConnectionError
            | requests.exceptions.ChunkedEncodingError
            | requests.exceptions.ContentDecodingError,
        ):
            # The request may have been processed (read timeout, connection dropped).
            return MiraklTransientError(message, call=call, outcome_unknown=is_write), not is_write
        return MiraklError(message, call=call), False

    def _json(self, response: requests.Response, call: str) -> Any:
        try:
            return decode_json(response.content)
        except UnicodeDecodeError as exc:
            # Bytes that are not UTF-8 (a record pasted from a legacy system) must not
            # cost the page: they are decoded with U+FFFD in their place, and said so.
            logger.warning(
                "%s answered bytes that are not UTF-8 (first at byte %d of %d): "
                "decoded with replacement characters",
                call,
                exc.start,
                len(response.content),
            )
        except ValueError as exc:
            raise self._not_json(response, call, exc) from None
        try:
            return decode_json(response.content.decode("utf-8", errors="replace"))
        except ValueError as exc:
            raise self._not_json(response, call, exc) from None

    def _not_json(
        self, response: requests.Response, call: str, exc: ValueError
    ) -> MiraklPayloadError:
        body = self._scrub(response.text)
        return MiraklPayloadError(
            f"response is not JSON ({exc}): {body[:200]!r}",
            call=call,
            status=response.status_code,
            body=body,
        )

    def _model(self, model: type[_M], payload: Any, call: str, response: requests.Response) -> _M:
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            raise MiraklPayloadError(
                f"unexpected {model.__name__} shape: {summarize_validation_error(exc)}",
                call=call,
                status=response.status_code,
                body=self._scrub(response.text),
            ) from None

    @staticmethod
    def _log_invalid(call: str, invalid: Sequence[Any]) -> None:
        for record in invalid:
            logger.warning("%s skipped invalid record %s: %s", call, record.id, record.error)


def _check_page_size(value: int, name: str) -> None:
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise ValueError(f"{name} must be between 1 and {MAX_PAGE_SIZE}")


def _id_list(values: Sequence[str | int] | None, name: str, *, limit: int, call: str) -> list[str]:
    """Ids for a comma-separated parameter: text, non-empty, at most ``limit``."""
    if not values:
        return []
    ids = [str(value).strip() for value in values]
    if any(not value or "," in value for value in ids):
        raise ValueError(f"{call} {name}: empty id or an id containing a comma")
    if len(ids) > limit:
        raise ValueError(f"{call} accepts at most {limit} {name}")
    return ids


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
