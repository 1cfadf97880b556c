"""Checks of uploaded files: size, and a type allowed by both name and content.

``validate_upload(file)`` is for any form field or API that takes a file (reply
attachments, for instance). The extension must be one of :data:`ALLOWED_UPLOAD_TYPES`
and the first bytes must look like that type: a script renamed ``invoice.pdf`` is
refused, and so is a PNG named ``notes.txt``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

__all__ = ["ALLOWED_UPLOAD_TYPES", "sniff_type", "validate_upload"]

#: Extension → the content type the file's bytes must show.
ALLOWED_UPLOAD_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "txt": "text/plain",
}

_SNIFF_BYTES = 2048


def _is_text(head: bytes) -> bool:
    """UTF-8 (or Latin-1 style) text without control bytes other than tabs and newlines."""
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        if exc.start < len(head) - 3:
            text = head.decode("latin-1")
        else:
            text = head[: exc.start].decode("utf-8")
    return all(ch.isprintable() or ch in "\t\n\r\f" for ch in text)


_SIGNATURES: list[tuple[str, Callable[[bytes], bool]]] = [
    ("application/pdf", lambda h: h.startswith(b"%PDF-")),
    ("image/png", lambda h: h.startswith(b"\x89PNG\r\n\x1a\n")),
    ("image/jpeg", lambda h: h.startswith(b"\xff\xd8\xff")),
    ("image/gif", lambda h: h[:6] in (b"GIF87a", b"GIF89a")),
    ("image/webp", lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP"),
]


def sniff_type(head: bytes) -> str | None:
    """The content type the first bytes of a file show, or None if none we accept."""
    for content_type, matches in _SIGNATURES:
        if matches(head):
            return content_type
    if head and _is_text(head):
        return "text/plain"
    return None


def validate_upload(file: Any, *, max_bytes: int | None = None) -> str:
    """Raise ``ValidationError`` unless ``file`` is small enough and of an allowed type.

    ``file`` is an ``UploadedFile`` (anything with ``name``, ``size``, ``read`` and
    ``seek``); the limit is ``settings.UPLOAD_MAX_BYTES`` unless given. Returns the
    content type, taken from the bytes, never from what the browser claimed.
    """
    limit = max_bytes if max_bytes is not None else settings.UPLOAD_MAX_BYTES
    name = PurePath(file.name or "").name
    size = file.size
    if size is None or size > limit:
        raise ValidationError(
            _("%(name)s is too large: files can be %(limit)s at most.")
            % {"name": name, "limit": filesizeformat(limit)},
            code="file_too_large",
        )
    if size == 0:
        raise ValidationError(_("%(name)s is empty.") % {"name": name}, code="file_empty")
    extension = PurePath(name).suffix.lower().lstrip(".")
    expected = ALLOWED_UPLOAD_TYPES.get(extension)
    if expected is None:
        raise ValidationError(
            _("%(name)s: this type of file is not allowed (allowed: %(types)s).")
            % {"name": name, "types": ", ".join(sorted(ALLOWED_UPLOAD_TYPES))},
            code="file_type",
        )
    file.seek(0)
    head = file.read(_SNIFF_BYTES)
    file.seek(0)
    if sniff_type(head) != expected:
        raise ValidationError(
            _("%(name)s does not look like a .%(extension)s file.")
            % {"name": name, "extension": extension},
            code="file_content",
        )
    return expected
