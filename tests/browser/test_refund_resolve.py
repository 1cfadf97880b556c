"""A partial refund and the resolution of the incident, in a real browser.

The agent opens an incident, refunds part of its line (types the amount, sees the total,
confirms), watches the request go from queued to sent to the Mirakl sandbox, then marks
the incident resolved with a reason. Headless Debian Chromium driven by Playwright
against ``live_server`` and the in-process sandbox; screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal

import pytest

from core.roles import ROLE_PERMISSIONS, Role
from core.sync.runner import marketplace_sync
from incidents.models import Incident
from incidents.resolution import resolution_reason_choices
from messaging.selectors import order_conversations
from refunds.models import RefundRequest
from refunds.rules import refund_reason_choices, refund_remainders
from tests.browser.test_workspace import ARTIFACTS, PASSWORD, _permissions, launched
from tests.browser.test_workspace import chromium as chromium  # noqa: F401 - fixture
from tests.factories.core import UserFactory

# live_server needs committed data (see test_workspace.py).
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REFUND = Decimal("5.00")
REFUND_TYPED = "5,00"  # as a Spanish agent types it


@dataclass(frozen=True, slots=True)
class Target:
    """What the browser part needs, read from the database before the browser starts."""

    incident_pk: int
    line_pk: int
    line_mirakl_id: str
    order_id: str
    refund_reason: str
    resolve_reason: str


def _target(connection) -> Target:
    """An open incident on a refundable line, no conversation of its order waiting for
    the shop (the resolution would be refused), with more than the refund left."""
    refund_reasons = refund_reason_choices(connection=connection)
    resolve_reasons = [code for code, _ in resolution_reason_choices(connection=connection.pk)]
    assert refund_reasons and resolve_reasons, "the sync brought no RE01 reasons"
    resolve = "INC_SOLVED_REFUND" if "INC_SOLVED_REFUND" in resolve_reasons else resolve_reasons[0]
    incidents = (
        Incident.objects.filter(
            closed_at__isnull=True,
            state__in=(Incident.State.NEW, Incident.State.IN_PROGRESS),
            line__state="INCIDENT_OPEN",
        )
        .select_related("order", "line")
        .order_by("pk")
    )
    for incident in incidents:
        if any(view.needs_reply for view in order_conversations(order_id=incident.order_id)):
            continue
        left = refund_remainders(order=incident.order)[incident.line_id]
        if left.amount <= REFUND * 2:
            continue
        return Target(
            incident_pk=incident.pk,
            line_pk=incident.line_id,
            line_mirakl_id=incident.line.mirakl_id,
            order_id=incident.order.mirakl_id,
            refund_reason=refund_reasons[0][0],
            resolve_reason=resolve,
        )
    raise AssertionError("no open incident without a conversation waiting for the shop")


class HeldWorker:
    """Stands in for the Celery worker: the outbox's "deliver one" task is held until
    ``release()``, so the page can show the request queued, then runs in its own thread
    (with its own database connection) as the worker would."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.threads: list[threading.Thread] = []
        self.outcomes: list[str] = []

    def delay(self, entry_id: int) -> None:
        thread = threading.Thread(target=self._run, args=(entry_id,), daemon=True)
        self.threads.append(thread)
        thread.start()

    def _run(self, entry_id: int) -> None:
        from django.db import connection

        from core.outbox.engine import outbox_deliver

        self.released.wait(timeout=60)
        try:
            self.outcomes.append(outbox_deliver(entry_id=entry_id).outcome)
        finally:
            connection.close()

    def release(self) -> None:
        self.released.set()

    def join(self) -> None:
        self.released.set()
        for thread in self.threads:
            thread.join(timeout=30)


def test_agent_refunds_part_of_a_line_then_marks_the_incident_resolved(
    live_server,
    chromium,
    connection,
    sandbox,
    sandbox_client,
    monkeypatch,  # noqa: F811
) -> None:
    marketplace_sync(connection=connection, client=sandbox_client)
    agent = UserFactory(username="lucia", first_name="Lucía", last_name="Gil", password=PASSWORD)
    agent.user_permissions.add(*_permissions(ROLE_PERMISSIONS[Role.AGENT]))
    target = _target(connection)
    worker = HeldWorker()
    import core.outbox.tasks

    monkeypatch.setattr(core.outbox.tasks, "outbox_deliver_task", worker)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with launched(chromium) as browser:
            _refund_and_resolve(browser, live_server.url, target, worker)
    finally:
        worker.join()

    # One request, sent once: the sandbox holds exactly that refund on the line.
    refund = RefundRequest.objects.get()
    assert (refund.kind, refund.total, refund.state) == ("partial", REFUND, "sent")
    assert worker.outcomes == ["sent", "sent"]  # OR28, then OR64
    _order, line = sandbox.state.lines[target.line_mirakl_id]
    assert [r.amount for r in line.refunds] == [REFUND]
    assert line.refunds[0].refund_id == refund.lines.get().mirakl_refund_id
    # A partial refund leaves the incident open; the agent's resolution reached Mirakl.
    incident = Incident.objects.get(pk=target.incident_pk)
    assert incident.state == Incident.State.RESOLVED
    assert incident.resolution_reason_code == target.resolve_reason
    mirakl_incident = line.incidents[-1]
    assert mirakl_incident.status == "RESOLVED"
    assert mirakl_incident.resolve_reason == target.resolve_reason


def _refund_and_resolve(browser, base_url: str, target: Target, worker: HeldWorker) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="es-ES")
    page.set_default_timeout(15_000)
    page.on("dialog", lambda dialog: dialog.accept())  # "Mark resolved?" confirmation

    # Log in and open the incident.
    page.goto(f"{base_url}/accounts/login/?next=/incidents/{target.incident_pk}/")
    page.fill("#id_username", "lucia")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    panel = page.locator("#refunds")
    panel.wait_for()
    assert target.order_id in page.locator(".incident-header").inner_text()
    assert panel.locator("[data-refund-action=full]").is_visible()

    # The full refund's summary: every line's remainder and the exact total (not sent).
    panel.locator("[data-refund-action=full]").click()
    form = page.locator("#refund-form")
    form.locator("select[name=reason_code]").select_option(target.refund_reason)
    form.locator("[data-review]").click()
    page.locator("#refund-form [data-confirm]").wait_for()
    assert form.locator("[data-closes]").is_visible()
    page.screenshot(path=str(ARTIFACTS / "refund-full-confirm.png"), full_page=True)
    page.go_back()

    # Partial refund of the incident's line: the form says it will not close it.
    page.locator("#refunds [data-refund-action=partial]").click()
    form = page.locator("#refund-form")
    form.wait_for()
    assert form.locator("[data-not-closing]").is_visible()
    line = form.locator(f"fieldset[data-line='{target.line_pk}']")
    line.locator(f"input[name='l{target.line_pk}-amount']").fill(REFUND_TYPED)
    form.locator("select[name=reason_code]").select_option(target.refund_reason)
    page.screenshot(path=str(ARTIFACTS / "refund-partial-form.png"), full_page=True)
    form.locator("[data-review]").click()

    # The server's summary with the exact total, then confirm (a double click sends once).
    total = page.locator("#refund-form [data-refund-total]")
    total.wait_for()
    assert total.inner_text().replace("\u00a0", " ") == "5,00 €"
    page.screenshot(path=str(ARTIFACTS / "refund-partial-confirm.png"), full_page=True)
    page.locator("#refund-form [data-confirm]").dblclick()

    # Back on the incident page: queued (the worker is held), then sent (polling).
    page.wait_for_url(f"**/incidents/{target.incident_pk}/#refunds")
    state = page.locator("#refunds [data-refund-state]")
    state.wait_for()
    assert state.count() == 1
    assert state.get_attribute("data-refund-state") == "queued"
    page.screenshot(path=str(ARTIFACTS / "refund-queued.png"), full_page=True)
    worker.release()
    page.wait_for_selector("#refunds [data-refund-state=sent]", timeout=30_000)
    assert page.locator("#refunds [data-refund-state]").count() == 1
    assert page.locator("#refunds[data-pending]").count() == 0  # polling stopped
    page.screenshot(path=str(ARTIFACTS / "refund-sent.png"), full_page=True)

    # Mark the incident resolved with a reason (a partial refund does not close it).
    resolve = page.locator(f"#resolve-{target.incident_pk}")
    resolve.locator("select[name=reason_code]").select_option(target.resolve_reason)
    resolve.locator("button[type=submit]").click()
    page.wait_for_selector(f"#resolve-{target.incident_pk}[data-state=resolved]")
    page.screenshot(path=str(ARTIFACTS / "incident-resolved.png"), full_page=True)
