"""HTTP client of the Mirakl shop (seller) API.

One :class:`MiraklClient` per marketplace account. It knows the calls this project needs
(OR11, OR28, OR43, OR64, RE01, M10-M13; the shop account A01 and its statistics A21; order
documents DO01, OR72, OR73, OR74, OR76), returns pydantic models from
:mod:`mirakl.schemas` and raises the typed errors of :mod:`mirakl.errors`. Raw dicts never
leave this package. How calls are sent, retried and scrubbed: :mod:`mirakl.transport`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from pydantic import ValidationError

from mirakl.constants import (
    MAX_ORDER_IDS,
    MAX_PAGE_SIZE,
    Call,
)
from mirakl.documents import OrderDocumentsApi
from mirakl.errors import (
    MiraklPayloadError,
)
from mirakl.schemas import (
    AttachmentFile,
    MessageCreated,
    MessageInput,
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
from mirakl.schemas.records import (
    OrderRecordPage,
    ThreadRecord,
    ThreadRecordPage,
    thread_record_from_json,
)
from mirakl.transport import (
    DEFAULT_TIMEOUT,
    MAX_ARCHIVE_BYTES,
    FilePart,
    _bool,
    _filename_from_disposition,
    _segment,
    decode_json,
    encode_json,
    format_datetime,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_ARCHIVE_BYTES",
    "MiraklClient",
    "decode_json",
    "encode_json",
    "format_datetime",
]

logger = logging.getLogger(__name__)


class MiraklClient(OrderDocumentsApi):
    """Client of one Mirakl shop account (its arguments: :class:`MiraklTransport`)."""

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
        params = _order_params(updated_since, order_ids, has_incident, offset, max)
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
        return _offset_pages(
            lambda offset: self.list_orders(
                updated_since=updated_since, has_incident=has_incident, offset=offset, max=max
            ),
            start_offset,
        )

    def list_order_records(
        self,
        *,
        updated_since: datetime | None = None,
        has_incident: bool | None = None,
        offset: int = 0,
        max: int = 100,
    ) -> OrderRecordPage:
        """OR11 as :meth:`list_orders`, the orders decoded into structs
        (:mod:`mirakl.schemas.records`): what the sync reads, at a fraction of the CPU."""
        params = _order_params(updated_since, None, has_incident, offset, max)
        response = self._request("GET", "/api/orders", call=Call.OR11, params=params)
        page = OrderRecordPage.from_json(
            response.content,
            offset=offset,
            max=max,
            payload=lambda: self._json(response, Call.OR11),
        )
        self._log_invalid(Call.OR11, page.invalid)
        return page

    def iter_order_record_pages(
        self,
        *,
        updated_since: datetime | None = None,
        has_incident: bool | None = None,
        start_offset: int = 0,
        max: int = 100,
    ) -> Iterator[OrderRecordPage]:
        """:meth:`iter_order_pages` with the pages of :meth:`list_order_records`."""
        return _offset_pages(
            lambda offset: self.list_order_records(
                updated_since=updated_since, has_incident=has_incident, offset=offset, max=max
            ),
            start_offset,
        )

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
        params = _thread_params(
            updated_since, entity_type, entity_ids, with_messages, limit, page_token
        )
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
        return _token_pages(
            lambda token: self.list_threads(
                updated_since=updated_since,
                entity_type=entity_type,
                entity_ids=entity_ids,
                with_messages=with_messages,
                limit=limit,
                page_token=token,
            ),
            page_token,
        )

    def list_thread_records(
        self,
        *,
        updated_since: datetime | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> ThreadRecordPage:
        """M11 with messages as :meth:`list_threads`, the threads decoded into structs
        (:mod:`mirakl.schemas.records`): what the sync reads."""
        params = _thread_params(updated_since, None, None, True, limit, page_token)
        response = self._request("GET", "/api/inbox/threads", call=Call.M11, params=params)
        page = ThreadRecordPage.from_json(
            response.content, payload=lambda: self._json(response, Call.M11)
        )
        self._log_invalid(Call.M11, page.invalid)
        return page

    def iter_thread_record_pages(
        self,
        *,
        updated_since: datetime | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Iterator[ThreadRecordPage]:
        """:meth:`iter_thread_pages` (with messages) with the pages of
        :meth:`list_thread_records`."""
        return _token_pages(
            lambda token: self.list_thread_records(
                updated_since=updated_since, limit=limit, page_token=token
            ),
            page_token,
        )

    def get_thread(self, thread_id: str) -> Thread:
        """M10: one thread with its messages."""
        path = f"/api/inbox/threads/{_segment(thread_id)}"
        response = self._request("GET", path, call=Call.M10)
        return self._model(Thread, self._json(response, Call.M10), Call.M10, response)

    def get_thread_record(self, thread_id: str) -> ThreadRecord:
        """M10 as :meth:`get_thread`, the thread decoded into a struct."""
        path = f"/api/inbox/threads/{_segment(thread_id)}"
        response = self._request("GET", path, call=Call.M10)
        try:
            return thread_record_from_json(
                response.content, payload=lambda: self._json(response, Call.M10)
            )
        except ValidationError as exc:
            raise MiraklPayloadError(
                f"unexpected Thread shape: {summarize_validation_error(exc)}",
                call=Call.M10,
                status=response.status_code,
                body=self._scrub(response.text),
            ) from None

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


def _order_params(
    updated_since: datetime | None,
    order_ids: Sequence[str] | None,
    has_incident: bool | None,
    offset: int,
    max: int,
) -> dict[str, str]:
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
    return params


def _thread_params(
    updated_since: datetime | None,
    entity_type: str | None,
    entity_ids: Sequence[str] | None,
    with_messages: bool,
    limit: int,
    page_token: str | None,
) -> dict[str, str]:
    _check_page_size(limit, "limit")
    params: dict[str, str] = {"limit": str(limit)}
    if page_token:
        params["page_token"] = page_token
        return params
    params["with_messages"] = _bool(with_messages)
    if updated_since is not None:
        params["updated_since"] = format_datetime(updated_since)
    if entity_ids:
        if not entity_type:
            raise ValueError("entity_ids requires entity_type (Mirakl answers 400)")
        params["entity_id"] = ",".join(str(entity_id) for entity_id in entity_ids)
    if entity_type:
        params["entity_type"] = entity_type
    return params


def _check_page_size(value: int, name: str) -> None:
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise ValueError(f"{name} must be between 1 and {MAX_PAGE_SIZE}")


class _OffsetPaged(Protocol):
    @property
    def next_offset(self) -> int | None: ...


class _TokenPaged(Protocol):
    @property
    def next_page_token(self) -> str | None: ...


_P = TypeVar("_P", bound=_OffsetPaged)
_T = TypeVar("_T", bound=_TokenPaged)


def _offset_pages(fetch: Callable[[int], _P], start_offset: int) -> Iterator[_P]:
    """OR11-style pages from ``start_offset`` until the last one; a page whose next
    offset does not move forward is Mirakl's error, not a loop."""
    offset: int | None = start_offset
    while offset is not None:
        page = fetch(offset)
        yield page
        if page.next_offset is not None and page.next_offset <= offset:
            raise MiraklPayloadError("pagination did not move forward", call=Call.OR11)
        offset = page.next_offset


def _token_pages(fetch: Callable[[str | None], _T], page_token: str | None) -> Iterator[_T]:
    """M11-style pages following ``next_page_token``; a token seen twice is an error."""
    seen: set[str] = set()
    token = page_token
    while True:
        page = fetch(token)
        yield page
        token = page.next_page_token
        if token is None:
            return
        if token in seen:
            raise MiraklPayloadError("next_page_token repeats itself", call=Call.M11)
        seen.add(token)
