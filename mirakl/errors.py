"""Typed errors raised by the Mirakl client.

Every error carries the Mirakl call code (``"OR11"``, ``"M12"``...), the HTTP status when
there was a response, Mirakl's own message and the raw body. Callers branch on the class:

- ``MiraklAuthError``: 401/403, the API key is wrong or revoked. Retrying will not help.
- ``MiraklNotFound``: 404.
- ``MiraklBadRequest``: 400 and every other 4xx, including "not in the expected state".
- ``MiraklRateLimited``: 429 after the client's own retries; ``retry_after`` in seconds.
- ``MiraklTransientError``: 5xx, timeouts, connection errors. ``outcome_unknown`` is True
  when a write may have reached Mirakl (check before sending it again).
- ``MiraklPayloadError``: a 2xx answer whose body is not the JSON shape we expect.

``MiraklRateLimited`` is a ``MiraklTransientError`` (with ``outcome_unknown=False``): a
Celery task retrying on transient errors then also retries on exhausted rate limits.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "MESSAGE_MAX_CHARS",
    "MiraklAuthError",
    "MiraklBadRequest",
    "MiraklError",
    "MiraklNotFound",
    "MiraklPayloadError",
    "MiraklRateLimited",
    "MiraklTransientError",
    "error_for_status",
    "extract_error_message",
]

MESSAGE_MAX_CHARS = 500


class MiraklError(Exception):
    """Base class of every error the Mirakl client raises."""

    def __init__(
        self,
        message: str,
        *,
        call: str,
        status: int | None = None,
        body: str | None = None,
    ) -> None:
        self.call = call
        self.status = status
        self.message = message
        self.body = body
        super().__init__(message)

    def __str__(self) -> str:
        if self.status is None:
            return f"{self.call} failed: {self.message}"
        return f"{self.call} failed (HTTP {self.status}): {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(call={self.call!r}, status={self.status!r}, "
            f"message={self.message!r})"
        )


class MiraklAuthError(MiraklError):
    """401 or 403: the API key is missing, wrong, revoked or lacks the right."""


class MiraklNotFound(MiraklError):
    """404: the order, thread, line or attachment does not exist for this shop."""


class MiraklBadRequest(MiraklError):
    """400 and every 4xx without its own class: parameters or state refused by Mirakl."""


class MiraklTransientError(MiraklError):
    """5xx, timeout or connection error: the same request may succeed later.

    ``outcome_unknown`` is True when a write (POST/PUT) may have been processed by Mirakl
    (read timeout, connection dropped after sending, 5xx): the caller must check the
    current state before sending it again, or it may refund or reply twice.
    ``sent`` is False when the connection failed before any byte of the request left
    (refused, unreachable, connect timeout): Mirakl never saw it, so it does not count
    against a call frequency limit.
    """

    def __init__(
        self,
        message: str,
        *,
        call: str,
        status: int | None = None,
        body: str | None = None,
        outcome_unknown: bool = False,
        sent: bool = True,
    ) -> None:
        super().__init__(message, call=call, status=status, body=body)
        self.outcome_unknown = outcome_unknown
        self.sent = sent

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(call={self.call!r}, status={self.status!r}, "
            f"message={self.message!r}, outcome_unknown={self.outcome_unknown!r})"
        )


class MiraklRateLimited(MiraklTransientError):
    """429 still returned after the client's retries. ``retry_after`` is in seconds."""

    def __init__(
        self,
        message: str,
        *,
        call: str,
        status: int | None = 429,
        body: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, call=call, status=status, body=body, outcome_unknown=False)
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(call={self.call!r}, status={self.status!r}, "
            f"message={self.message!r}, retry_after={self.retry_after!r})"
        )


class MiraklPayloadError(MiraklError):
    """A successful answer whose body is not JSON or not the expected top-level shape."""


def _truncate(text: str, limit: int = MESSAGE_MAX_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def extract_error_message(body: str | None, *, default: str = "") -> str:
    """Read Mirakl's message out of an error body.

    Legacy APIs answer ``{"status": 400, "message": "..."}``; newer ones
    ``{"errors": [{"message": "...", "field": "..."}]}``. Anything else (HTML from a proxy,
    plain text) is returned as raw text cut to 500 characters.
    """
    if not body or not body.strip():
        return default
    try:
        data: Any = json.loads(body)
    except ValueError:
        return _truncate(body.strip())
    if isinstance(data, dict):
        message = data.get("message")
        if isinstance(message, str) and message.strip():
            return _truncate(message.strip())
        errors = data.get("errors")
        if isinstance(errors, list):
            parts: list[str] = []
            for item in errors:
                if isinstance(item, dict) and item.get("message"):
                    field = item.get("field")
                    text = str(item["message"])
                    parts.append(f"{field}: {text}" if field else text)
                elif isinstance(item, str):
                    parts.append(item)
            if parts:
                return _truncate("; ".join(parts))
    return _truncate(body.strip())


def error_for_status(
    status: int,
    *,
    call: str,
    body: str | None,
    reason: str = "",
    retry_after: float | None = None,
    outcome_unknown: bool = False,
) -> MiraklError:
    """Build the typed error for a non-2xx HTTP status (not raised here)."""
    message = extract_error_message(body, default=reason or f"HTTP {status}")
    if status in (401, 403):
        return MiraklAuthError(message, call=call, status=status, body=body)
    if status == 404:
        return MiraklNotFound(message, call=call, status=status, body=body)
    if status == 429:
        return MiraklRateLimited(
            message, call=call, status=status, body=body, retry_after=retry_after
        )
    if 400 <= status < 500:
        return MiraklBadRequest(message, call=call, status=status, body=body)
    if status >= 500:
        return MiraklTransientError(
            message, call=call, status=status, body=body, outcome_unknown=outcome_unknown
        )
    return MiraklError(message, call=call, status=status, body=body)
