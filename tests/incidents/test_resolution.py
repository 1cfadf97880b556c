"""Marking an incident resolved: the refusals, OR64 to the sandbox, rollback, contest, UI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone, translation

from core.freshness import inbox_stamp_bump
from core.outbox.engine import outbox_deliver
from core.outbox.models import OutboxEntry
from core.sync.runner import marketplace_sync
from incidents.models import AuditEntry, Incident, ResolutionRequest
from incidents.resolution import (
    ResolutionRefused,
    incident_resolve,
    resolution_reason_choices,
)
from messaging.models import Party, Thread
from mirakl.errors import MiraklBadRequest, MiraklTransientError
from sla.models import Notification
from tests.factories.core import MarketplaceReasonFactory, UserFactory
from tests.factories.incidents import IncidentAssignmentFactory, IncidentFactory
from tests.factories.messaging import (
    MessageFactory,
    OutboundMessageFactory,
    ThreadFactory,
    ThreadNoReplyFactory,
)
from tests.messaging import fixtures
from tests.messaging.fixtures import control

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """The services' refusals are asserted in English, whatever ran before (the default
    language is Spanish)."""
    with translation.override("en"):
        yield


agent = fixtures.agent
agent_client = fixtures.agent_client
synced = fixtures.synced

S = Incident.State
A = AuditEntry.Action
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SOLVED = "INC_SOLVED_DELIVERED"


def close_reason(incident, code: str = SOLVED, **fields):
    fields.setdefault("label", "Pedido entregado al cliente")
    fields.setdefault("is_shop_right", True)
    return MarketplaceReasonFactory(
        connection=incident.connection, type="INCIDENT_CLOSE", code=code, **fields
    )


class StubClient:
    """Stands in for the Mirakl client: records OR64 calls, or raises ``error``; OR11
    shows the incident's line in ``line_state``."""

    def __init__(self, error: Exception | None = None, line_state: str = "INCIDENT_OPEN"):
        self.error = error
        self.line_state = line_state
        self.calls: list[tuple[str, str, str | None]] = []

    def resolve_incident(self, order_id, line_id, *, reason_code):
        self.calls.append((order_id, line_id, reason_code))
        if self.error is not None:
            raise self.error

    def list_orders(self, *, order_ids, max):
        from mirakl.schemas import OrderPage

        request = ResolutionRequest.objects.select_related("incident__line").get(
            incident__order__mirakl_id=order_ids[0]
        )
        line = request.incident.line
        return OrderPage.model_validate(
            {
                "orders": [
                    {
                        "order_id": order_ids[0],
                        "order_state": "RECEIVED",
                        "created_date": "2026-11-01T10:00:00Z",
                        "last_updated_date": "2026-11-20T10:00:00Z",
                        "order_lines": [
                            {
                                "order_line_id": line.mirakl_id,
                                "order_line_state": self.line_state,
                                "quantity": 1,
                                "price": "10.00",
                            }
                        ],
                    }
                ],
                "total_count": 1,
            }
        )


def send(incident, client, *, now=None) -> str:
    """One delivery attempt of the incident's last resolution request (its outbox entry)."""
    request = ResolutionRequest.objects.filter(incident=incident).latest("created_at", "pk")
    return outbox_deliver(entry_id=request.delivery_id, client=client, now=now).outcome


def next_attempt(incident):
    request = ResolutionRequest.objects.filter(incident=incident).latest("created_at", "pk")
    return OutboxEntry.objects.get(pk=request.delivery_id).next_attempt_at


# --------------------------------------------------------------------------- reasons


def test_reason_choices_are_the_shops_incident_close_reasons() -> None:
    incident = IncidentFactory()
    close_reason(incident, "B", label="Reembolsado")
    close_reason(incident, "A", label="Entregado", is_shop_right=None)
    close_reason(incident, "OPERATOR", is_shop_right=False)
    MarketplaceReasonFactory(connection=incident.connection, type="INCIDENT_OPEN", code="3")
    other = IncidentFactory()
    close_reason(other, "ELSEWHERE")

    assert resolution_reason_choices(connection=incident.connection) == [
        ("A", "Entregado"),
        ("B", "Reembolsado"),
    ]


# --------------------------------------------------------------------------- refusals


def refused_with(incident, agent, reason: str = SOLVED) -> str:
    before = AuditEntry.objects.count()
    with pytest.raises(ResolutionRefused) as refused:
        incident_resolve(incident=incident, reason_code=reason, actor=agent)
    assert AuditEntry.objects.count() == before  # nothing written
    return " ".join(refused.value.messages)


def test_refused_when_closed_by_the_operator(agent) -> None:
    incident = IncidentFactory(
        state=S.CLOSED, opened_at=T0, closed_at=datetime(2026, 11, 21, 16, 30, tzinfo=UTC)
    )
    close_reason(incident)
    message = refused_with(incident, agent)
    assert "already closed by the operator on 21/11/2026 17:30" in message  # Madrid time
    incident.refresh_from_db()
    assert incident.state == S.CLOSED and incident.resolved_at is None


def test_refused_when_already_awaiting_close(agent) -> None:
    incident = IncidentFactory(state=S.RESOLVED, resolved_at=T0)
    close_reason(incident)
    assert "already marked resolved on 20/11/2026 10:00" in refused_with(incident, agent)


def test_refused_with_a_reason_outside_the_marketplace_list(agent) -> None:
    incident = IncidentFactory()
    close_reason(incident, "OPERATOR_ONLY", is_shop_right=False)
    MarketplaceReasonFactory(connection=incident.connection, type="REFUND", code="15")
    for code in ("OPERATOR_ONLY", "15", "made-up"):
        assert "marketplace's list" in refused_with(incident, agent, code)


def test_refused_while_a_thread_waits_for_the_shop_then_allowed(agent) -> None:
    incident = IncidentFactory(opened_at=timezone.now() - timedelta(days=1))
    close_reason(incident)
    waiting = ThreadFactory(
        connection=incident.connection,
        order=incident.order,
        topic_value="Producto defectuoso",
        shop_reply_needed_since=timezone.now() - timedelta(hours=2),
    )
    last = MessageFactory(
        thread=waiting, author_type=Party.CUSTOMER, date_created=timezone.now() - timedelta(hours=2)
    )
    # A thread of the order that needs nothing does not matter.
    ThreadFactory(connection=incident.connection, order=incident.order, topic_value="Otra")

    message = refused_with(incident, agent)
    assert "“Producto defectuoso” is waiting for a reply from the shop" in message

    # "No reply required" set here after the last message lifts it.
    ThreadNoReplyFactory(thread=waiting, last_message_at=last.date_created)
    incident_resolve(incident=incident, reason_code=SOLVED, actor=agent)
    assert incident.state == S.RESOLVED


def test_a_reply_queued_here_counts_as_answered(agent) -> None:
    incident = IncidentFactory(opened_at=timezone.now() - timedelta(days=1))
    close_reason(incident)
    waiting = ThreadFactory(
        connection=incident.connection,
        order=incident.order,
        shop_reply_needed_since=timezone.now() - timedelta(hours=2),
    )
    MessageFactory(thread=waiting, date_created=timezone.now() - timedelta(hours=2))
    OutboundMessageFactory(thread=waiting, created_by=agent)

    incident_resolve(incident=incident, reason_code=SOLVED, actor=agent)
    assert incident.state == S.RESOLVED


# --------------------------------------------------------------------------- success


@pytest.mark.parametrize("start", [S.NEW, S.IN_PROGRESS, S.CONTESTED])
def test_resolve_stores_who_when_why_and_queues_or64(
    agent, start, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    incident = IncidentFactory(state=start)
    if start == S.CONTESTED:
        incident.resolved_at = T0
        incident.contested_at = T0 + timedelta(hours=1)
        incident.save()
    close_reason(incident)
    queued = []
    monkeypatch.setattr("core.outbox.tasks.outbox_deliver_task.delay", queued.append)
    now = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        entry = incident_resolve(incident=incident, reason_code=SOLVED, actor=agent, now=now)

    incident.refresh_from_db()
    assert (incident.state, incident.resolved_at, incident.resolved_by) == (S.RESOLVED, now, agent)
    assert incident.resolution_reason_code == SOLVED
    assert incident.first_shop_action_at is not None
    assert (entry.action, entry.from_state, entry.to_state) == (
        A.RESOLVE_REQUESTED,
        start,
        S.RESOLVED,
    )
    assert (entry.actor, entry.source, entry.detail) == (
        agent,
        "user",
        "Pedido entregado al cliente",
    )
    assert entry.data == {"reason_code": SOLVED, "previous_state": start}
    request = ResolutionRequest.objects.get(incident=incident)
    assert (request.reason_code, request.requested_by, request.state) == (SOLVED, agent, "queued")
    assert request.previous_state == start
    assert request.delivery.group_key == f"incident:{incident.pk}"
    assert queued == [request.delivery_id]


def test_or64_reaches_the_sandbox_and_the_sync_closes_it(
    synced, sandbox, agent, django_capture_on_commit_callbacks
) -> None:
    waiting = Thread.objects.filter(order=OuterRef("order"), shop_reply_needed_since__isnull=False)
    incident = (
        Incident.objects.filter(closed_at__isnull=True, state__in=(S.NEW, S.IN_PROGRESS))
        .filter(~Exists(waiting))
        .select_related("order", "line")
        .order_by("pk")
        .first()
    )
    assert incident is not None, "the sandbox's shop has an incident with nothing waiting"
    assert SOLVED in dict(resolution_reason_choices(connection=synced))

    with django_capture_on_commit_callbacks(execute=True):
        incident_resolve(incident=incident, reason_code=SOLVED, actor=agent)

    history = control(sandbox, f"incidents?order_id={incident.order.mirakl_id}")["incidents"]
    mine = [h for h in history if h["line_id"] == incident.line.mirakl_id][-1]
    assert mine["resolve_reason"] == SOLVED and mine["resolved_date"]
    assert mine["status"] != "CLOSED"
    assert AuditEntry.objects.filter(incident=incident, action=A.RESOLVE_SENT).exists()

    # The operator has not closed it yet: still awaiting close after a sync.
    marketplace_sync(connection=synced)
    incident.refresh_from_db()
    assert incident.state == S.RESOLVED

    # The operator (the sandbox's auto-close) closes it; the sync sees the line leave.
    control(sandbox, "advance", {"seconds": 3600 * 24 * 10})
    marketplace_sync(connection=synced)
    incident.refresh_from_db()
    assert incident.state == S.CLOSED and incident.closed_at is not None
    closed = AuditEntry.objects.get(incident=incident, action=A.INCIDENT_CLOSED)
    assert (closed.from_state, closed.source) == (S.RESOLVED, "sync")
    assert "already closed by the operator" in refused_with(incident, agent)


def test_contested_by_the_operator_returns_to_the_queue_and_notifies(
    synced, sandbox, agent, django_capture_on_commit_callbacks
) -> None:
    waiting = Thread.objects.filter(order=OuterRef("order"), shop_reply_needed_since__isnull=False)
    incident = (
        Incident.objects.filter(closed_at__isnull=True, state__in=(S.NEW, S.IN_PROGRESS))
        .filter(~Exists(waiting))
        .select_related("order", "line")
        .order_by("-pk")
        .first()
    )
    IncidentAssignmentFactory(incident=incident, assignee=agent)
    with django_capture_on_commit_callbacks(execute=True):
        incident_resolve(incident=incident, reason_code=SOLVED, actor=agent)

    control(
        sandbox,
        "contest",
        {"order_id": incident.order.mirakl_id, "line_id": incident.line.mirakl_id},
    )
    marketplace_sync(connection=synced)

    incident.refresh_from_db()
    assert incident.state == S.CONTESTED and incident.contested_at is not None
    contested = AuditEntry.objects.get(incident=incident, action=A.CONTESTED)
    assert (contested.from_state, contested.to_state, contested.source) == (
        S.RESOLVED,
        S.CONTESTED,
        "sync",
    )
    note = Notification.objects.get(kind=Notification.Kind.CONTESTED, incident=incident)
    assert note.user == agent and incident.order.mirakl_id in note.message

    # The operator's message waits for an answer: resolving again is refused until then.
    assert "is waiting for a reply from the shop" in refused_with(incident, agent)


def test_mirakl_refusal_is_recorded_and_rolled_back(agent) -> None:
    incident = IncidentFactory(state=S.IN_PROGRESS, first_shop_action_at=T0)
    close_reason(incident)
    incident_resolve(incident=incident, reason_code=SOLVED, actor=agent)
    client = StubClient(
        MiraklBadRequest("Reason code is not valid", call="OR64", status=400, body="{}")
    )

    assert send(incident, client) == "refused"

    incident.refresh_from_db()
    assert incident.state == S.IN_PROGRESS
    assert incident.resolved_at is None and incident.resolution_reason_code == ""
    assert incident.first_shop_action_at == T0
    failed = AuditEntry.objects.get(incident=incident, action=A.RESOLVE_FAILED)
    assert (failed.from_state, failed.to_state, failed.source) == (
        S.RESOLVED,
        S.IN_PROGRESS,
        "system",
    )
    assert failed.detail == "Reason code is not valid" and failed.data["status"] == 400
    request = ResolutionRequest.objects.get(incident=incident)
    assert (request.state, request.error_message) == ("refused", "Reason code is not valid")
    # Once refused, nothing is sent again.
    assert send(incident, StubClient()) == "done"


def test_the_rollback_restores_the_state_the_request_kept(agent) -> None:
    """A contested incident marked resolved again goes back to contested, with the first
    resolution's facts, whatever the audit log says."""
    first_by = UserFactory(username="ana")
    incident = IncidentFactory(
        state=S.CONTESTED,
        resolved_at=T0,
        resolved_by=first_by,
        resolution_reason_code="INC_SOLVED_INFO",
        contested_at=T0 + timedelta(hours=1),
    )
    close_reason(incident)
    incident_resolve(incident=incident, reason_code=SOLVED, actor=agent)

    assert send(incident, StubClient(MiraklBadRequest("No", call="OR64", status=400))) == "refused"

    incident.refresh_from_db()
    assert (incident.state, incident.resolved_at, incident.resolved_by) == (
        S.CONTESTED,
        T0,
        first_by,
    )
    assert incident.resolution_reason_code == "INC_SOLVED_INFO"


def test_transient_errors_are_retried_then_given_up(agent) -> None:
    incident = IncidentFactory(state=S.NEW)
    close_reason(incident)
    incident_resolve(incident=incident, reason_code=SOLVED, actor=agent)
    error = MiraklTransientError("timeout", call="OR64")

    assert send(incident, StubClient(error)) == "retry"
    incident.refresh_from_db()
    assert incident.state == S.RESOLVED

    request = ResolutionRequest.objects.get(incident=incident)
    OutboxEntry.objects.filter(pk=request.delivery_id).update(attempts=5)  # the last try
    assert send(incident, StubClient(error), now=next_attempt(incident)) == "failed"
    incident.refresh_from_db()
    assert incident.state == S.NEW and incident.resolved_at is None
    request.refresh_from_db()
    assert request.state == "refused" and request.error_message == "timeout"


def test_an_unknown_outcome_looks_at_the_line_first(agent) -> None:
    incident = IncidentFactory(state=S.NEW)
    close_reason(incident)
    incident_resolve(incident=incident, reason_code=SOLVED, actor=agent)
    lost = MiraklTransientError("502", call="OR64", status=502, outcome_unknown=True)
    assert send(incident, StubClient(lost)) == "retry"

    # Still open: the line cannot tell whether OR64 arrived, so it goes again (a PUT).
    open_line = StubClient()
    assert send(incident, open_line, now=next_attempt(incident)) == "sent"
    assert len(open_line.calls) == 1
    request = ResolutionRequest.objects.get(incident=incident)
    assert request.delivery.evidence["line_state"] == "INCIDENT_OPEN"


def test_an_incident_closed_meanwhile_in_mirakl_is_not_sent_again(agent) -> None:
    incident = IncidentFactory(state=S.NEW)
    close_reason(incident)
    incident_resolve(incident=incident, reason_code=SOLVED, actor=agent)
    send(incident, StubClient(MiraklTransientError("502", call="OR64", outcome_unknown=True)))

    closed = StubClient(line_state="RECEIVED")
    assert send(incident, closed, now=next_attempt(incident)) == "found"
    assert closed.calls == []
    request = ResolutionRequest.objects.get(incident=incident)
    assert request.state == "sent" and request.delivery.evidence["found"] == "RECEIVED"


def test_successful_send_is_audited(agent) -> None:
    incident = IncidentFactory(state=S.NEW)
    close_reason(incident)
    incident_resolve(incident=incident, reason_code=SOLVED, actor=agent)
    client = StubClient()
    assert send(incident, client) == "sent"
    assert client.calls == [(incident.order.mirakl_id, incident.line.mirakl_id, SOLVED)]
    assert AuditEntry.objects.filter(incident=incident, action=A.RESOLVE_SENT).count() == 1
    assert ResolutionRequest.objects.get(incident=incident).state == "sent"


def test_a_resolution_undone_meanwhile_is_not_sent(agent) -> None:
    incident = IncidentFactory(state=S.NEW)
    close_reason(incident)
    incident_resolve(incident=incident, reason_code=SOLVED, actor=agent)
    Incident.objects.filter(pk=incident.pk).update(state=S.CONTESTED)

    assert send(incident, StubClient()) == "skipped"
    assert ResolutionRequest.objects.get(incident=incident).state == "skipped"


def test_the_task_sends_through_the_outbox(agent, monkeypatch) -> None:
    from core.outbox.tasks import outbox_deliver_task

    incident = IncidentFactory(state=S.NEW)
    close_reason(incident)
    incident_resolve(incident=incident, reason_code=SOLVED, actor=agent)
    client = StubClient()
    monkeypatch.setattr("core.clients.client_for", lambda connection: client)
    client.close = lambda: None
    request = ResolutionRequest.objects.get(incident=incident)

    assert outbox_deliver_task.apply(args=[request.delivery_id]).get() == "sent"
    assert client.calls


# --------------------------------------------------------------------------- the page


def page_url(incident) -> str:
    return reverse("desk:incident", args=[incident.pk])


def test_page_shows_the_form_per_open_incident_of_the_order(agent_client) -> None:
    incident = IncidentFactory()
    close_reason(incident)
    second_line = IncidentFactory(
        line__order=incident.order, line__product_title="Ratón inalámbrico"
    )

    html = agent_client.get(page_url(incident)).content.decode()

    assert 'id="resolve"' in html
    for target in (incident, second_line):
        assert reverse("incidents:resolve", args=[target.pk]) in html
    assert "Ratón inalámbrico" in html
    assert "Pedido entregado al cliente" in html  # the reason list
    assert "hx-confirm" in html


def test_mark_resolved_from_the_page(agent_client, agent, django_capture_on_commit_callbacks):
    incident = IncidentFactory()
    close_reason(incident)
    url = reverse("incidents:resolve", args=[incident.pk])

    with django_capture_on_commit_callbacks() as callbacks:
        response = agent_client.post(
            url, {"reason_code": SOLVED, "page": incident.pk}, HTTP_HX_REQUEST="true"
        )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Resolved, awaiting operator close" in html
    assert 'id="history" hx-swap-oob="true"' in html
    assert 'id="incident-status" class="incident-status" hx-swap-oob="true"' in html
    assert "Marked resolved" in html  # the history line
    # OR64 after commit (and the inbox's refresh told something changed).
    assert len([c for c in callbacks if c is not inbox_stamp_bump]) == 1
    incident.refresh_from_db()
    assert incident.state == S.RESOLVED

    page = agent_client.get(page_url(incident)).content.decode()
    assert "Resolved, awaiting operator close" in page
    assert "data-resolution-reason>Pedido entregado al cliente" in page


def test_refusal_is_shown_inline(agent_client) -> None:
    incident = IncidentFactory(
        state=S.CLOSED, closed_at=timezone.now(), opened_at=timezone.now() - timedelta(days=2)
    )
    close_reason(incident)
    url = reverse("incidents:resolve", args=[incident.pk])

    response = agent_client.post(url, {"reason_code": SOLVED}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert "data-refusal" in response.content.decode()
    assert "already closed by the operator" in response.content.decode()
    # Without htmx: 400 with the message.
    response = agent_client.post(url, {"reason_code": SOLVED})
    assert response.status_code == 400
    assert "already closed by the operator" in response.content.decode()


def test_mirakl_refusal_is_visible_on_the_page(agent_client, agent) -> None:
    incident = IncidentFactory()
    close_reason(incident)
    incident_resolve(incident=incident, reason_code=SOLVED, actor=agent)
    send(incident, StubClient(MiraklBadRequest("Order line is not open", call="OR64", status=400)))
    html = agent_client.get(page_url(incident)).content.decode()
    assert "data-resolve-failed" in html and "Order line is not open" in html


def test_a_resolution_in_doubt_is_shown_with_the_check(agent_client, agent) -> None:
    incident = IncidentFactory()
    close_reason(incident)
    incident_resolve(incident=incident, reason_code=SOLVED, actor=agent)
    send(incident, StubClient(MiraklTransientError("HTTP 504", call="OR64", outcome_unknown=True)))

    html = agent_client.get(page_url(incident)).content.decode()

    assert "data-in-doubt" in html and "data-next-check" in html
    assert "Mirakl did not answer the attempt of" in html


def test_the_spanish_header_says_awaiting_operator_close(client, agent, settings) -> None:
    incident = IncidentFactory()
    close_reason(incident)
    incident_resolve(incident=incident, reason_code=SOLVED, actor=agent)
    client.force_login(agent)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    html = client.get(page_url(incident)).content.decode()
    assert "Resuelta, pendiente de cierre del operador" in html


@pytest.mark.parametrize(("role", "status"), [("agent", 200), ("account_manager", 403)])
def test_marking_resolved_needs_the_permission(client, role, status) -> None:
    incident = IncidentFactory()
    close_reason(incident)
    user = UserFactory(role=role)
    client.force_login(user)
    url = reverse("incidents:resolve", args=[incident.pk])

    response = client.post(url, {"reason_code": SOLVED}, HTTP_HX_REQUEST="true")

    assert response.status_code == status
    incident.refresh_from_db()
    assert (incident.state == S.RESOLVED) is (status == 200)
    if role == "account_manager":
        html = client.get(page_url(incident)).content.decode()
        assert reverse("incidents:resolve", args=[incident.pk]) not in html
