"""The incident lifecycle: derived states and allowed transitions."""

from datetime import UTC, datetime, timedelta

import pytest

from incidents.lifecycle import (
    ALLOWED_TRANSITIONS,
    IncidentFacts,
    InvalidTransition,
    derive_state,
    incident_transition,
    incidents_refresh,
)
from incidents.models import Incident, IncidentEvent
from messaging.models import Party
from tests.factories.incidents import IncidentFactory
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


@pytest.mark.django_db
def test_transition_records_history() -> None:
    incident = IncidentFactory(state=S.NEW)
    incident_transition(incident=incident, to=S.IN_PROGRESS, source="user", note="llamada")
    incident.refresh_from_db()
    assert incident.state == S.IN_PROGRESS
    event = IncidentEvent.objects.get(incident=incident)
    assert (event.from_state, event.to_state, event.source, event.note) == (
        S.NEW,
        S.IN_PROGRESS,
        "user",
        "llamada",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "to"),
    [(S.CLOSED, S.NEW), (S.IN_PROGRESS, S.NEW), (S.RESOLVED, S.NEW), (S.NEW, S.CONTESTED)],
)
def test_impossible_transitions_are_rejected(start: str, to: str) -> None:
    incident = IncidentFactory(state=start)
    with pytest.raises(InvalidTransition):
        incident_transition(incident=incident, to=to, source="user")
    incident.refresh_from_db()
    assert incident.state == start
    assert not IncidentEvent.objects.exists()


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
    assert incident.events.get().to_state == S.IN_PROGRESS
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
