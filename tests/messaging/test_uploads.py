"""Every upload path checks files with ``core.validators.validate_upload``.

The reply box and "start a conversation" refuse each file the README says is refused,
with a clear error in Spanish (the desk's language), and nothing reaches Mirakl.
"""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from messaging.models import OutboundAttachment, OutboundMessage
from tests.messaging.fixtures import open_incident_thread

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64

#: (file name, content, the Spanish error shown).
REFUSED = [
    pytest.param(
        "factura.pdf",
        b"<!DOCTYPE html><html><script>alert(1)</script></html>",
        "«factura.pdf» no parece un archivo .pdf: su contenido es de otro tipo.",
        id="html-named-pdf",
    ),
    pytest.param(
        "nota.txt",
        PNG,
        "«nota.txt» no parece un archivo .txt: su contenido es de otro tipo.",
        id="png-named-txt",
    ),
    pytest.param(
        "factura.exe.pdf",
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64,
        "«factura.exe.pdf» no parece un archivo .pdf: su contenido es de otro tipo.",
        id="executable-named-pdf",
    ),
    pytest.param(
        "grande.pdf",
        b"%PDF-1.7\n" + b"0" * (2 * 1024 * 1024),
        "«grande.pdf» ocupa 2,0\xa0MB; el límite es de 976,6\xa0KB por archivo.",
        id="over-upload-max-bytes",
    ),
    pytest.param(
        "programa.exe",
        b"MZ\x90\x00",
        "«programa.exe»: no se acepta este tipo de archivo.",
        id="extension-not-allowed",
    ),
]


@pytest.fixture
def spanish_agent(client, agent):
    """The agent, logged in, reading the desk in Spanish (its default language)."""
    client.force_login(agent)
    return client


@pytest.fixture(autouse=True)
def _upload_limit(settings):
    settings.UPLOAD_MAX_BYTES = 1_000_000


def _reply(client, incident, thread, files):
    prefix = f"thread-{thread.pk}"
    last = thread.messages.order_by("-date_created", "-pk").first()
    data = {
        f"{prefix}-recipient": "CUSTOMER",
        f"{prefix}-body": "Hola, te adjuntamos la factura del pedido.",
        f"{prefix}-idempotency_key": str(uuid.uuid4()),
        f"{prefix}-last_message_id": last.mirakl_id if last else "",
        f"{prefix}-attachments": files,
    }
    url = reverse("messaging:reply", args=[incident.pk, thread.pk])
    return client.post(url, data, HTTP_HX_REQUEST="true")


def _new_conversation(client, incident, files):
    data = {
        "new-recipient": "CUSTOMER",
        "new-subject": "Factura del pedido",
        "new-body": "Hola, te adjuntamos la factura del pedido.",
        "new-idempotency_key": str(uuid.uuid4()),
        "new-attachments": files,
    }
    url = reverse("messaging:new_thread", args=[incident.pk])
    return client.post(url, data, HTTP_HX_REQUEST="true")


def _mirakl_counts(sandbox) -> tuple[int, int]:
    return sandbox.state.message_count, len(sandbox.state.threads)


@pytest.mark.parametrize("path", ["reply", "new conversation"])
@pytest.mark.parametrize(("name", "content", "error"), REFUSED)
def test_refused_upload_is_explained_and_nothing_reaches_mirakl(
    spanish_agent, synced, sandbox, django_capture_on_commit_callbacks, path, name, content, error
) -> None:
    incident, thread = open_incident_thread()
    before = _mirakl_counts(sandbox)
    files = [SimpleUploadedFile(name, content, content_type="application/pdf")]
    with django_capture_on_commit_callbacks(execute=True):
        if path == "reply":
            response = _reply(spanish_agent, incident, thread, files)
        else:
            response = _new_conversation(spanish_agent, incident, files)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not OutboundMessage.objects.exists()
    assert _mirakl_counts(sandbox) == before


@pytest.mark.parametrize("path", ["reply", "new conversation"])
def test_accepted_upload_goes_with_its_safe_name_and_sniffed_type(
    spanish_agent, synced, sandbox, django_capture_on_commit_callbacks, path
) -> None:
    incident, thread = open_incident_thread()
    files = [
        SimpleUploadedFile("..\\..\\factura\u202etxt.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"),
        SimpleUploadedFile("foto.png", PNG, content_type="text/html"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        if path == "reply":
            _reply(spanish_agent, incident, thread, files)
        else:
            _new_conversation(spanish_agent, incident, files)

    outbound = OutboundMessage.objects.get()
    assert outbound.state == OutboundMessage.State.SENT
    stored = list(OutboundAttachment.objects.order_by("pk").values_list("name", "content_type"))
    # No directory, no right-to-left override; the type from the bytes, not the browser.
    assert stored == [("facturatxt.pdf", "application/pdf"), ("foto.png", "image/png")]
    sent = sandbox.state.thread_payload(outbound.mirakl_thread_id or thread.mirakl_id)
    names = {a["name"] for m in sent["messages"] for a in m.get("attachments", [])}
    assert {"facturatxt.pdf", "foto.png"} <= names
