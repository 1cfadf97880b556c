"""Query budgets of the outbox's deliveries, kept in one baseline file.

``query_counts.json`` holds how many SQL statements one delivery of each kind costs (and
the sweep with nothing due). A change that adds a statement must change the file too,
so the cost of a delivery is a reviewed number, never an accident.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import Exists, OuterRef

from core.outbox.engine import outbox_deliver, outbox_deliver_pending
from core.outbox.models import OutboxEntry
from incidents.models import Incident, ResolutionRequest
from incidents.resolution import incident_resolve
from messaging.models import Thread
from messaging.services import AttachmentUpload, outbound_reply_queue, outbound_thread_queue
from mirakl.errors import MiraklTransientError
from refunds.rules import RefundLineInput
from refunds.services import refund_request_create
from sla.alerts import alerts_dispatch
from sla.models import AlertDelivery
from tests.factories.core import UserFactory
from tests.factories.sla import AlertSettingsFactory, SlaItemFactory
from tests.messaging.fixtures import open_incident_thread
from tests.refunds.conftest import open_incident_order

pytestmark = pytest.mark.django_db

BUDGETS: dict[str, int] = json.loads((Path(__file__).parent / "query_counts.json").read_text())


class LosesAnswers:
    """Wraps a client: its writes reach Mirakl, their answers do not (unknown outcome)."""

    def __init__(self, client) -> None:
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    def reply_to_thread(self, *args, **kwargs):
        self._client.reply_to_thread(*args, **kwargs)
        raise MiraklTransientError("lost", call="M12", outcome_unknown=True)

    def refund(self, *args, **kwargs):
        self._client.refund(*args, **kwargs)
        raise MiraklTransientError("lost", call="OR28", outcome_unknown=True)


def test_the_baseline_names_every_budget() -> None:
    assert set(BUDGETS) == {
        "reply",
        "reply_found_after_unknown_outcome",
        "new_thread",
        "refund",
        "refund_found_after_unknown_outcome",
        "resolution",
        "sla_webhook",
        "sla_email",
        "sweep_nothing_due",
    }


def _reply(agent):
    _, thread = open_incident_thread()
    outbound, _ = outbound_reply_queue(
        thread=thread,
        body="Hola, adjuntamos la etiqueta.",
        choice="CUSTOMER",
        user=agent,
        idempotency_key=uuid.uuid4(),
        attachments=[AttachmentUpload("etiqueta.pdf", "application/pdf", b"%PDF-1.4")],
    )
    return outbound.delivery_id


def _refund(agent):
    order = open_incident_order()
    line = order.lines.order_by("index", "pk").first()
    request, _ = refund_request_create(
        order=order,
        lines=[RefundLineInput(line_id=line.pk, quantity=0, amount=Decimal("2.00"))],
        reason_code="17",
        actor=agent,
        idempotency_key="budget",
        kind="partial",
    )
    return request.delivery_id


def test_reply(synced, agent, sandbox_client, django_assert_num_queries) -> None:
    entry_id = _reply(agent)
    with django_assert_num_queries(BUDGETS["reply"]):
        assert outbox_deliver(entry_id=entry_id, client=sandbox_client).outcome == "sent"


def test_reply_found_after_an_unknown_outcome(
    synced, agent, sandbox_client, django_assert_num_queries
) -> None:
    entry_id = _reply(agent)
    outbox_deliver(entry_id=entry_id, client=LosesAnswers(sandbox_client))
    later = OutboxEntry.objects.get(pk=entry_id).next_attempt_at
    with django_assert_num_queries(BUDGETS["reply_found_after_unknown_outcome"]):
        result = outbox_deliver(entry_id=entry_id, client=sandbox_client, now=later)
    assert result.outcome == "found"


def test_new_thread(synced, agent, sandbox_client, django_assert_num_queries) -> None:
    incident, thread = open_incident_thread()
    outbound, _ = outbound_thread_queue(
        order=thread.order,
        topic_type="REASON_CODE",
        topic_value="21",
        body="Hola, te escribimos por tu pedido.",
        choice="CUSTOMER",
        user=agent,
        idempotency_key=uuid.uuid4(),
        incident=incident,
    )
    with django_assert_num_queries(BUDGETS["new_thread"]):
        assert outbox_deliver(entry_id=outbound.delivery_id, client=sandbox_client).outcome == (
            "sent"
        )


def test_refund(synced, agent, sandbox_client, django_assert_num_queries) -> None:
    entry_id = _refund(agent)
    with django_assert_num_queries(BUDGETS["refund"]):
        assert outbox_deliver(entry_id=entry_id, client=sandbox_client).outcome == "sent"


def test_refund_found_after_an_unknown_outcome(
    synced, agent, sandbox_client, django_assert_num_queries
) -> None:
    entry_id = _refund(agent)
    outbox_deliver(entry_id=entry_id, client=LosesAnswers(sandbox_client))
    later = OutboxEntry.objects.get(pk=entry_id).next_attempt_at
    with django_assert_num_queries(BUDGETS["refund_found_after_unknown_outcome"]):
        result = outbox_deliver(entry_id=entry_id, client=sandbox_client, now=later)
    assert result.outcome == "found"


def test_resolution(synced, agent, sandbox_client, django_assert_num_queries) -> None:
    waiting = Thread.objects.filter(order=OuterRef("order"), shop_reply_needed_since__isnull=False)
    incident = (
        Incident.objects.filter(closed_at__isnull=True, state__in=("new", "in_progress"))
        .filter(~Exists(waiting))
        .order_by("pk")
        .first()
    )
    incident_resolve(incident=incident, reason_code="INC_SOLVED_DELIVERED", actor=agent)
    entry_id = ResolutionRequest.objects.get(incident=incident).delivery_id
    with django_assert_num_queries(BUDGETS["resolution"]):
        assert outbox_deliver(entry_id=entry_id, client=sandbox_client).outcome == "sent"


@pytest.mark.parametrize("channel", ["sla_webhook", "sla_email"])
def test_alerts(db, channel, django_assert_num_queries, settings) -> None:
    import responses

    settings.LANGUAGE_CODE = "en"
    hook = "https://hooks.slack.example/services/T000/B000/XXX"
    UserFactory(username="ana", role="agent")
    item = SlaItemFactory(state="breached")
    AlertSettingsFactory(connection=item.connection, webhook_url=hook)
    alerts_dispatch(changes=[(item.pk, "breached")])
    alert = AlertDelivery.objects.get(channel=channel.removeprefix("sla_"))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as hooks:
        hooks.post(hook, json={"ok": True})
        with django_assert_num_queries(BUDGETS[channel]):
            assert outbox_deliver(entry_id=alert.delivery_id).outcome == "sent"


def test_a_sweep_with_nothing_due(db, django_assert_num_queries) -> None:
    with django_assert_num_queries(BUDGETS["sweep_nothing_due"]):
        assert outbox_deliver_pending().outcomes == {}
