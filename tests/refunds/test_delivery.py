"""Sending refund requests to the Mirakl sandbox (OR28): once, and only once.

Each test syncs the sandbox shop, asks for a refund through the service, delivers its
outbox entry like the worker does (:mod:`refunds.outbox`), and syncs again to see what
Mirakl made of it.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import responses
from django.utils import timezone, translation

from core.outbox.engine import DeliveryResult, outbox_deliver, outbox_deliver_pending
from core.outbox.kinds import OutboxKind
from core.outbox.models import OutboxEntry
from core.outbox.tasks import outbox_deliver_pending_task, outbox_deliver_task
from core.sync.runner import marketplace_sync
from incidents.models import AuditEntry, Incident
from messaging.models import OutboundMessage
from messaging.services import outbound_reply_queue
from mirakl.client import MiraklClient
from mirakl.errors import MiraklTransientError
from mirakl.sandbox.refunds import INSUFFICIENT_BALANCE
from refunds.delivery import refund_requests_confirm
from refunds.models import Refund, RefundRequest
from refunds.rules import RefundLineInput, refund_remainders
from refunds.services import refund_request_approve, refund_request_create
from tests.conftest import SANDBOX_KEY
from tests.factories.refunds import RefundLimitFactory, RefundRequestFactory
from tests.messaging.fixtures import open_incident_thread
from tests.refunds.conftest import REASON, open_incident_order

pytestmark = pytest.mark.django_db

State = RefundRequest.State
D = Decimal


def partial(
    order, amount: Decimal, *, agent, key: str = "k-partial", quantity: int = 0
) -> RefundRequest:
    """A partial refund of ``amount`` on the order's first line (a price adjustment)."""
    line = order.lines.order_by("index", "pk").first()
    request, _ = refund_request_create(
        order=order,
        lines=[RefundLineInput(line_id=line.pk, quantity=quantity, amount=amount)],
        reason_code=REASON,
        actor=agent,
        idempotency_key=key,
        kind="partial",
    )
    return request


def deliver(request: RefundRequest, client, *, now=None) -> DeliveryResult:
    """One delivery attempt of the request's outbox entry (``now``: when it happens)."""
    return outbox_deliver(entry_id=request.delivery_id, client=client, now=now)


def next_attempt(request: RefundRequest):
    return OutboxEntry.objects.get(pk=request.delivery_id).next_attempt_at


def sandbox_refunds(sandbox, order) -> list:
    sandbox_order = sandbox.state.orders[order.mirakl_id]
    return [refund for line in sandbox_order.lines for refund in line.refunds]


class LosesAnswer(MiraklClient):
    """Mirakl applies the first OR28, but its answer never arrives (read timeout)."""

    lost = 0

    def refund(self, *args, **kwargs):
        result = super().refund(*args, **kwargs)
        if not self.lost:
            self.lost += 1
            raise MiraklTransientError("Read timed out", call="OR28", outcome_unknown=True)
        return result


def test_partial_refund_is_sent_confirmed_and_leaves_the_incident_open(
    synced, sandbox, sandbox_client, agent
) -> None:
    order = open_incident_order()
    request = partial(order, D("5.00"), agent=agent, quantity=1)

    result = deliver(request, sandbox_client)

    assert result.outcome == "sent"
    request.refresh_from_db()
    assert request.state == State.SENT and request.sent_at is not None
    line = request.lines.get()
    [refund] = sandbox_refunds(sandbox, order)
    assert line.mirakl_refund_id == refund.refund_id
    assert refund.amount == D("5.00") and refund.reason_code == REASON
    sent = AuditEntry.objects.get(action=AuditEntry.Action.REFUND_SENT)
    assert sent.data["mirakl_refund_ids"] == {str(line.pk): refund.refund_id}

    marketplace_sync(connection=synced, client=sandbox_client)

    request.refresh_from_db()
    assert request.state == State.CONFIRMED and request.confirmed_at is not None
    assert AuditEntry.objects.filter(action=AuditEntry.Action.REFUND_CONFIRMED).count() == 1
    assert Refund.objects.filter(mirakl_id=refund.refund_id).exists()
    # Counted once: the synced refund, not the request as well.
    rest = refund_remainders(order=order)[line.line_id]
    assert rest.refunded_amount == D("5.00") and not rest.pending
    assert Incident.objects.filter(order=order, closed_at__isnull=True).exists()


def test_full_refund_closes_the_incident_after_the_next_sync(
    synced, sandbox, sandbox_client, agent
) -> None:
    order = open_incident_order()
    RefundLimitFactory(user=agent, limit=None)
    request, _ = refund_request_create(
        order=order, lines=[], reason_code=REASON, actor=agent, idempotency_key="full", kind="full"
    )
    assert request.lines.count() == order.lines.count()

    assert deliver(request, sandbox_client).outcome == ("sent")
    marketplace_sync(connection=synced, client=sandbox_client)

    request.refresh_from_db()
    assert request.state == State.CONFIRMED
    assert not Incident.objects.filter(order=order, closed_at__isnull=True).exists()
    incident = Incident.objects.filter(order=order).latest("opened_at")
    assert incident.state == Incident.State.CLOSED
    assert all(rest.is_empty for rest in refund_remainders(order=order).values())


def test_redelivering_a_sent_or_confirmed_request_sends_nothing(
    synced, sandbox, sandbox_client, agent
) -> None:
    order = open_incident_order()
    request = partial(order, D("4.00"), agent=agent)
    assert deliver(request, sandbox_client).outcome == "sent"
    assert sandbox.state.stats["OR28"] == 1

    # The task delivered twice (a broker redelivery after acks_late, a duplicate enqueue).
    assert deliver(request, sandbox_client).outcome == "done"
    assert outbox_deliver_task.apply(args=[request.delivery_id]).get() == "done"
    request.refresh_from_db()
    assert (request.state, request.delivery.attempts) == (State.SENT, 1)

    marketplace_sync(connection=synced, client=sandbox_client)
    request.refresh_from_db()
    assert request.state == State.CONFIRMED
    assert deliver(request, sandbox_client).outcome == "done"
    assert outbox_deliver_task.apply(args=[request.delivery_id]).get() == "done"

    assert sandbox.state.stats["OR28"] == 1
    assert len(sandbox_refunds(sandbox, order)) == 1
    request.refresh_from_db()
    assert (request.state, request.delivery.attempts) == (State.CONFIRMED, 1)
    assert AuditEntry.objects.filter(action=AuditEntry.Action.REFUND_SENT).count() == 1


def test_unknown_outcome_is_checked_before_sending_again(
    synced, sandbox, sandbox_client, agent
) -> None:
    order = open_incident_order()
    request = partial(order, D("7.50"), agent=agent)
    client = LosesAnswer(
        base_url=sandbox.base_url, api_key=SANDBOX_KEY, timeout=(2.0, 5.0), sleep=lambda _: None
    )
    try:
        assert deliver(request, client).outcome == "retry"
        request.refresh_from_db()
        assert request.state == State.IN_DOUBT
        assert request.error_message == "Read timed out"
        assert AuditEntry.objects.filter(action=AuditEntry.Action.REFUND_IN_DOUBT).exists()
        # Still counted while in doubt: nobody can refund it again meanwhile.
        assert refund_remainders(order=order)[request.lines.get().line_id].pending

        result = deliver(request, client, now=next_attempt(request))
    finally:
        client.close()

    assert result.outcome == "found"
    [refund] = sandbox_refunds(sandbox, order)  # one refund, not two
    request.refresh_from_db()
    assert request.state == State.SENT
    assert request.lines.get().mirakl_refund_id == refund.refund_id
    assert request.delivery.evidence["found"] == refund.refund_id
    assert client.lost == 1


def test_unknown_outcome_that_never_reached_mirakl_is_sent_again(
    synced, sandbox, sandbox_client, agent
) -> None:
    order = open_incident_order()
    request = partial(order, D("3.00"), agent=agent)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add(responses.PUT, f"{sandbox.base_url}/api/orders/refund", status=502)
        assert deliver(request, sandbox_client).outcome == "retry"
    request.refresh_from_db()
    assert request.state == State.IN_DOUBT

    result = deliver(request, sandbox_client, now=next_attempt(request))

    assert result.outcome == "sent"
    assert len(sandbox_refunds(sandbox, order)) == 1
    request.refresh_from_db()
    evidence = request.delivery.evidence
    assert (evidence["call"], evidence["found"], evidence["unit"]) == ("OR11", "", "refunds")


def test_refusal_is_stored_with_mirakls_message_and_refunds_nothing(
    synced, sandbox, sandbox_client, agent
) -> None:
    order = open_incident_order()
    sandbox.state.payable_balance = D("1.00")
    request = partial(order, D("5.00"), agent=agent)
    line_pk = request.lines.get().line_id
    before = refund_remainders(order=order)[line_pk]

    result = deliver(request, sandbox_client)

    assert result.outcome == "refused"
    request.refresh_from_db()
    assert request.state == State.REFUSED
    assert request.error_message == INSUFFICIENT_BALANCE
    entry = AuditEntry.objects.get(action=AuditEntry.Action.REFUND_REFUSED)
    assert entry.data["error"] == INSUFFICIENT_BALANCE
    assert sandbox_refunds(sandbox, order) == []
    after = refund_remainders(order=order)[line_pk]
    assert after.amount == before.amount + D("5.00") and not after.pending
    # Delivering it again does nothing.
    assert deliver(request, sandbox_client).outcome == "done"
    # The desk shows it in words with the guide's advice, never Mirakl's English.
    assert request.refused_for_balance
    with translation.override("es"):
        text = request.refusal_text
    assert "saldo pagadero suficiente" in text and "Account Manager" in text
    assert INSUFFICIENT_BALANCE not in text


def test_rate_limit_leaves_it_queued(synced, sandbox, sandbox_client, agent) -> None:
    order = open_incident_order()
    request = partial(order, D("2.00"), agent=agent)
    sandbox_client.max_retries = 0
    with responses.RequestsMock() as mock:
        mock.add(
            responses.PUT,
            f"{sandbox.base_url}/api/orders/refund",
            status=429,
            headers={"Retry-After": "30"},
        )
        result = deliver(request, sandbox_client)
    assert (result.outcome, result.retry_in) == ("retry", 30)
    request.refresh_from_db()
    assert request.state == State.QUEUED and request.delivery.attempts == 1
    assert not request.delivery.in_doubt  # a 429 was not processed


def test_approved_request_is_sent_by_the_task(synced, sandbox, agent, approver) -> None:
    order = open_incident_order()
    RefundLimitFactory(user=agent, limit=D("1.00"))
    request = partial(order, D("4.00"), agent=agent)
    assert request.state == State.AWAITING_APPROVAL
    assert request.delivery is None  # nothing to send before the approval

    refund_request_approve(refund_request=request, approver=approver)

    assert request.delivery.group_key == f"order:{order.pk}"
    assert outbox_deliver_task.apply(args=[request.delivery_id]).get() == "sent"
    request.refresh_from_db()
    assert request.state == State.SENT
    assert len(sandbox_refunds(sandbox, order)) == 1


def test_task_is_enqueued_after_commit(shop, agent, django_capture_on_commit_callbacks) -> None:
    from unittest import mock

    with (
        mock.patch.object(outbox_deliver_task, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        request, _ = refund_request_create(
            order=shop["order"],
            lines=[RefundLineInput(line_id=shop["line1"].pk, quantity=1, amount=D("1.00"))],
            reason_code=REASON,
            actor=agent,
            idempotency_key="k",
            kind="partial",
        )
    delay.assert_called_once_with(request.delivery_id)


def test_pending_sweep_sends_leftovers_oldest_first(synced, sandbox, agent) -> None:
    order = open_incident_order()
    first = partial(order, D("1.00"), agent=agent, key="a")
    second = partial(order, D("2.00"), agent=agent, key="b")
    young = partial(open_incident_order(lines=1), D("1.00"), agent=agent, key="c")
    OutboxEntry.objects.filter(pk=young.delivery_id).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)  # in a backoff
    )

    assert outbox_deliver_pending_task.apply().get() == 2

    states = dict(RefundRequest.objects.values_list("pk", "state"))
    assert states == {first.pk: State.SENT, second.pk: State.SENT, young.pk: State.QUEUED}
    amounts = [r.amount for r in sandbox_refunds(sandbox, order)]
    assert amounts == [D("1.00"), D("2.00")]


def test_a_newer_request_of_the_order_waits_for_an_older_one(synced, sandbox_client, agent) -> None:
    order = open_incident_order()
    older = partial(order, D("1.00"), agent=agent, key="a")
    newer = partial(order, D("2.00"), agent=agent, key="b")
    assert deliver(newer, sandbox_client).outcome == ("blocked")
    assert deliver(older, sandbox_client).outcome == ("sent")


def test_dead_worker_lease_is_taken_over_after_a_check(synced, sandbox, sandbox_client, agent):
    order = open_incident_order()
    request = partial(order, D("1.00"), agent=agent)
    now = timezone.now()
    RefundRequest.objects.filter(pk=request.pk).update(state=State.SENDING)
    OutboxEntry.objects.filter(pk=request.delivery_id).update(
        state="sending", attempts=1, last_attempt_at=now, lease_until=now + timedelta(minutes=5)
    )
    assert deliver(request, sandbox_client).outcome == "busy"
    result = outbox_deliver_pending(
        client_factory=lambda connection: sandbox_client, now=now + timedelta(minutes=6)
    )
    assert result.outcomes == {"sent": 1}  # checked first (not there), then sent
    assert len(sandbox_refunds(sandbox, order)) == 1


def test_confirmation_costs_one_query_when_nothing_is_ours(shop, django_assert_num_queries) -> None:
    RefundRequestFactory(order=shop["order"], state=State.SENT)
    with django_assert_num_queries(1):
        assert refund_requests_confirm(connection=shop["connection"], mirakl_refund_ids={"1"}) == 0
    with django_assert_num_queries(0):
        assert refund_requests_confirm(connection=shop["connection"], mirakl_refund_ids=set()) == 0


class ForgetsIds(MiraklClient):
    """Mirakl applies OR28 but answers without the refund ids (an empty 200)."""

    def refund(self, *args, **kwargs):
        from mirakl.schemas import RefundResult

        super().refund(*args, **kwargs)
        return RefundResult()


def test_refund_ids_missing_from_the_answer_are_read_from_the_order(synced, sandbox, agent) -> None:
    order = open_incident_order()
    request = partial(order, D("2.50"), agent=agent)
    client = ForgetsIds(base_url=sandbox.base_url, api_key=SANDBOX_KEY, sleep=lambda _: None)
    try:
        assert deliver(request, client).outcome == "sent"
    finally:
        client.close()
    [refund] = sandbox_refunds(sandbox, order)
    assert request.lines.get().mirakl_refund_id == refund.refund_id


def test_refunds_deliver_command(synced, sandbox, agent) -> None:
    from io import StringIO

    from django.core.management import call_command

    order = open_incident_order()
    partial(order, D("1.00"), agent=agent)
    _, thread = open_incident_thread()
    outbound_reply_queue(
        thread=thread, body="Hola", choice="CUSTOMER", user=agent, idempotency_key=uuid.uuid4()
    )
    out = StringIO()
    call_command("refunds_deliver", stdout=out)  # outbox_deliver --kind refund
    assert "sent: 1" in out.getvalue() and "delivered: 1" in out.getvalue()
    assert OutboundMessage.objects.get().state == OutboundMessage.State.QUEUED


def test_sweep_confirms_sent_requests_whose_refund_was_synced_first(shop) -> None:
    from tests.factories.refunds import RefundFactory, RefundRequestLineFactory

    line = RefundRequestLineFactory(
        request__order=shop["order"],
        request__state=State.SENT,
        line=shop["line1"],
        mirakl_refund_id="900",
    )
    other = RefundRequestLineFactory(
        request__order=shop["order"],
        request__state=State.SENT,
        line=shop["line2"],
        mirakl_refund_id="901",
    )
    RefundFactory(line=shop["line1"], mirakl_id="900")

    outbox_deliver_pending(kind=OutboxKind.REFUND)  # a sweep confirms them first

    line.request.refresh_from_db()
    other.request.refresh_from_db()
    assert (line.request.state, other.request.state) == (State.CONFIRMED, State.SENT)
    assert (
        AuditEntry.objects.get(action=AuditEntry.Action.REFUND_CONFIRMED).data["refund_request"]
        == line.request.pk
    )


def test_a_run_of_the_orders_reads_the_awaited_refund_ids_once(
    shop, django_assert_num_queries
) -> None:
    """Pages whose refunds no sent request awaits cost their upsert only; the page that
    brings an awaited one confirms its request."""
    from types import SimpleNamespace

    from core.sync.registry import StoredOrder
    from refunds.sync import LineRefunds, refunds_awaited_once
    from tests.factories.refunds import RefundRequestLineFactory

    awaited = RefundRequestLineFactory(
        request__order=shop["order"],
        request__state=State.SENT,
        line=shop["line1"],
        mirakl_refund_id="900",
    )
    handler = LineRefunds()
    connection, line = shop["connection"], shop["line1"]

    def page(refund_id: str) -> None:
        row = {
            "line_id": None,
            "mirakl_id": refund_id,
            "amount": D("1.00"),
            "shipping_amount": D("0.00"),
            "quantity": 1,
            "reason_code": REASON,
            "state": "REFUNDED",
            "taxes": [],
            "shipping_taxes": [],
            "created_date": timezone.now(),
        }
        stored = StoredOrder(
            order=SimpleNamespace(order_id=shop["order"].mirakl_id),
            pk=shop["order"].pk,
            lines=[(SimpleNamespace(order_line_id=line.mirakl_id), line.pk)],
            prepared={"refunds": {line.mirakl_id: [row]}},
        )
        handler.store(connection=connection, orders=[stored], known=set(), now=timezone.now())

    with refunds_awaited_once(connection, "orders"):
        with django_assert_num_queries(2):  # the upsert, and the awaited ids
            page("1")
        with django_assert_num_queries(1):  # the upsert only
            page("2")
        page("900")
    awaited.request.refresh_from_db()
    assert awaited.request.state == State.CONFIRMED

    with refunds_awaited_once(connection, "threads"), django_assert_num_queries(2):
        page("3")  # not a run of the orders: the page asks, as outside a run
