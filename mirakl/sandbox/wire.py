"""HTTP-level pieces shared by the endpoint handlers: request, response, errors, params.

Errors use Mirakl's legacy body ``{"status": <int>, "message": "<text>"}`` with the same
HTTP status (MIRAKL_API.md section 1, "Errors").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mirakl.sandbox.clock import parse_mirakl_date

__all__ = [
    "ApiError",
    "Request",
    "Response",
    "error_response",
    "json_response",
]

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    504: "Gateway Timeout",
}


class ApiError(Exception):
    """Raised by handlers; becomes a legacy Mirakl error response."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def to_response(self) -> Response:
        response = error_response(self.status, self.message)
        response.headers.update(self.headers)
        return response


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = "application/json;charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any) -> Response:
    """A JSON response; ``payload`` may be pre-serialised JSON (text or UTF-8 bytes)."""
    if isinstance(payload, bytes):
        return Response(status, payload)
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return Response(status, text.encode("utf-8"))


def error_response(status: int, message: str | None = None) -> Response:
    text = message or _REASONS.get(status, "Error")
    return json_response(status, {"status": status, "message": text})


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    base_url: str
    raw_query: str = ""

    # ------------------------------------------------------------ params
    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def csv(self, name: str) -> list[str] | None:
        """A comma-separated list (repeated parameters are merged)."""
        values = self.query.get(name)
        if values is None:
            return None
        items = [item.strip() for value in values for item in value.split(",")]
        return [item for item in items if item]

    def boolean(self, name: str, default: bool | None = None) -> bool | None:
        raw = self.param(name)
        if raw is None or raw == "":
            return default
        lowered = raw.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
        raise ApiError(400, f"Invalid value '{raw}' for parameter '{name}': expected true/false")

    def integer(self, name: str, default: int, *, minimum: int = 0) -> int:
        raw = self.param(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, f"Invalid value '{raw}' for parameter '{name}'") from None
        if value < minimum:
            raise ApiError(400, f"Invalid value '{raw}' for parameter '{name}'")
        return value

    def date(self, name: str) -> int | None:
        raw = self.param(name)
        if raw is None or raw == "":
            return None
        try:
            return parse_mirakl_date(raw)
        except ValueError:
            raise ApiError(
                400, f"Invalid date '{raw}' for parameter '{name}': expected ISO-8601"
            ) from None

    def json_body(self) -> Any:
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ApiError(400, "Malformed JSON body") from None
