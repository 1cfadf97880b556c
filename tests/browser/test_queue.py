"""The queue in a real browser: answer a conversation that has no incident from the
queue, and see a customer's follow-up on an answered incident under "Vencidas o por
vencer" with its deadline.

Headless Debian Chromium driven by Playwright against pytest-django's ``live_server``
and the in-process Mirakl sandbox (see ``test_workspace.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db.models import Max
from django.utils import timezone

from core.roles import ROLE_PERMISSIONS, Role
from core.sync.runner import marketplace_sync
from messaging.models import Message, Party, Thread
from sla.models import QueueEntry
from sla.services import sla_sweep
from tests.browser.test_workspace import ARTIFACTS, PASSWORD, _permissions, chromium, launched
from tests.factories.core import UserFactory
from tests.messaging.fixtures import control

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

__all__ = ["chromium"]  # the fixture, shared with the workspace's tests


@dataclass(frozen=True, slots=True)
class Targets:
    """What the browser part needs, read from the database before the browser starts."""

    conversation_order: str
    conversation_thread: int
    conversation_mirakl_id: str
    incident: int
    incident_order: str
    deadline: str


def _targets(sandbox, connection, sandbox_client) -> Targets:
    """A conversation owed to the customer, and an answered incident whose customer
    wrote again right after the shop's last answer, days ago (its deadline passed)."""
    conversation = next(
        entry
        for entry in QueueEntry.objects.filter(
            kind=QueueEntry.Kind.CONVERSATION, owed_to=QueueEntry.Owed.CUSTOMER
        )
        .select_related("thread", "order")
        .order_by("pk")
        if any(p.get("type") == Party.CUSTOMER for p in entry.thread.authorized_participants)
    )
    # The answered incident whose conversation went quiet the longest ago.
    quiet = min(
        QueueEntry.objects.filter(
            kind=QueueEntry.Kind.INCIDENT,
            is_open=True,
            due_at__isnull=True,
            incident__closed_at__isnull=True,
        ).annotate(last=Max("order__threads__messages__date_created")),
        key=lambda entry: entry.last or timezone.now(),
    )
    assert quiet.last is not None, "no answered open incident with messages in the sandbox"
    control(
        sandbox,
        "messages",
        {"order_id": quiet.order_number, "body": "Sigo esperando la unidad de reemplazo."},
    )
    marketplace_sync(connection=connection, client=sandbox_client)
    # As if the sync had brought it right after the shop's last message (Mirakl's
    # waiting flag says so too): long enough ago for its deadline to have passed.
    follow_up = Message.objects.get(body="Sigo esperando la unidad de reemplazo.")
    written = quiet.last + timedelta(minutes=1)
    Message.objects.filter(pk=follow_up.pk).update(date_created=written)
    Thread.objects.filter(pk=follow_up.thread_id).update(
        shop_reply_needed_since=written, last_message_at=written
    )
    sla_sweep()
    row = QueueEntry.objects.get(incident_id=quiet.incident_id)
    assert row.due_at is not None and row.sla_state() == "breached"
    return Targets(
        conversation_order=conversation.order_number,
        conversation_thread=conversation.thread_id,
        conversation_mirakl_id=conversation.thread.mirakl_id,
        incident=quiet.incident_id,
        incident_order=quiet.order_number,
        deadline=f"{timezone.localtime(row.due_at):%d/%m/%Y %H:%M}",
    )


def test_answer_a_conversation_from_the_queue_and_see_a_follow_up_due(
    live_server, chromium, connection, sandbox, sandbox_client
) -> None:
    marketplace_sync(connection=connection, client=sandbox_client)
    sla_sweep(full=True)
    agent = UserFactory(username="marta", first_name="Marta", last_name="Ruiz", password=PASSWORD)
    agent.user_permissions.add(*_permissions(ROLE_PERMISSIONS[Role.AGENT]))
    targets = _targets(sandbox, connection, sandbox_client)
    ARTIFACTS.mkdir(exist_ok=True)
    body = "Hola, ya hemos cambiado la dirección de entrega de tu pedido."

    with launched(chromium) as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="es-ES")
        page.set_default_timeout(10_000)
        page.goto(f"{live_server.url}/accounts/login/?next=/incidents/")
        page.fill("#id_username", "marta")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#incident-table")
        assert page.locator("#incident-table tr[data-kind=conversation]").count() > 0

        # "Esperando nuestra respuesta", then the conversation's order number.
        page.click("a[data-view=waiting]")
        page.wait_for_url("**waiting=true**")
        page.fill("#id_q", targets.conversation_order)
        page.wait_for_function(
            "() => document.querySelectorAll('#incident-table tbody tr[data-kind]').length === 1"
        )
        row = page.locator("#incident-table tr[data-kind=conversation]")
        assert row.count() == 1
        assert row.locator("[data-owed=customer]").inner_text() == "Cliente"
        assert row.locator("[data-preview]").count() == 1
        page.screenshot(path=str(ARTIFACTS / "queue.png"), full_page=True)

        # Open it: the order page, at the conversation; answer it.
        row.locator("a.order-link").click()
        thread = page.locator(f"#thread-{targets.conversation_thread}")
        thread.wait_for()
        assert page.locator("#order-header").count() == 1
        assert targets.conversation_order in page.locator("#order-header").inner_text()
        box = thread.locator("form.reply-box")
        assert box.locator("input[value=CUSTOMER]").is_checked()
        box.locator("textarea").fill(body)
        box.locator("button[type=submit]").click()
        sent = thread.locator(".msg.pending", has_text="ya hemos cambiado la dirección")
        sent.wait_for()
        sent.locator("[data-delivery=sent]").wait_for()
        page.screenshot(path=str(ARTIFACTS / "order-replied.png"), full_page=True)

        # "Vencidas o por vencer": the incident whose customer wrote again, with its
        # deadline.
        page.goto(f"{live_server.url}/incidents/")
        page.click("a[data-view=breaching]")
        page.wait_for_url("**sla=nearing**")
        page.fill("#id_q", targets.incident_order)
        incident_row = page.locator(f"#incident-table tr[data-incident='{targets.incident}']")
        page.wait_for_function(
            "() => document.querySelectorAll('#incident-table tbody tr[data-kind]').length === 1"
        )
        assert incident_row.count() == 1
        badge = incident_row.locator("[data-sla=breached]")
        assert badge.get_attribute("title") == targets.deadline
        assert "Sigo esperando la unidad de reemplazo." in incident_row.inner_text()
        page.screenshot(path=str(ARTIFACTS / "queue-due.png"), full_page=True)

    messages = sandbox.state.thread_payload(targets.conversation_mirakl_id)["messages"]
    assert [m["body"] for m in messages].count(body) == 1
