"""The transport under :class:`mirakl.client.MiraklClient`: one session, retries, errors.

Retries are written by hand in :meth:`MiraklTransport._request` rather than with urllib3's
``Retry`` so that ``Retry-After`` handling, logging and :attr:`MiraklTransport.request_count`
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

import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from email.message import Message as _EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import PurePosixPath
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote, urlsplit

import msgspec
import requests
from pydantic import BaseModel, ValidationError
from requests.auth import AuthBase
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from mirakl.errors import (
    MiraklAuthError,
    MiraklError,
    MiraklPayloadError,
    MiraklTransientError,
    error_for_status,
)
from mirakl.schemas import (
    summarize_validation_error,
)

__all__ = [
    "id_list",
    "DEFAULT_TIMEOUT",
    "FilePart",
    "MAX_ARCHIVE_BYTES",
    "MiraklTransport",
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


#: msgspec's decoder, several times faster than the standard one on a page of orders,
#: with the same result: numbers with a fraction or an exponent as exact ``Decimal``.
_DECODER = msgspec.json.Decoder(float_hook=Decimal)


def decode_json(content: bytes | str) -> Any:
    """Decode JSON with exact ``Decimal`` numbers (``11.24`` stays ``Decimal("11.24")``).

    What msgspec refuses and the standard decoder reads (``NaN``, an escaped lone
    surrogate) or refuses in its own words (bytes that are not UTF-8, which the caller
    reads again with replacement characters) goes to the standard decoder.
    """
    try:
        return _DECODER.decode(content)
    except msgspec.DecodeError:
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


class MiraklTransport:
    """One Mirakl shop account's session: what every call goes through.

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
        self._session = session if session is not None else self._new_session(self.base_url)
        self._sleep = sleep
        self.heartbeat = heartbeat

    @staticmethod
    def _new_session(base_url: str) -> requests.Session:
        """A session that reads the environment's proxies and CA bundle once, here.

        ``requests`` reads them again on every call (``trust_env``), which costs a page of
        a sync more CPU than sending it; every call of this client goes to one host, so
        what the environment says for that host is the same on every call.
        """
        session = requests.Session()
        session.proxies.update(requests.utils.get_environ_proxies(base_url))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle
        session.trust_env = False
        return session

    def __repr__(self) -> str:
        return f"MiraklClient(base_url={self.base_url!r}, shop_id={self.shop_id!r})"

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
            return (
                MiraklTransientError(message, call=call, outcome_unknown=False, sent=False),
                True,
            )
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


def id_list(values: Sequence[str | int] | None, name: str, *, limit: int, call: str) -> list[str]:
    """Ids for a comma-separated parameter: text, non-empty, at most ``limit``."""
    if not values:
        return []
    ids = [str(value).strip() for value in values]
    if any(not value or "," in value for value in ids):
        raise ValueError(f"{call} {name}: empty id or an id containing a comma")
    if len(ids) > limit:
        raise ValueError(f"{call} accepts at most {limit} {name}")
    return ids
