"""The order's documents, history and the guides' panel in a real browser: the panels
load after the incident page, an invoice is uploaded to Mirakl (the sandbox) from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.models import Order
from core.roles import ROLE_PERMISSIONS, Role
from core.sync.runner import marketplace_sync
from mirakl.sandbox.samples import pdf_with_text
from tests.browser.test_workspace import ARTIFACTS, CHROMIUM, PASSWORD, _permissions, launched
from tests.factories.core import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

INVOICE = pdf_with_text("Factura 2026-0099 - Silicio Sur")


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    return CHROMIUM


def _shipped_incident() -> tuple[int, str]:
    """An open incident on an order the sandbox shipped (it has its delivery note)."""
    order = (
        Order.objects.filter(
            lines__shipped_date__isnull=False,
            incidents__isnull=False,
            incidents__closed_at__isnull=True,
            commercial_id__regex=r"^\d+$",
        )
        .distinct()
        .order_by("mirakl_id")
        .first()
    )
    assert order is not None, "the sandbox has no shipped order with an open incident"
    return order.incidents.filter(closed_at__isnull=True).first().pk, order.mirakl_id


def test_agent_uploads_the_invoice_from_the_incident_page(
    live_server, chromium, connection, sandbox, sandbox_client
) -> None:
    marketplace_sync(connection=connection, client=sandbox_client)
    agent = UserFactory(username="marta", first_name="Marta", last_name="Ruiz", password=PASSWORD)
    agent.user_permissions.add(*_permissions(ROLE_PERMISSIONS[Role.AGENT]))
    incident_pk, order_id = _shipped_incident()
    ARTIFACTS.mkdir(exist_ok=True)

    with launched(chromium) as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="es-ES")
        page.set_default_timeout(10_000)
        page.goto(f"{live_server.url}/accounts/login/?next=/incidents/{incident_pk}/")
        page.fill("#id_username", "marta")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#incident-header")

        # Both panels arrive after the page, from Mirakl and from the history.
        page.wait_for_selector("#order-documents [data-document]")
        assert f"albaran-{order_id}.pdf" in page.locator("#order-documents").inner_text()
        page.wait_for_selector("#order-history li[data-kind=order]")
        assert "Pedido realizado" in page.locator("#order-history").inner_text()

        page.set_input_files(
            "#order-documents input[type=file]",
            files=[{"name": "factura-99.pdf", "mimeType": "application/pdf", "buffer": INVOICE}],
        )
        page.click("#order-documents [data-upload-button]")
        page.wait_for_selector("#order-documents [data-upload-notice]")
        page.screenshot(path=str(ARTIFACTS / "incident-documents.png"), full_page=True)

    names = [d.file_name for d in sandbox_client.list_order_documents([order_id]).documents]
    assert names.count("factura-99.pdf") == 1
