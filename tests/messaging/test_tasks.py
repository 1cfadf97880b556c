"""The delivery tasks: thin, retried with backoff, giving up into a visible failure."""

from __future__ import annotations

import uuid

import pytest

from messaging import tasks
from messaging.models import OutboundMessage
from messaging.services import outbound_reply_queue
from mirakl.errors import MiraklRateLimited, MiraklTransientError
from tests.messaging.fixtures import control, open_incident_thread

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox_clients(monkeypatch, sandbox_client):
    """Every client the services build is the sandbox's (no sleeping between retries)."""
    monkeypatch.setattr("incidents.clients.client_for", lambda connection: sandbox_client)
    monkeypatch.setattr(sandbox_client, "close", lambda: None)
    return sandbox_client


def queue(thread, agent, body="Hola, seguimos con tu caso.") -> OutboundMessage:
    outbound, _ = outbound_reply_queue(
        thread=thread, body=body, choice="CUSTOMER", user=agent, idempotency_key=uuid.uuid4()
    )
    return outbound


def test_task_delivers(synced, agent, sandbox, sandbox_clients) -> None:
    _, thread = open_incident_thread()
    outbound = queue(thread, agent)
    result = tasks.deliver_outbound_message_task.apply(args=[outbound.pk])
    assert result.get() == "sent"
    outbound.refresh_from_db()
    assert outbound.state == OutboundMessage.State.SENT


def test_task_retries_then_shows_the_failure(
    synced, agent, sandbox, sandbox_clients, monkeypatch
) -> None:
    _, thread = open_incident_thread()
    outbound = queue(thread, agent)
    task = tasks.deliver_outbound_message_task
    monkeypatch.setattr(task, "max_retries", 2)
    # Eager retries run at once, one after the other, instead of raising ``Retry``.
    monkeypatch.setitem(task.app.conf, "task_eager_propagates", False)
    control(sandbox, "faults", {"spec": "500=1.0"})

    result = tasks.deliver_outbound_message_task.apply(args=[outbound.pk])

    outbound.refresh_from_db()
    assert result.get() == "failed"
    assert outbound.state == OutboundMessage.State.FAILED
    assert outbound.attempts == 3  # the first try and two retries
    assert "HTTP 500" in outbound.last_error
    assert outbound.in_doubt


def test_pending_task_sends_what_is_queued(synced, agent, sandbox, sandbox_clients) -> None:
    _, thread = open_incident_thread()
    queue(thread, agent, "Uno"), queue(thread, agent, "Dos")
    assert tasks.deliver_pending_outbound_messages_task.apply().get() == 2


def test_backoff_honours_retry_after() -> None:
    limited = MiraklRateLimited("slow down", call="M12", retry_after=7)
    assert tasks._countdown(0, limited) == 7
    transient = MiraklTransientError("boom", call="M12")
    assert 5 <= tasks._countdown(0, transient) <= 10
    assert 450 <= tasks._countdown(20, transient) <= 900  # capped


def test_outbox_deliver_command(synced, agent, sandbox, sandbox_clients) -> None:
    from io import StringIO

    from django.core.management import call_command

    _, thread = open_incident_thread()
    queue(thread, agent, "Uno")
    out = StringIO()
    call_command("outbox_deliver", stdout=out)
    assert "delivered: 1" in out.getvalue()
    assert not OutboundMessage.objects.exclude(state=OutboundMessage.State.SENT).exists()
