"""The messaging services and their outbox adapters (M12, OR43), against the live sandbox.

The engine itself (claim, retries, order, check first) is tested with a fake adapter in
``tests/core``; here: what is posted, to whom, and how ours is told from a colleague's.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.outbox.engine import DeliveryResult, outbox_deliver, outbox_deliver_pending
from core.outbox.models import OutboxEntry
from core.sync.runner import marketplace_sync
from incidents.models import AuditEntry, Incident
from messaging.models import CannedReply, OutboundMessage, Party, Thread, ThreadNoReply
from messaging.services import (
    AttachmentUpload,
    NoReplyNeedsConfirmation,
    canned_reply_render,
    no_reply_confirmation,
    outbound_message_retry,
    outbound_reply_queue,
    outbound_thread_queue,
    thread_no_reply_mark,
)
from mirakl.client import MiraklClient
from mirakl.errors import MiraklTransientError
from mirakl.schemas import Recipient, Topic
from tests.factories.core import MarketplaceReasonFactory, OrderFactory
from tests.messaging.fixtures import control, open_incident_thread

pytestmark = pytest.mark.django_db

State = OutboundMessage.State


def sandbox_messages(sandbox, thread_mirakl_id: str) -> list[dict]:
    return sandbox.state.thread_payload(thread_mirakl_id)["messages"]


def shop_bodies(sandbox, thread_mirakl_id: str) -> list[str]:
    return [
        m["body"]
        for m in sandbox_messages(sandbox, thread_mirakl_id)
        if m["from"]["organization_details"]["type"] == "SHOP"
    ]


def factory_for(client: MiraklClient):
    return lambda connection: client


def deliver(outbound: OutboundMessage, client, *, now=None) -> DeliveryResult:
    """One delivery attempt of the message's outbox entry (``now``: when it happens)."""
    return outbox_deliver(entry_id=outbound.delivery_id, client=client, now=now)


def next_attempt(outbound: OutboundMessage):
    """When the outbox tries the message again (after a backoff, or the check delay)."""
    return OutboxEntry.objects.get(pk=outbound.delivery_id).next_attempt_at


def queue_reply(thread, agent, body: str, choice: str = "CUSTOMER", **kwargs) -> OutboundMessage:
    outbound, created = outbound_reply_queue(
        thread=thread,
        body=body,
        choice=choice,
        user=agent,
        idempotency_key=kwargs.pop("idempotency_key", uuid.uuid4()),
        **kwargs,
    )
    assert created
    return outbound


class PostsThenFails:
    """A client whose M12/OR43 reach Mirakl, then "time out" (outcome unknown)."""

    def __init__(self, client: MiraklClient) -> None:
        self._client = client
        self.posts = 0

    def __getattr__(self, name):
        return getattr(self._client, name)

    def reply_to_thread(self, *args, **kwargs):
        self.posts += 1
        self._client.reply_to_thread(*args, **kwargs)
        raise MiraklTransientError("read timeout", call="M12", outcome_unknown=True)

    def create_order_thread(self, *args, **kwargs):
        self.posts += 1
        self._client.create_order_thread(*args, **kwargs)
        raise MiraklTransientError("HTTP 502", call="OR43", status=502, outcome_unknown=True)


# --------------------------------------------------------------------------- queueing


def test_queue_stores_first_and_delivers_after_commit(
    synced, agent, django_capture_on_commit_callbacks
) -> None:
    incident, thread = open_incident_thread()
    with django_capture_on_commit_callbacks() as callbacks:
        outbound = queue_reply(
            thread, agent, "Hola, te enviamos otra unidad hoy.", incident=incident
        )
    assert outbound.state == State.QUEUED
    assert outbound.recipients == ["CUSTOMER"]
    assert (outbound.delivery.attempts, outbound.delivery.group_key) == (0, f"thread:{thread.pk}")
    assert len(callbacks) == 1  # the delivery task, once the row is committed
    action = AuditEntry.objects.get(incident=incident, action=AuditEntry.Action.REPLY)
    assert (action.order_id, action.source) == (thread.order_id, "user")
    assert action.actor == agent


def test_same_idempotency_key_never_makes_a_second_row(
    synced, agent, django_capture_on_commit_callbacks
) -> None:
    _, thread = open_incident_thread()
    key = uuid.uuid4()
    with django_capture_on_commit_callbacks() as callbacks:
        first, created = outbound_reply_queue(
            thread=thread, body="Hola", choice="CUSTOMER", user=agent, idempotency_key=key
        )
        again, created_again = outbound_reply_queue(
            thread=thread, body="Hola", choice="CUSTOMER", user=agent, idempotency_key=key
        )
    assert created and not created_again
    assert again.pk == first.pk
    assert OutboundMessage.objects.count() == 1
    assert len(callbacks) == 1


def test_customer_choice_needs_a_customer_participant(synced, agent) -> None:
    _, thread = open_incident_thread()
    thread.authorized_participants = [
        p for p in thread.authorized_participants if p["type"] != "CUSTOMER"
    ]
    thread.save()
    with pytest.raises(ValidationError):
        queue_reply(thread, agent, "Hola", choice="BOTH")
    assert not OutboundMessage.objects.exists()


# --------------------------------------------------------------------------- delivery


@pytest.mark.parametrize(
    ("choice", "expected_to"),
    [("CUSTOMER", {"CUSTOMER"}), ("OPERATOR", {"OPERATOR"}), ("BOTH", {"CUSTOMER", "OPERATOR"})],
)
def test_deliver_reply_with_recipients(
    synced, agent, sandbox, sandbox_client, choice, expected_to
) -> None:
    _, thread = open_incident_thread()
    body = f"Hola, respuesta para {choice}."
    outbound = queue_reply(thread, agent, body, choice=choice)

    result = deliver(outbound, sandbox_client)

    outbound.refresh_from_db()
    assert result.outcome == "sent"
    assert outbound.state == State.SENT
    assert outbound.delivery.attempts == 1
    assert not outbound.delivery.in_doubt
    assert outbound.sent_at is not None
    posted = [m for m in sandbox_messages(sandbox, thread.mirakl_id) if m["body"] == body]
    assert len(posted) == 1
    assert posted[0]["id"] == outbound.mirakl_message_id
    assert {r["type"] for r in posted[0]["to"]} == expected_to
    # Delivering again changes nothing.
    assert deliver(outbound, sandbox_client).outcome == "done"
    assert shop_bodies(sandbox, thread.mirakl_id).count(body) == 1


def test_deliver_with_attachments(synced, agent, sandbox, sandbox_client) -> None:
    _, thread = open_incident_thread()
    outbound = queue_reply(
        thread,
        agent,
        "Hola, adjuntamos la factura.",
        attachments=[AttachmentUpload("factura.pdf", "application/pdf", b"%PDF-1.4 factura")],
    )
    deliver(outbound, sandbox_client)
    outbound.refresh_from_db()
    message = next(
        m
        for m in sandbox_messages(sandbox, thread.mirakl_id)
        if m["id"] == outbound.mirakl_message_id
    )
    assert [a["name"] for a in message["attachments"]] == ["factura.pdf"]
    file = sandbox_client.download_attachment(message["attachments"][0]["id"])
    assert file.content == b"%PDF-1.4 factura"


def test_unknown_outcome_is_checked_before_posting_again(
    synced, agent, sandbox, sandbox_client
) -> None:
    _, thread = open_incident_thread()
    body = "Hola, el transportista recogerá el paquete mañana."
    outbound = queue_reply(thread, agent, body)
    flaky = PostsThenFails(sandbox_client)

    assert deliver(outbound, flaky).outcome == "retry"
    outbound.refresh_from_db()
    assert outbound.state == State.QUEUED
    assert outbound.delivery.in_doubt
    assert "read timeout" in outbound.delivery.last_error

    result = deliver(outbound, flaky, now=next_attempt(outbound))

    outbound.refresh_from_db()
    assert result.outcome == "found"
    assert flaky.posts == 1  # never posted twice
    assert outbound.state == State.SENT
    assert shop_bodies(sandbox, thread.mirakl_id).count(body) == 1
    assert outbound.mirakl_message_id in {
        m["id"] for m in sandbox_messages(sandbox, thread.mirakl_id)
    }
    assert outbound.delivery.evidence["found"] == outbound.mirakl_message_id


def test_identical_earlier_text_is_not_taken_for_ours(
    synced, agent, sandbox, sandbox_client
) -> None:
    """The same words sent a minute before by another outbox row are not this one."""
    _, thread = open_incident_thread()
    body = "Gracias por tu paciencia."
    first = queue_reply(thread, agent, body)
    deliver(first, sandbox_client)
    second = queue_reply(thread, agent, body)
    OutboxEntry.objects.filter(pk=second.delivery_id).update(in_doubt=True)

    result = deliver(second, sandbox_client)

    second.refresh_from_db()
    first.refresh_from_db()
    assert result.outcome == "sent"
    assert second.mirakl_message_id != first.mirakl_message_id
    assert shop_bodies(sandbox, thread.mirakl_id).count(body) == 2


@pytest.mark.parametrize(
    ("colleague_body", "colleague_to"),
    [
        ("Hola, soy Luis: te llamo esta tarde para verlo.", ["CUSTOMER"]),  # another text
        ("Hola, te reenviamos la factura.", ["OPERATOR"]),  # our text, another recipient
        ("Hola, te reenviamos la factura.", ["CUSTOMER"]),  # our text, without our file
    ],
    ids=["other-text", "other-recipient", "no-attachment"],
)
def test_a_colleagues_back_office_message_is_not_taken_for_ours(
    synced, agent, sandbox, sandbox_client, colleague_body, colleague_to
) -> None:
    """Our reply's outcome is unknown and it never reached Mirakl; meanwhile a colleague
    writes in the back office. The check must not take that message for ours."""
    _, thread = open_incident_thread()
    body = "Hola, te reenviamos la factura."
    outbound = queue_reply(
        thread,
        agent,
        body,
        attachments=[AttachmentUpload("factura.pdf", "application/pdf", b"%PDF-1.4")],
    )
    control(sandbox, "faults", {"spec": "timeout=1.0,timeout_s=0.2"})
    client = MiraklClient(
        base_url=sandbox.base_url,
        api_key=sandbox_client._api_key,
        timeout=(1.0, 0.1),
        max_retries=0,
        sleep=lambda _: None,
    )
    try:
        assert deliver(outbound, client).outcome == "retry"  # dropped: unknown, not applied
    finally:
        client.close()
        control(sandbox, "faults", {"spec": ""})
    assert OutboxEntry.objects.get(pk=outbound.delivery_id).in_doubt
    control(
        sandbox,
        "messages",
        {
            "thread_id": thread.mirakl_id,
            "party": "SHOP",
            "body": colleague_body,
            "to": colleague_to,
        },
    )

    result = deliver(outbound, sandbox_client, now=next_attempt(outbound))

    assert result.outcome == "sent"  # looked, did not find ours, posted it
    outbound.refresh_from_db()
    evidence = outbound.delivery.evidence
    assert (evidence["call"], evidence["found"], evidence["unit"]) == ("M10", "", "messages")
    assert evidence["seen"] >= 1  # the colleague's message was looked at, and not taken
    ours = [m for m in sandbox_messages(sandbox, thread.mirakl_id) if m["attachments"]]
    assert [m["id"] for m in ours if m["body"] == body] == [outbound.mirakl_message_id]


def test_worker_that_died_while_sending_is_taken_over_after_the_lease(
    synced, agent, sandbox, sandbox_client
) -> None:
    _, thread = open_incident_thread()
    body = "Hola, ya hemos tramitado el reembolso."
    outbound = queue_reply(thread, agent, body, choice="OPERATOR")
    # A worker claimed it, posted it, and died before recording the answer.
    sandbox_client.reply_to_thread(thread.mirakl_id, body=body, to=[Recipient(type="OPERATOR")])
    now = timezone.now()
    OutboxEntry.objects.filter(pk=outbound.delivery_id).update(
        state="sending", attempts=1, last_attempt_at=now, lease_until=now + timedelta(minutes=5)
    )
    assert deliver(outbound, sandbox_client, now=now).outcome == "busy"

    result = deliver(outbound, sandbox_client, now=now + timedelta(minutes=6))

    assert result.outcome == "found"
    assert shop_bodies(sandbox, thread.mirakl_id).count(body) == 1


def test_refusal_is_shown_with_mirakls_message(synced, agent, sandbox_client) -> None:
    _, thread = open_incident_thread()
    outbound = queue_reply(thread, agent, "Hola")
    Thread.objects.filter(pk=thread.pk).update(mirakl_id="no-such-thread")

    result = deliver(outbound, sandbox_client)

    outbound.refresh_from_db()
    assert result.outcome == "refused"
    assert outbound.state == State.FAILED
    last_error = outbound.delivery.last_error
    assert "M12" in last_error and "404" in last_error
    assert "no-such-thread" in last_error  # Mirakl's own words


def test_giving_up_marks_failed_and_retry_queues_again(
    synced, agent, sandbox, sandbox_client, django_capture_on_commit_callbacks
) -> None:
    _, thread = open_incident_thread()
    outbound = queue_reply(thread, agent, "Hola, seguimos con tu caso.")
    OutboxEntry.objects.filter(pk=outbound.delivery_id).update(attempts=12)  # the last try
    control(sandbox, "faults", {"spec": "500=1.0"})
    assert deliver(outbound, sandbox_client).outcome == "failed"
    outbound.refresh_from_db()
    assert outbound.state == State.FAILED
    assert outbound.delivery.in_doubt  # a 500 on a POST: it may have gone out
    assert "500" in outbound.delivery.last_error

    control(sandbox, "faults", {"spec": ""})
    with django_capture_on_commit_callbacks() as callbacks:
        assert outbound_message_retry(outbound=outbound, user=agent)
    assert len(callbacks) == 1
    assert outbound.state == State.QUEUED
    assert not outbound_message_retry(outbound=outbound, user=agent)  # not failed any more
    assert AuditEntry.objects.filter(action=AuditEntry.Action.RETRY).count() == 1
    result = deliver(outbound, sandbox_client)
    assert result.outcome == "sent"  # checked first (in doubt), found nothing, posted
    assert shop_bodies(sandbox, thread.mirakl_id).count("Hola, seguimos con tu caso.") == 1


def test_messages_of_a_thread_go_out_in_order(
    synced, agent, sandbox, sandbox_client, django_capture_on_commit_callbacks
) -> None:
    _, thread = open_incident_thread()
    first = queue_reply(thread, agent, "Primero: hemos recibido tu mensaje.")
    second = queue_reply(thread, agent, "Segundo: te enviamos otra unidad.")

    assert deliver(second, sandbox_client).outcome == "blocked"
    with django_capture_on_commit_callbacks() as callbacks:
        deliver(first, sandbox_client)
    assert len(callbacks) == 1  # hands over to the second one
    deliver(second, sandbox_client)

    bodies = shop_bodies(sandbox, thread.mirakl_id)
    assert bodies.index(first.body) < bodies.index(second.body)


def test_after_an_outage_queued_messages_go_out_oldest_first(
    synced, agent, sandbox, sandbox_client
) -> None:
    _, thread = open_incident_thread()
    other_incident, other_thread = open_incident_thread(last_author=Party.OPERATOR)
    assert other_thread.pk != thread.pk
    bodies = [f"Mensaje {n} tras la caída." for n in range(4)]
    control(sandbox, "faults", {"spec": "500=1.0"})
    for n, body in enumerate(bodies):
        queue_reply(thread if n % 2 == 0 else other_thread, agent, body, choice="OPERATOR")
    down = outbox_deliver_pending(client_factory=factory_for(sandbox_client))
    assert down.delivered == 0
    assert down.retries == 2  # one per thread; the later ones of each thread wait
    assert OutboundMessage.objects.filter(state=State.QUEUED).count() == 4

    control(sandbox, "faults", {"spec": ""})
    up = outbox_deliver_pending(
        client_factory=factory_for(sandbox_client), now=timezone.now() + timedelta(minutes=5)
    )

    assert up.delivered == 4
    assert not OutboundMessage.objects.exclude(state=State.SENT).exists()
    for target in (thread, other_thread):
        sent = [b for b in shop_bodies(sandbox, target.mirakl_id) if b in bodies]
        assert sent == sorted(sent)  # creation order
        assert len(sent) == len(set(sent)) == 2


def test_new_thread_is_delivered_once_even_with_an_unknown_outcome(
    synced, agent, sandbox, sandbox_client
) -> None:
    incident, thread = open_incident_thread()
    order = thread.order
    before = set(sandbox.state.threads_of_order(order.mirakl_id))
    outbound, created = outbound_thread_queue(
        order=order,
        topic_type="REASON_CODE",
        topic_value="21",
        body="Hola, te adjuntamos la factura que nos pediste.",
        choice="CUSTOMER",
        user=agent,
        idempotency_key=uuid.uuid4(),
        incident=incident,
    )
    assert created and outbound.delivery.group_key == f"order:{order.pk}"
    flaky = PostsThenFails(sandbox_client)
    assert deliver(outbound, flaky).outcome == "retry"

    result = deliver(outbound, flaky, now=next_attempt(outbound))

    outbound.refresh_from_db()
    new = set(sandbox.state.threads_of_order(order.mirakl_id)) - before
    assert result.outcome == "found"
    assert flaky.posts == 1
    assert new == {outbound.mirakl_thread_id}
    assert outbound.delivery.evidence["call"] == "M11"
    payload = sandbox.state.thread_payload(outbound.mirakl_thread_id)
    assert payload["topic"] == {"type": "REASON_CODE", "value": "21"}
    assert AuditEntry.objects.filter(incident=incident, action="new_thread").exists()


def test_a_colleagues_conversation_on_the_order_is_not_taken_for_ours(
    synced, agent, sandbox, sandbox_client
) -> None:
    """Another conversation started on the order meanwhile, with our words but another
    subject, is not the one our lost OR43 may have started."""
    incident, thread = open_incident_thread()
    order = thread.order
    body = "Hola, te escribimos por la devolución."
    outbound, _ = outbound_thread_queue(
        order=order,
        topic_type="FREE_TEXT",
        topic_value="Tu devolución",
        body=body,
        choice="CUSTOMER",
        user=agent,
        idempotency_key=uuid.uuid4(),
    )
    OutboxEntry.objects.filter(pk=outbound.delivery_id).update(in_doubt=True)
    sandbox_client.create_order_thread(
        order.mirakl_id,
        body=body,
        to=["CUSTOMER"],
        topic=Topic(type="FREE_TEXT", value="Otra consulta"),
    )

    assert deliver(outbound, sandbox_client).outcome == "sent"
    outbound.refresh_from_db()
    payload = sandbox.state.thread_payload(outbound.mirakl_thread_id)
    assert payload["topic"]["value"] == "Tu devolución"


@pytest.fixture
def english():
    """Messages are compared with their English source strings."""
    from django.utils import translation

    with translation.override("en"):
        yield


def queue_thread(order, agent, topic_type: str, topic_value: str, **kwargs):
    return outbound_thread_queue(
        order=order,
        topic_type=topic_type,
        topic_value=topic_value,
        body="Hola, te escribimos por tu pedido.",
        choice="CUSTOMER",
        user=agent,
        idempotency_key=kwargs.pop("idempotency_key", uuid.uuid4()),
        **kwargs,
    )


@pytest.mark.parametrize(
    ("topic_type", "topic_value"),
    [
        ("REASON_CODE", "29"),  # ORDER_MESSAGING, but the operator's own
        ("REASON_CODE", "17"),  # a REFUND reason
        ("REASON_CODE", "3"),  # an INCIDENT_OPEN reason
        ("REASON_CODE", "999"),  # not in RE01 at all
        ("REASON_CODE", ""),
        ("OTHER", "21"),  # a usable code, but not a topic type OR43 knows
    ],
)
def test_new_thread_topic_outside_the_shop_usable_messaging_reasons_is_refused(
    synced, agent, english, topic_type, topic_value, django_capture_on_commit_callbacks
) -> None:
    MarketplaceReasonFactory(
        connection=synced, type="ORDER_MESSAGING", code="29", is_shop_right=False
    )
    incident, thread = open_incident_thread()

    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(ValidationError) as caught,
    ):
        queue_thread(thread.order, agent, topic_type, topic_value, incident=incident)

    assert caught.value.messages == ["Choose a subject from the marketplace's list."]
    assert caught.value.code == "topic"
    assert callbacks == []
    assert not OutboundMessage.objects.exists()
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.NEW_THREAD).exists()


@pytest.mark.parametrize("code", ["20", "21", "26"])
def test_new_thread_takes_a_shop_usable_messaging_reason(synced, agent, code) -> None:
    incident, thread = open_incident_thread()
    outbound, created = queue_thread(thread.order, agent, "REASON_CODE", code, incident=incident)
    assert created
    assert (outbound.topic_type, outbound.topic_value, outbound.state) == (
        "REASON_CODE",
        code,
        State.QUEUED,
    )


def test_new_thread_topic_follows_the_synced_reasons(synced, agent) -> None:
    from core.models import MarketplaceReason

    incident, thread = open_incident_thread()
    MarketplaceReason.objects.filter(connection=synced, type="ORDER_MESSAGING", code="21").update(
        is_shop_right=False
    )
    with pytest.raises(ValidationError):
        queue_thread(thread.order, agent, "REASON_CODE", "21", incident=incident)
    MarketplaceReason.objects.filter(connection=synced, type="ORDER_MESSAGING", code="21").update(
        is_shop_right=None
    )  # RE01 said nothing: usable, as in the other lists
    assert queue_thread(thread.order, agent, "REASON_CODE", "21", incident=incident)[1]


def test_new_thread_with_a_written_subject(synced, agent, english) -> None:
    incident, thread = open_incident_thread()
    with pytest.raises(ValidationError) as caught:
        queue_thread(thread.order, agent, "FREE_TEXT", "   ", incident=incident)
    assert caught.value.messages == ["Choose a subject or write one."]
    assert not OutboundMessage.objects.exists()

    outbound, created = queue_thread(thread.order, agent, "FREE_TEXT", "Tu factura")
    assert created and outbound.topic_value == "Tu factura"


def test_new_thread_replay_returns_the_stored_message(synced, agent) -> None:
    incident, thread = open_incident_thread()
    key = uuid.uuid4()
    first, _ = queue_thread(thread.order, agent, "REASON_CODE", "21", idempotency_key=key)
    again, created = queue_thread(thread.order, agent, "REASON_CODE", "21", idempotency_key=key)
    assert not created and again.pk == first.pk
    assert OutboundMessage.objects.count() == 1


def test_sync_brings_the_message_back_once(synced, agent, sandbox, sandbox_client) -> None:
    from messaging.selectors import order_conversations

    _, thread = open_incident_thread()
    outbound = queue_reply(thread, agent, "Hola, te confirmamos el reenvío.")

    def items_of(body):
        views = order_conversations(order_id=thread.order_id)
        view = next(v for v in views if v.thread and v.thread.pk == thread.pk)
        return [i for i in view.items if i.body == body]

    pending = items_of(outbound.body)
    assert len(pending) == 1 and pending[0].pending
    deliver(outbound, sandbox_client)
    marketplace_sync(connection=synced, client=sandbox_client)

    synced_items = items_of(outbound.body)
    assert len(synced_items) == 1
    assert not synced_items[0].pending
    assert synced_items[0].outbound.pk == outbound.pk  # "sent from Incidesk by Marta"


# --------------------------------------------------------------------------- no reply, canned


def test_no_reply_mark_stops_the_sla_clock_at_once(synced, agent) -> None:
    from sla.models import SlaItem
    from sla.services import sla_sweep

    incident, thread = open_incident_thread()
    sla_sweep(full=True)
    waits = SlaItem.objects.filter(thread=thread, stopped_at__isnull=True)
    assert waits.exists()

    mark = thread_no_reply_mark(
        thread=thread,
        user=agent,
        reason="El cliente solo da las gracias.",
        incident=incident,
        confirmed=incident.state != Incident.State.RESOLVED,
    )
    sla_sweep()

    assert not SlaItem.objects.filter(thread=thread, stopped_at__isnull=True).exists()
    assert SlaItem.objects.filter(thread=thread, stop_reason="no_reply_needed").exists()
    assert mark.marked_by == agent and mark.last_message_at is not None
    assert AuditEntry.objects.filter(incident=incident, action="no_reply").exists()


def test_N1_no_reply_on_an_unresolved_incident_asks_for_a_confirmation(
    synced, agent, english
) -> None:
    incident, thread = open_incident_thread()
    Incident.objects.filter(pk=incident.pk).update(state=Incident.State.IN_PROGRESS)

    with pytest.raises(NoReplyNeedsConfirmation) as refused:
        thread_no_reply_mark(thread=thread, user=agent, reason="Solo da las gracias")
    assert refused.value.code == "unresolved_incident"
    assert "not resolved" in " ".join(refused.value.messages)
    assert not ThreadNoReply.objects.exists()

    mark = thread_no_reply_mark(
        thread=thread, user=agent, reason="Solo da las gracias", confirmed=True
    )
    assert mark.reason == "Solo da las gracias"


def test_N1_a_resolved_incident_or_no_incident_needs_no_confirmation(synced, agent) -> None:
    incident, thread = open_incident_thread()
    Incident.objects.filter(order_id=thread.order_id, closed_at__isnull=True).update(
        state=Incident.State.RESOLVED
    )
    assert no_reply_confirmation(thread=thread) == ""
    thread_no_reply_mark(thread=thread, user=agent, reason="Caso resuelto, da las gracias")

    Incident.objects.filter(order_id=thread.order_id).update(
        state=Incident.State.CLOSED, closed_at=incident.opened_at
    )
    assert no_reply_confirmation(thread=thread) == ""


def test_no_reply_needs_an_inbound_last_message(synced, agent) -> None:
    _, thread = open_incident_thread(last_author=Party.SHOP)
    with pytest.raises(ValidationError):
        thread_no_reply_mark(thread=thread, user=agent, reason="Nada que responder")
    assert not ThreadNoReply.objects.exists()


def test_canned_reply_render_fills_the_order() -> None:
    order = OrderFactory.build(
        mirakl_id="59400001-A",
        customer_first_name="Lucía",
        shipping_company="SEUR",
        shipping_tracking="SEU123",
    )
    canned = CannedReply(
        title="x", body="Hola {customer_name}: {order_number} va con {carrier} ({tracking}) {otra}."
    )
    assert (
        canned_reply_render(canned=canned, order=order)
        == "Hola Lucía: 59400001-A va con SEUR (SEU123) {otra}."
    )
    order.shipping_tracking = ""
    assert "{tracking}" in canned_reply_render(canned=canned, order=order)


def test_seeded_canned_replies_are_spanish_and_lint_clean(db) -> None:
    from messaging.linter import reply_lint

    canned = list(CannedReply.objects.filter(is_active=True))
    assert len(canned) >= 4
    order = OrderFactory.build(
        mirakl_id="1-A", customer_first_name="Ana", shipping_company="GLS", shipping_tracking="9"
    )
    for reply in canned:
        text = canned_reply_render(canned=reply, order=order)
        assert reply_lint(text, withdrawal="Desistimiento" in reply.title) == [], reply.title
