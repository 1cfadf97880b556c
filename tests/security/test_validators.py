"""core.validators: uploads (size, extension, sniffed content, safe name) and API keys."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from core.validators import safe_upload_name, validate_api_key, validate_upload

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64


def _zip(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members:
            archive.writestr(zipfile.ZipInfo(name), content)
    return buffer.getvalue()


DOCX = _zip(("[Content_Types].xml", b"<Types/>"), ("word/document.xml", b"<w:document/>"))
ODT = _zip(("mimetype", b"application/vnd.oasis.opendocument.text"), ("content.xml", b"<x/>"))
ODS = _zip(("mimetype", b"application/vnd.oasis.opendocument.spreadsheet"), ("c.xml", b"<x/>"))

SAMPLES = {
    "factura.pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "application/pdf"),
    "foto.png": (PNG, "image/png"),
    "foto.jpg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
    "foto.JPEG": (b"\xff\xd8\xff\xdb\x00\x43", "image/jpeg"),
    "anim.gif": (b"GIF89a\x01\x00\x01\x00", "image/gif"),
    "foto.webp": (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    "notas.txt": ("Pedido 59400123-A: llegó roto, ¿qué hago?\n".encode(), "text/plain"),
    "lineas.csv": (b"pedido;importe\n59400123-A;12,50\n", "text/csv"),
    "carta.doc": (OLE2, "application/msword"),
    "tabla.xls": (OLE2, "application/vnd.ms-excel"),
    "carta.docx": (
        DOCX,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    "tabla.xlsx": (DOCX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "carta.odt": (ODT, "application/vnd.oasis.opendocument.text"),
    "tabla.ods": (ODS, "application/vnd.oasis.opendocument.spreadsheet"),
}


@pytest.mark.parametrize(("name", "sample"), SAMPLES.items())
def test_accepts_allowed_types(name: str, sample: tuple[bytes, str]) -> None:
    content, content_type = sample
    upload = SimpleUploadedFile(name, content, content_type="application/octet-stream")
    checked = validate_upload(upload)
    assert (checked.name, checked.content_type) == (name, content_type)
    assert upload.read() == content  # left at the start for whoever reads it next


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("script.exe", b"MZ\x90\x00", "file_type"),
        ("page.html", b"<html><script>alert(1)</script>", "file_type"),
        ("image.svg", b"<svg onload=alert(1)>", "file_type"),
        ("no-extension", b"hello", "file_type"),
        (".pdf", b"%PDF-1.7", "file_type"),  # a dot file: its name is "pdf"
        ("factura.pdf", b"<html><script>alert(1)</script>", "file_content"),
        ("factura.exe.pdf", b"MZ\x90\x00\x03\x00", "file_content"),
        ("factura.pdf", b"\x7fELF\x02\x01\x01", "file_content"),
        ("foto.png", b"\xff\xd8\xff\xe0 jpeg bytes", "file_content"),
        ("notas.txt", PNG, "file_content"),
        ("notas.txt", b"<!DOCTYPE html><script>alert(1)</script>", "file_content"),
        ("binary.txt", b"\x00\x01\x02\x03", "file_content"),
        ("carta.docx", _zip(("payload.exe", b"MZ")), "file_content"),
        ("carta.docx", OLE2, "file_content"),
        ("carta.odt", DOCX, "file_content"),
        ("carta.doc", DOCX, "file_content"),
        ("empty.pdf", b"", "file_empty"),
    ],
)
def test_refuses_bad_files(name: str, content: bytes, code: str) -> None:
    with pytest.raises(ValidationError) as error:
        validate_upload(SimpleUploadedFile(name, content, content_type="application/pdf"))
    assert error.value.code == code


def test_refuses_files_over_the_limit(settings) -> None:
    settings.UPLOAD_MAX_BYTES = 1024
    ok = SimpleUploadedFile("a.txt", b"a" * 1024)
    too_big = SimpleUploadedFile("b.txt", b"a" * 1025)
    assert validate_upload(ok).content_type == "text/plain"
    with pytest.raises(ValidationError) as error:
        validate_upload(too_big)
    assert error.value.code == "file_too_large"
    with pytest.raises(ValidationError):
        validate_upload(ok, max_bytes=10)


def test_text_cut_inside_a_multibyte_character_is_still_text() -> None:
    content = ("a" * 2047 + "é").encode()  # the sample ends half-way through "é"
    assert validate_upload(SimpleUploadedFile("n.txt", content)).content_type == "text/plain"


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("factura.pdf", "factura.pdf"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\ana\\factura.pdf", "factura.pdf"),
        ("fact\x00ura.pdf", "factura.pdf"),
        ("factura\r\n.pdf", "factura.pdf"),
        ("fdp\u202eexe.pdf", "fdpexe.pdf"),  # a right-to-left override hides the order
        ('a<b>:c"|?*.pdf', "a_b__c____.pdf"),
        ("  .oculto.pdf. ", "oculto.pdf"),
        ("Factura ñandú 2026.pdf", "Factura ñandú 2026.pdf"),
        ("", "file"),
        ("...", "file"),
        ("a" * 300 + ".pdf", "a" * 251 + ".pdf"),
    ],
)
def test_safe_upload_name(name: str, safe: str) -> None:
    assert safe_upload_name(name) == safe


@pytest.mark.parametrize(
    "key", ["key\nX-Injected: 1", "key with space", "key\x00", "clave-ñ", "key\t", "\x7fkey"]
)
def test_api_keys_with_control_characters_or_spaces_are_refused(key: str) -> None:
    with pytest.raises(ValidationError) as error:
        validate_api_key(key)
    assert key not in " ".join(error.value.messages)


def test_api_keys_as_mirakl_issues_them_are_accepted() -> None:
    validate_api_key("7f3c2a10-5b1e-4c8d-9a6f-0e2d4b6c8a1f")
    validate_api_key("sandbox-test-key_+/=")
