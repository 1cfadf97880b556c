"""multipart/form-data parsing with the standard library ``email`` package (cgi is gone)."""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.parser import BytesParser

__all__ = ["FormPart", "parse_multipart"]


@dataclass(frozen=True, slots=True)
class FormPart:
    name: str
    filename: str | None
    content_type: str
    data: bytes


def parse_multipart(content_type: str, body: bytes) -> list[FormPart]:
    """Split a multipart/form-data body into its parts.

    Raises ``ValueError`` when the content type is not multipart or has no boundary.
    """
    if not content_type.lower().startswith("multipart/form-data"):
        raise ValueError("not multipart/form-data")
    if "boundary=" not in content_type.lower():
        raise ValueError("multipart/form-data without boundary")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ValueError("malformed multipart body")
    parts: list[FormPart] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        parts.append(
            FormPart(
                name=str(name),
                filename=part.get_filename(),
                content_type=part.get_content_type(),
                data=data,
            )
        )
    return parts
