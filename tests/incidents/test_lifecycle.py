"""The incident lifecycle: derived states and allowed transitions."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.lifecycle import (
    ALLOWED_TRANSITIONS,
    ROLLBACK_TRANSITIONS,
    IncidentFacts,
    InvalidTransition,
    derive_state,
    incident_transition,
    incidents_refresh,
)
from incidents.models import AuditEntry, Incident
from messaging.models import Party
from tests.factories.core import UserFactory
from tests.factories.incidents import IncidentAssignmentFactory, IncidentFactory
from tests.factories.messaging import MessageFactory, ThreadFactory
from tests.factories.refunds import RefundFactory

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)
S = Incident.State


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (IncidentFacts(line_open=False), S.CLOSED),
        (IncidentFacts(line_open=False, resolved_at=T0), S.CLOSED),
        (IncidentFacts(line_open=True), S.NEW),
        (IncidentFacts(line_open=True, first_shop_action_at=T0), S.IN_PROGRESS),
        (IncidentFacts(line_open=True, first_shop_action_at=T0, resolved_at=T0 + H), S.RESOLVED),
        (IncidentFacts(line_open=True, resolved_at=T0), S.RESOLVED),
        (
            IncidentFacts(line_open=True, resolved_at=T0, contested_at=T0 + H),
            S.CONTESTED,
        ),
        # Marked resolved again after the contest: back to awaiting close.
        (
            IncidentFacts(line_open=True, resolved_at=T0 + 2 * H, contested_at=T0 + H),
            S.RESOLVED,
        ),
    ],
)
def test_derive_state(facts: IncidentFacts, expected: str) -> None:
    assert derive_state(facts) == expected


def test_closed_is_final() -> None:
    assert ALLOWED_TRANSITIONS[S.CLOSED] == frozenset()
    for state, targets in ALLOWED_TRANSITIONS.items():
        if state != S.CLOSED:
            assert S.CLOSED in targets


#: Every allowed pair, with the audit action it records.
ALLOWED = [
    (S.NEW, S.IN_PROGRESS, "state_changed"),
    (S.NEW, S.RESOLVED, "state_changed"),
    (S.NEW, S.CLOSED, "incident_closed"),
    # A resolution made in Mirakl's back office, contested before the first sync.
    (S.NEW, S.CONTESTED, "contested"),
    (S.IN_PROGRESS, S.RESOLVED, "state_changed"),
    (S.IN_PROGRESS, S.CONTESTED, "contested"),
    (S.IN_PROGRESS, S.CLOSED, "incident_closed"),
    (S.RESOLVED, S.CONTESTED, "contested"),
    (S.RESOLVED, S.CLOSED, "incident_closed"),
    (S.CONTESTED, S.RESOLVED, "state_changed"),
    (S.CONTESTED, S.CLOSED, "incident_closed"),
]
FORBIDDEN = [
    (start, to)
    for start in S.values
    for to in S.values
    if (start, to) not in {(a, b) for a, b, _ in ALLOWED}
]


def test_the_tables_cover_every_pair() -> None:
    assert len(ALLOWED) + len(FORBIDDEN) == len(S.values) ** 2
    assert {(a, b) for a, b, _ in ALLOWED} == {
        (a, b) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("start", "to", "action"), ALLOWED)
def test_allowed_transition_records_who_when_why(start: str, to: str, action: str) -> None:
    incident = IncidentFactory(state=start)
    user = UserFactory(first_name="Marta", last_name="Ruiz")
    at = T0 + H

    entry = incident_transition(
        incident=incident, to=to, source="user", actor=user, detail="llamada", at=at
    )

    incident.refresh_from_db()
    assert incident.state == to
    stored = AuditEntry.objects.get(incident=incident)
    assert stored.pk == entry.pk
    assert (stored.action, stored.from_state, stored.to_state) == (action, start, to)
    assert (stored.source, stored.actor, stored.actor_name) == ("user", user, "Marta Ruiz")
    assert (stored.detail, stored.at) == ("llamada", at)
    assert (stored.order_id, stored.connection_id) == (incident.order_id, incident.connection_id)


@pytest.mark.django_db
@pytest.mark.parametrize(("start", "to"), FORBIDDEN)
def test_forbidden_transition_raises_and_changes_nothing(start: str, to: str) -> None:
    incident = IncidentFactory(state=start)
    with pytest.raises(InvalidTransition) as raised:
        incident_transition(incident=incident, to=to, source="user")
    assert raised.value.user_message  # what the views and the API show
    incident.refresh_from_db()
    assert incident.state == start
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("to", [S.NEW, S.IN_PROGRESS, S.CONTESTED])
def test_rollback_undoes_a_refused_resolution_only(to: str) -> None:
    incident = IncidentFactory(state=S.RESOLVED)
    entry = incident_transition(
        incident=incident, to=to, source="system", action="resolve_failed", rollback=True
    )
    assert (entry.action, entry.from_state, entry.to_state) == ("resolve_failed", S.RESOLVED, to)
    assert ROLLBACK_TRANSITIONS[S.RESOLVED] == {S.NEW, S.IN_PROGRESS, S.CONTESTED}
    other = IncidentFactory(state=S.IN_PROGRESS)
    with pytest.raises(InvalidTransition):
        incident_transition(incident=other, to=S.NEW, source="system", rollback=True)


@pytest.mark.django_db
def test_unsaved_transition_for_bulk_callers() -> None:
    incident = IncidentFactory(state=S.NEW)
    entry = incident_transition(incident=incident, to=S.CLOSED, source="sync", save=False)
    assert entry.pk is None and entry.action == "incident_closed"
    assert incident.state == S.CLOSED
    incident.refresh_from_db()
    assert incident.state == S.NEW
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_refresh_shop_message_after_opening_means_in_progress() -> None:
    incident = IncidentFactory(opened_at=T0)
    thread = ThreadFactory(order=incident.order, connection=incident.connection)
    MessageFactory(thread=thread, author_type=Party.CUSTOMER, date_created=T0 + H)
    assert incidents_refresh(order_ids=[incident.order_id]) == 0
    MessageFactory(thread=thread, author_type=Party.SHOP, date_created=T0 + 2 * H)

    assert incidents_refresh(order_ids=[incident.order_id]) == 1
    incident.refresh_from_db()
    assert incident.state == S.IN_PROGRESS
    assert incident.first_shop_action_at == T0 + 2 * H
    entry = incident.audit_entries.get()
    assert (entry.action, entry.source, entry.from_state, entry.to_state) == (
        "state_changed",
        "sync",
        S.NEW,
        S.IN_PROGRESS,
    )
    # Nothing new: nothing written.
    assert incidents_refresh(order_ids=[incident.order_id]) == 0


@pytest.mark.django_db
def test_refresh_ignores_shop_messages_before_the_incident() -> None:
    incident = IncidentFactory(opened_at=T0)
    thread = ThreadFactory(order=incident.order, connection=incident.connection)
    MessageFactory(thread=thread, author_type=Party.SHOP, date_created=T0 - H)
    incidents_refresh(order_ids=[incident.order_id])
    incident.refresh_from_db()
    assert incident.state == S.NEW


@pytest.mark.django_db
def test_refresh_reads_each_witness_once_however_many_incidents(
    django_assert_max_num_queries,
) -> None:
    """One read of the messages and one of the refunds for all the incidents, never a
    read (or a subquery) per incident: the cost must not hang on table statistics."""

    def busy_incident(hour: int) -> Incident:
        incident = IncidentFactory(opened_at=T0)
        thread = ThreadFactory(order=incident.order, connection=incident.connection)
        MessageFactory(thread=thread, author_type=Party.SHOP, date_created=T0 + hour * H)
        RefundFactory(line=incident.line, created_date=T0 + 2 * hour * H)
        return incident

    one = busy_incident(1)
    with CaptureQueriesContext(connection) as alone:
        assert incidents_refresh(order_ids=[one.order_id]) == 1
    many = [busy_incident(hour) for hour in range(2, 8)]
    with django_assert_max_num_queries(len(alone.captured_queries)):
        assert incidents_refresh(order_ids=[i.order_id for i in many]) == len(many)
    for hour, incident in enumerate(many, start=2):
        incident.refresh_from_db()
        assert (incident.state, incident.first_shop_action_at) == (S.IN_PROGRESS, T0 + hour * H)


@pytest.mark.django_db
def test_refresh_refund_counts_as_shop_action() -> None:
    incident = IncidentFactory(opened_at=T0)
    RefundFactory(line=incident.line, created_date=T0 + H)
    incidents_refresh(order_ids=[incident.order_id])
    incident.refresh_from_db()
    assert incident.state == S.IN_PROGRESS


@pytest.mark.django_db
def test_refresh_operator_message_after_resolution_means_contested() -> None:
    incident = IncidentFactory(opened_at=T0, state=S.RESOLVED, resolved_at=T0 + H)
    thread = ThreadFactory(order=incident.order, connection=incident.connection)
    MessageFactory(thread=thread, author_type=Party.OPERATOR, date_created=T0 + H / 2)
    incidents_refresh(order_ids=[incident.order_id])
    incident.refresh_from_db()
    assert incident.state == S.RESOLVED

    MessageFactory(thread=thread, author_type=Party.OPERATOR, date_created=T0 + 2 * H)
    incidents_refresh(order_ids=[incident.order_id])
    incident.refresh_from_db()
    assert incident.state == S.CONTESTED
    assert incident.contested_at == T0 + 2 * H
    assert (incident.watch, incident.watch_at) == (Incident.Watch.OPERATOR_WROTE, T0 + 2 * H)
    assert incident.audit_entries.filter(action="back_in_queue").count() == 1
    entry = incident.audit_entries.get(action="contested")
    assert (entry.action, entry.from_state, entry.to_state) == (
        "contested",
        S.RESOLVED,
        S.CONTESTED,
    )


@pytest.mark.django_db
def test_contested_incident_notifies_its_assignee_else_the_agents() -> None:
    from sla.models import Notification

    agents = [UserFactory(role="agent"), UserFactory(role="agent")]
    assigned = IncidentFactory(opened_at=T0, state=S.RESOLVED, resolved_at=T0 + H)
    owner = IncidentAssignmentFactory(incident=assigned).assignee
    unassigned = IncidentFactory(opened_at=T0, state=S.RESOLVED, resolved_at=T0 + H)
    for incident in (assigned, unassigned):
        thread = ThreadFactory(order=incident.order, connection=incident.connection)
        MessageFactory(thread=thread, author_type=Party.OPERATOR, date_created=T0 + 2 * H)

    incidents_refresh(order_ids=[assigned.order_id, unassigned.order_id])

    notified = Notification.objects.filter(kind=Notification.Kind.CONTESTED)
    assert list(notified.filter(incident=assigned).values_list("user", flat=True)) == [owner.pk]
    assert set(notified.filter(incident=unassigned).values_list("user", flat=True)) == {
        a.pk for a in agents
    }
    assert assigned.order.mirakl_id in notified.filter(incident=assigned).get().message
    # Nothing new: no second notification.
    incidents_refresh(order_ids=[assigned.order_id, unassigned.order_id])
    assert notified.count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("state", "fields", "derived"),
    [
        # In progress, but the shop action it was derived from is gone: NEW cannot follow.
        (S.IN_PROGRESS, {}, S.NEW),
        # Contested without a resolution on record: IN PROGRESS cannot follow.
        (S.CONTESTED, {"first_shop_action_at": T0 + H}, S.IN_PROGRESS),
    ],
)
def test_refresh_logs_a_derived_transition_it_may_not_take(caplog, state, fields, derived) -> None:
    incident = IncidentFactory(opened_at=T0, state=state, **fields)

    with caplog.at_level(logging.WARNING, logger="incidents.lifecycle"):
        assert incidents_refresh(order_ids=[incident.order_id]) == 0

    incident.refresh_from_db()
    assert incident.state == state  # kept: the state machine wins
    assert not incident.audit_entries.exists()
    [record] = [r for r in caplog.records if r.name == "incidents.lifecycle"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        f"Incident {incident.pk}: the sync derived {derived} from {state}, a transition the "
        f"state machine does not allow; the incident stays {state}"
    )
    assert (record.incident_id, record.from_state, record.to_state) == (
        incident.pk,
        state,
        derived,
    )


@pytest.mark.django_db
def test_refresh_logs_nothing_when_the_derived_state_is_allowed(caplog) -> None:
    incident = IncidentFactory(opened_at=T0)
    RefundFactory(line=incident.line, created_date=T0 + H)
    with caplog.at_level(logging.WARNING, logger="incidents.lifecycle"):
        assert incidents_refresh(order_ids=[incident.order_id]) == 1
    assert [r for r in caplog.records if r.name == "incidents.lifecycle"] == []
