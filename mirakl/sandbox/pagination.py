"""Pagination helpers: M11 seek tokens and OR11 ``Link`` headers.

A seek token is url-safe base64 (no padding) of compact JSON holding the keyset position
``(date_updated ms, thread id)``, the direction and the original query (filters, sort,
with_messages). It does not expire: a client that crashed can resume with the last token it
stored, and the page it gets is defined by the position, so paging is stable while threads
change (a thread updated meanwhile moves to the end and is seen again, never skipped).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import urlencode

from mirakl.sandbox.wire import ApiError

__all__ = ["decode_token", "encode_token", "link_header"]


def encode_token(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise ApiError(400, "Invalid page_token") from None
    if not isinstance(payload, dict) or payload.get("v") != 1:
        raise ApiError(400, "Invalid page_token")
    return payload


def link_header(
    base_url: str,
    path: str,
    query: dict[str, list[str]],
    *,
    offset: int,
    size: int,
    total: int,
) -> str | None:
    """``<url>; rel="next", <url>; rel="previous"`` for an offset-paginated list."""
    links = []

    def url(new_offset: int) -> str:
        params = [
            (k, v) for k, values in query.items() if k not in ("offset", "max") for v in values
        ]
        params += [("max", str(size)), ("offset", str(new_offset))]
        return f"{base_url}{path}?{urlencode(params)}"

    if offset + size < total:
        links.append(f'<{url(offset + size)}>; rel="next"')
    if offset > 0:
        links.append(f'<{url(max(0, offset - size))}>; rel="previous"')
    return ", ".join(links) or None
