"""incidents.validators.validate_upload: size, extension and sniffed content."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from incidents.validators import validate_upload

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
SAMPLES = {
    "factura.pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
    "foto.png": PNG,
    "foto.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "foto.JPEG": b"\xff\xd8\xff\xdb\x00\x43",
    "anim.gif": b"GIF89a\x01\x00\x01\x00",
    "foto.webp": b"RIFF\x24\x00\x00\x00WEBPVP8 ",
    "notas.txt": "Pedido 59400123-A: llegó roto, ¿qué hago?\n".encode(),
}


@pytest.mark.parametrize(("name", "content"), SAMPLES.items())
def test_accepts_allowed_types(name: str, content: bytes) -> None:
    upload = SimpleUploadedFile(name, content, content_type="application/octet-stream")
    assert validate_upload(upload)
    assert upload.read() == content  # left at the start for whoever reads it next


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("script.exe", b"MZ\x90\x00", "file_type"),
        ("page.html", b"<html><script>alert(1)</script>", "file_type"),
        ("image.svg", b"<svg onload=alert(1)>", "file_type"),
        ("no-extension", b"hello", "file_type"),
        ("factura.pdf", b"<html><script>alert(1)</script>", "file_content"),
        ("foto.png", b"\xff\xd8\xff\xe0 jpeg bytes", "file_content"),
        ("notas.txt", PNG, "file_content"),
        ("binary.txt", b"\x00\x01\x02\x03", "file_content"),
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
    assert validate_upload(ok) == "text/plain"
    with pytest.raises(ValidationError) as error:
        validate_upload(too_big)
    assert error.value.code == "file_too_large"
    with pytest.raises(ValidationError):
        validate_upload(ok, max_bytes=10)


def test_text_cut_inside_a_multibyte_character_is_still_text() -> None:
    content = ("a" * 2047 + "é").encode()  # the sample ends half-way through "é"
    assert validate_upload(SimpleUploadedFile("n.txt", content)) == "text/plain"
