"""Order documents against the sandbox: the list (OR72), downloads (OR73), the invoice
uploaded through the outbox (OR74), its validation, Mirakl's refusal and a lost answer."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from core.models import Order
from core.outbox.engine import outbox_deliver, outbox_deliver_pending
from core.outbox.kinds import OutboxKind
from core.outbox.models import OutboxEntry
from documents.models import DocumentUpload
from documents.services import ascii_file_name, document_upload_queue
from incidents.models import AuditEntry
from mirakl.client import MiraklClient
from mirakl.sandbox.samples import pdf_with_text
from tests.conftest import SANDBOX_KEY
from tests.messaging.fixtures import control

State = DocumentUpload.State
PDF = pdf_with_text("Factura 2026-0042 - Silicio Sur")


def shipped_order() -> Order:
    """A synced order the sandbox shipped: it has its delivery note."""
    order = (
        Order.objects.filter(lines__shipped_date__isnull=False, commercial_id__regex=r"^\d+$")
        .order_by("mirakl_id")
        .first()
    )
    assert order is not None, "the sandbox has no shipped order"
    return order


def panel(client, order: Order) -> str:
    response = client.get(reverse("documents:panel", args=[order.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def sandbox_documents(sandbox, order: Order) -> list[dict]:
    client = MiraklClient(base_url=sandbox.base_url, api_key=SANDBOX_KEY, sleep=lambda _: None)
    with client:
        return [d.model_dump() for d in client.list_order_documents([order.mirakl_id]).documents]


def test_the_panel_lists_the_orders_documents_with_their_type_in_words(
    synced, agent_client
) -> None:
    order = shipped_order()
    page = panel(agent_client, order)
    assert f"albaran-{order.mirakl_id}.pdf" in page
    assert "SYSTEM_DELIVERY_BILL" not in page  # never a raw Mirakl code
    assert reverse("documents:download", args=[order.pk, str(int(order.commercial_id) * 10 + 1)])
    assert 'name="file"' in page and 'name="type_code"' in page
    assert "Upload to Mirakl" in page


def test_a_document_downloads_as_an_attachment(synced, agent_client) -> None:
    order = shipped_order()
    document_id = str(int(order.commercial_id) * 10 + 1)
    response = agent_client.get(reverse("documents:download", args=[order.pk, document_id]))
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")
    assert response["Content-Disposition"].startswith("attachment;")
    assert f"albaran-{order.mirakl_id}.pdf" in response["Content-Disposition"]
    assert response["Content-Type"] == "application/octet-stream"


def test_only_the_orders_own_documents_download(synced, agent_client) -> None:
    order, other = Order.objects.filter(lines__shipped_date__isnull=False).distinct()[:2]
    others = str(int(other.commercial_id) * 10 + 1)
    response = agent_client.get(reverse("documents:download", args=[order.pk, others]))
    assert response.status_code == 404


def test_mirakl_not_answering_is_said_on_the_panel(synced, agent_client, sandbox) -> None:
    order = shipped_order()
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{sandbox.base_url}/api/orders/documents", status=503)
        mock.add_passthru(sandbox.base_url)
        page = panel(agent_client, order)
    assert "data-documents-error" in page
    assert "try again" in page


def upload(client, order: Order, content: bytes = PDF, name: str = "factura-42.pdf"):
    return client.post(
        reverse("documents:upload", args=[order.pk]),
        {"type_code": "CUSTOMER_INVOICE", "file": SimpleUploadedFile(name, content)},
        HTTP_HX_REQUEST="true",
    )


def test_an_invoice_is_uploaded_through_the_outbox(synced, agent_client, sandbox_client, sandbox):
    order = shipped_order()
    response = upload(agent_client, order, name="Factura nº 42.pdf")
    assert response.status_code == 200
    upload_row = DocumentUpload.objects.get()
    assert (upload_row.state, upload_row.file_name) == (State.QUEUED, "Factura no 42.pdf")
    assert upload_row.delivery.kind == OutboxKind.DOCUMENT_UPLOAD
    assert "is queued" in response.content.decode()
    assert AuditEntry.objects.filter(action=AuditEntry.Action.DOCUMENT_UPLOAD).count() == 1

    result = outbox_deliver(entry_id=upload_row.delivery_id, client=sandbox_client)

    assert result.outcome == "sent"
    upload_row.refresh_from_db()
    assert upload_row.state == State.SENT
    names = [d["file_name"] for d in sandbox_documents(sandbox, order)]
    assert names.count("Factura no 42.pdf") == 1
    assert AuditEntry.objects.filter(action=AuditEntry.Action.DOCUMENT_UPLOADED).count() == 1
    # The list is read again: the invoice is there, once, as Mirakl's document.
    page = panel(agent_client, order)
    assert page.count("Factura no 42.pdf") == 1
    assert "data-uploads" not in page


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("factura.pdf", b"<html><script>alert(1)</script></html>", "does not look like"),
        ("factura.exe", b"MZ\x90\x00", "not accepted"),
        ("factura.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 ", "Mirakl does not take"),
        ("factura.pdf", b"", "empty"),
    ],
)
def test_an_unacceptable_file_is_refused_at_the_field(
    synced, agent_client, name, content, error
) -> None:
    page = upload(agent_client, shipped_order(), content=content, name=name).content.decode()
    assert error in page
    assert not DocumentUpload.objects.exists()
    assert not OutboxEntry.objects.filter(kind=OutboxKind.DOCUMENT_UPLOAD).exists()


def test_a_file_over_the_limit_is_refused(synced, agent_client, settings) -> None:
    settings.UPLOAD_MAX_BYTES = 1000
    page = upload(agent_client, shipped_order(), content=PDF + b"0" * 2000).content.decode()
    assert "the limit is" in page
    assert not DocumentUpload.objects.exists()


def test_uploading_needs_an_agent(synced, client) -> None:
    from tests.factories.core import UserFactory

    client.force_login(UserFactory(role="account_manager"))
    order = shipped_order()
    assert upload(client, order).status_code == 403
    page = panel(client, order)
    assert 'name="file"' not in page


def test_mirakls_refusal_is_kept_with_its_message(synced, agent, sandbox_client) -> None:
    order = shipped_order()
    row = document_upload_queue(
        order=order,
        type_code="NOT_A_TYPE",
        type_label="?",
        file_name="factura.pdf",
        content_type="application/pdf",
        content=PDF,
        actor=agent,
    )
    assert outbox_deliver(entry_id=row.delivery_id, client=sandbox_client).outcome == "refused"
    row.refresh_from_db()
    assert row.state == State.REFUSED
    assert "type" in row.error_message
    assert AuditEntry.objects.filter(action=AuditEntry.Action.DOCUMENT_REFUSED).exists()


def queue(order: Order, agent, name: str = "factura-late.pdf") -> DocumentUpload:
    return document_upload_queue(
        order=order,
        type_code="CUSTOMER_INVOICE",
        type_label="Factura",
        file_name=name,
        content_type="application/pdf",
        content=PDF,
        actor=agent,
    )


def test_an_upload_mirakl_applies_late_is_found_not_sent_twice(
    synced, agent, sandbox, sandbox_client
) -> None:
    order = shipped_order()
    row = queue(order, agent)
    before = sandbox.stats.get("OR74", 0)
    t0 = timezone.now()

    def sweep(at: timedelta) -> dict[str, int]:
        return outbox_deliver_pending(
            kind=OutboxKind.DOCUMENT_UPLOAD,
            client_factory=lambda connection: sandbox_client,
            now=t0 + at,
        ).outcomes

    # Mirakl answers 504 and stores the file 40 s later on its own clock.
    control(sandbox, "faults", {"spec": "late=1,late_s=40"})
    try:
        assert sweep(timedelta(0)) == {"retry": 1}
    finally:
        control(sandbox, "faults", {"spec": ""})
    row.refresh_from_db()
    assert row.state == State.IN_DOUBT and row.delivery.in_doubt

    control(sandbox, "advance", {"seconds": 130})
    assert sweep(timedelta(seconds=130)) == {"found": 1}

    row.refresh_from_db()
    assert row.state == State.SENT
    assert row.mirakl_document_id
    assert row.delivery.evidence["call"] == "OR72"
    assert sandbox.stats["OR74"] - before == 1
    names = [d["file_name"] for d in sandbox_documents(sandbox, order)]
    assert names.count("factura-late.pdf") == 1


def test_an_upload_that_never_reached_mirakl_is_sent_again(
    synced, agent, sandbox, sandbox_client
) -> None:
    order = shipped_order()
    row = queue(order, agent, name="factura-502.pdf")
    url = f"{sandbox.base_url}/api/orders/{order.mirakl_id}/documents"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add(responses.POST, url, status=502)
        assert outbox_deliver(entry_id=row.delivery_id, client=sandbox_client).outcome == "retry"
    row.refresh_from_db()
    assert row.state == State.IN_DOUBT

    entry = row.delivery
    later = entry.next_attempt_at + timedelta(seconds=1)
    result = outbox_deliver(entry_id=row.delivery_id, client=sandbox_client, now=later)

    assert result.outcome == "sent"
    row.refresh_from_db()
    assert row.state == State.SENT
    assert row.delivery.evidence["unit"] == "documents"
    names = [d["file_name"] for d in sandbox_documents(sandbox, order)]
    assert names.count("factura-502.pdf") == 1


def test_file_names_are_made_ascii_and_unique_per_order(synced, agent) -> None:
    assert ascii_file_name("Factura año 2026 – nº1.pdf") == "Factura ano 2026 _ no1.pdf"
    order = shipped_order()
    first = queue(order, agent, name="factura.pdf")
    second = queue(order, agent, name="factura.pdf")
    assert (first.file_name, second.file_name) == ("factura.pdf", "factura-2.pdf")
