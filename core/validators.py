"""Checks of what users type or upload: files, and the Mirakl API key.

``validate_upload(file)`` is the one check of every uploaded file (reply attachments,
new conversations, and any upload added later): the size from ``UPLOAD_MAX_BYTES``, an
extension from :data:`ALLOWED_UPLOAD_TYPES`, content whose first bytes show that same
type (an HTML page named ``factura.pdf``, PNG bytes named ``nota.txt`` or an executable
named ``factura.exe.pdf`` are refused), and the name reduced to a safe base name. It
returns the safe name and the content type taken from the bytes, never the browser's.

``validate_api_key(key)`` refuses Mirakl API keys that could not travel in an HTTP
header as typed (control characters, spaces, non-ASCII): such a key fails later, in
an error message that would carry it. ``api_key_for_host`` keeps a stored key only
while the connection stays on the host it was entered for.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

__all__ = [
    "ALLOWED_UPLOAD_TYPES",
    "CheckedUpload",
    "api_key_for_host",
    "safe_upload_name",
    "sniff_type",
    "validate_api_key",
    "validate_upload",
]

#: Extension → the content type of the files users may upload (invoices, labels,
#: photos, office documents). The file's bytes must show the same type.
ALLOWED_UPLOAD_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "txt": "text/plain",
    "csv": "text/csv",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}

_SNIFF_BYTES = 2048
_MAX_NAME = 255
#: Characters Windows or a shell would choke on in a file name.
_UNSAFE_NAME_CHARS = re.compile(r'[<>:"/\\|?*]')
#: Text that is markup, not plain text (a browser would render it).
_MARKUP_START = (b"<!doctype", b"<html", b"<script", b"<svg", b"<?xml", b"<body", b"<iframe")

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary Word and Excel formats
_ZIP = b"PK\x03\x04"


@dataclass(frozen=True, slots=True)
class CheckedUpload:
    """What :func:`validate_upload` found: a safe base name and the sniffed type."""

    name: str
    content_type: str


def _is_text(head: bytes) -> bool:
    """UTF-8 (or Latin-1 style) text without control bytes other than tabs and newlines,
    and not markup."""
    if b"\x00" in head:
        return False
    if head.lstrip().lower().startswith(_MARKUP_START):
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
    ("application/x-ole-storage", lambda h: h.startswith(_OLE2)),
    ("application/zip", lambda h: h.startswith(_ZIP)),
]


def sniff_type(head: bytes) -> str | None:
    """The content type the first bytes of a file show, or None if none we accept.

    Office documents show only their container: ``application/x-ole-storage`` (``.doc``,
    ``.xls``) or ``application/zip`` (``.docx``, ``.xlsx``, ``.odt``, ``.ods``)."""
    for content_type, matches in _SIGNATURES:
        if matches(head):
            return content_type
    if head and _is_text(head):
        return "text/plain"
    return None


def _zip_holds(file: Any, member: str) -> bool:
    """True when ``file`` is a readable ZIP archive with ``member`` (read from the end)."""
    try:
        with zipfile.ZipFile(file) as archive:
            return member in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False
    finally:
        file.seek(0)


def _content_matches(extension: str, head: bytes, file: Any) -> bool:
    """Whether the bytes are what the extension says."""
    sniffed = sniff_type(head)
    if extension in ("txt", "csv"):
        return sniffed == "text/plain"
    if extension in ("doc", "xls"):
        return sniffed == "application/x-ole-storage"
    if extension in ("docx", "xlsx"):
        return sniffed == "application/zip" and _zip_holds(file, "[Content_Types].xml")
    if extension in ("odt", "ods"):
        # OpenDocument starts with an uncompressed "mimetype" member naming its type.
        expected = ALLOWED_UPLOAD_TYPES[extension].encode()
        return sniffed == "application/zip" and head[30:38] == b"mimetype" and expected in head
    return sniffed == ALLOWED_UPLOAD_TYPES[extension]


def safe_upload_name(name: str) -> str:
    """The base name of an uploaded file, safe to store and to send on.

    No directory, no control or invisible formatting characters (a right-to-left
    override can make ``fdp.exe`` read ``exe.pdf``), none of ``<>:"/\\|?*``, no leading
    dot or trailing dots and spaces, at most 255 characters with the extension kept.
    """
    base = PurePosixPath((name or "").replace("\\", "/")).name
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _UNSAFE_NAME_CHARS.sub("_", base).strip(" .")
    if len(base) > _MAX_NAME:
        suffix = PurePosixPath(base).suffix[:16]
        base = base[: _MAX_NAME - len(suffix)] + suffix
    return base or "file"


def validate_upload(file: Any, *, max_bytes: int | None = None) -> CheckedUpload:
    """Raise ``ValidationError`` unless ``file`` is small enough and of an allowed type.

    ``file`` is an ``UploadedFile`` (anything with ``name``, ``size``, ``read`` and
    ``seek``); the limit is ``settings.UPLOAD_MAX_BYTES`` unless given. The file is left
    at its start for whoever reads it next.
    """
    limit = max_bytes if max_bytes is not None else settings.UPLOAD_MAX_BYTES
    name = safe_upload_name(file.name or "")
    size = file.size
    extension = PurePosixPath(name).suffix.lower().lstrip(".")
    if extension not in ALLOWED_UPLOAD_TYPES:
        raise ValidationError(
            _("«%(name)s»: this type of file is not accepted. Accepted: %(types)s.")
            % {"name": name, "types": ", ".join(sorted(ALLOWED_UPLOAD_TYPES)).upper()},
            code="file_type",
        )
    if size is None or size > limit:
        raise ValidationError(
            _("«%(name)s» is %(size)s; the limit is %(max)s per file.")
            % {"name": name, "size": filesizeformat(size or 0), "max": filesizeformat(limit)},
            code="file_too_large",
        )
    if size == 0:
        raise ValidationError(_("«%(name)s» is empty.") % {"name": name}, code="file_empty")
    file.seek(0)
    head = file.read(_SNIFF_BYTES)
    file.seek(0)
    if not _content_matches(extension, head, file):
        raise ValidationError(
            _(
                "«%(name)s» does not look like a .%(extension)s file: its content is of "
                "another type."
            )
            % {"name": name, "extension": extension},
            code="file_content",
        )
    return CheckedUpload(name=name, content_type=ALLOWED_UPLOAD_TYPES[extension])


def validate_api_key(key: str) -> None:
    """Raise ``ValidationError`` unless the key is visible ASCII only (what an HTTP
    header carries as typed). The message never repeats the key."""
    if key and not all("!" <= ch <= "~" for ch in key):
        raise ValidationError(
            _(
                "The API key can only hold letters, digits and visible symbols: no spaces, "
                "line breaks or other control characters. Paste it again."
            ),
            code="api_key_characters",
        )


def _origin(url: str | None) -> tuple[str, str, int | None]:
    parts = urlsplit((url or "").strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def api_key_for_host(
    new_key: str | None,
    *,
    base_url: str,
    stored_key: str | None,
    stored_base_url: str | None,
) -> str:
    """The key a connection will send to ``base_url``: ``new_key`` when given (checked
    by :func:`validate_api_key`), else the stored one, but only on the host (scheme,
    name and port) it was entered for. Raises ``ValidationError`` otherwise."""
    if new_key:
        validate_api_key(new_key)
        return new_key
    if not stored_key:
        raise ValidationError(_("This field is required."), code="required")
    if stored_base_url is not None and _origin(base_url) != _origin(stored_base_url):
        raise ValidationError(
            _(
                "Enter the API key again: the Mirakl URL now points to another host, and "
                "the stored key is only sent to the host it was entered for."
            ),
            code="api_key_new_host",
        )
    return stored_key
