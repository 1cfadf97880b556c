"""Incidents already open the first time the sync sees their order: their opening is
dated from the marketplace's notice, and a contest made before is seen as one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.sync.runner import marketplace_sync
from incidents.lifecycle import incidents_refresh
from incidents.models import AuditEntry, Incident
from messaging.models import Message, Party
from sla.models import Notification, SlaItem
from sla.services import sla_sweep
from tests.factories.incidents import AuditEntryFactory, IncidentFactory
from tests.factories.messaging import MessageFactory, ThreadFactory
from tests.messaging import fixtures
from tests.messaging.fixtures import control

pytestmark = pytest.mark.django_db

agent = fixtures.agent

S = Incident.State
A = AuditEntry.Action
OPENING = Incident.OpeningSource
H = timedelta(hours=1)
SOLVED = "INC_SOLVED_DELIVERED"


def _message(mirakl_id: str) -> Message:
    return Message.objects.get(mirakl_id=mirakl_id)


def _incident(order_id: str) -> Incident:
    return Incident.objects.get(order__mirakl_id=order_id)


def _open_on_new_order(sandbox) -> tuple[str, str, str]:
    """An order the shop has never synced, with an incident (the customer writes, then
    the operator's notice): its id, its line's id and the notice's message id."""
    created = control(sandbox, "orders", {"with_incident": True})
    incident = created["incident"]
    return created["order_id"], incident["line_id"], incident["message_id"]


def _shop_writes(sandbox, order_id: str, body: str = "Hola, ya lo estamos revisando.") -> str:
    return control(sandbox, "messages", {"order_id": order_id, "party": "SHOP", "body": body})[
        "message_id"
    ]


def test_a_contest_made_before_the_first_sync_reads_as_contested(
    connection, sandbox, sandbox_client, agent
) -> None:
    order_id, line_id, notice_id = _open_on_new_order(sandbox)
    control(sandbox, "advance", {"seconds": 3 * 3600})
    _shop_writes(sandbox, order_id)
    control(sandbox, "advance", {"seconds": 20 * 3600})
    sandbox_client.resolve_incident(order_id, line_id, reason_code=SOLVED)
    control(sandbox, "advance", {"seconds": 60})  # the sandbox closes it after 5 minutes
    contest_id = control(sandbox, "contest", {"order_id": order_id, "line_id": line_id})[
        "message_id"
    ]

    marketplace_sync(connection=connection, client=sandbox_client)

    incident = _incident(order_id)
    notice, contest = _message(notice_id), _message(contest_id)
    assert incident.state == S.CONTESTED
    assert incident.opened_at == notice.date_created
    assert incident.contested_at == contest.date_created
    assert incident.opening_source == OPENING.ESTIMATED
    opened = AuditEntry.objects.get(incident=incident, action=A.INCIDENT_OPENED)
    assert opened.at == notice.date_created
    (contested,) = AuditEntry.objects.filter(incident=incident, action=A.CONTESTED)
    assert (contested.from_state, contested.to_state, contested.source, contested.at) == (
        S.NEW,
        S.CONTESTED,
        "sync",
        contest.date_created,
    )
    assert contested.data == {"resolved_in": "mirakl_back_office"}
    (note,) = Notification.objects.filter(kind=Notification.Kind.CONTESTED, incident=incident)
    assert note.user == agent and order_id in note.message

    # The clock: the notice is the opening notice (a wait for the customer, answered by
    # the shop); the contest is not, it waits for the operator.
    sla_sweep()
    waits = SlaItem.objects.filter(thread__order=incident.order, kind=SlaItem.Kind.THREAD)
    assert set(waits.values_list("audience", "started_at", "stopped_at")) >= {
        (Party.OPERATOR, contest.date_created, None),
    }
    customer = waits.get(audience=Party.CUSTOMER, started_at__lte=notice.date_created)
    assert customer.stopped_at is not None
    assert not waits.filter(started_at=contest.date_created).exclude(audience=Party.OPERATOR)
    (own,) = SlaItem.objects.filter(incident=incident)
    assert own.started_at == notice.date_created and own.stopped_at is not None

    # Syncing again, in full, changes nothing.
    entries = AuditEntry.objects.filter(incident=incident).count()
    marketplace_sync(connection=connection, client=sandbox_client)
    marketplace_sync(connection=connection, client=sandbox_client, full=True)
    again = _incident(order_id)
    assert (again.state, again.opened_at, again.contested_at) == (
        S.CONTESTED,
        notice.date_created,
        contest.date_created,
    )
    assert AuditEntry.objects.filter(incident=incident).count() == entries
    assert (
        Notification.objects.filter(kind=Notification.Kind.CONTESTED)
        .filter(incident=incident)
        .count()
        == 1
    )


def test_an_incident_open_at_the_first_sync_opens_at_the_notice(
    connection, sandbox, sandbox_client
) -> None:
    """Resolved in Mirakl's back office, not contested: the line's date is the
    resolution's, the opening is the notice's, and the shop's reply counts."""
    order_id, line_id, notice_id = _open_on_new_order(sandbox)
    control(sandbox, "advance", {"seconds": 2 * 3600})
    reply_id = _shop_writes(sandbox, order_id)
    control(sandbox, "advance", {"seconds": 24 * 3600})
    sandbox_client.resolve_incident(order_id, line_id, reason_code=SOLVED)
    control(sandbox, "advance", {"seconds": 60})  # the sandbox closes it after 5 minutes

    marketplace_sync(connection=connection, client=sandbox_client)

    incident = _incident(order_id)
    assert incident.opened_at == _message(notice_id).date_created
    assert incident.opened_at < incident.line.last_updated_date - 20 * H
    assert (incident.state, incident.contested_at) == (S.IN_PROGRESS, None)
    assert incident.first_shop_action_at == _message(reply_id).date_created
    assert not AuditEntry.objects.filter(incident=incident, action=A.CONTESTED).exists()


def test_an_incident_seen_opening_keeps_the_line_date(connection, sandbox, sandbox_client):
    """On an order already held, the sync sees the line turn INCIDENT_OPEN: its date is
    the opening, even if the operator wrote to the shop alone before."""
    order_id = control(sandbox, "orders", {})["order_id"]
    control(
        sandbox,
        "messages",
        {"order_id": order_id, "party": "OPERATOR", "body": "¿Podéis confirmar el envío?"},
    )
    marketplace_sync(connection=connection, client=sandbox_client)
    control(sandbox, "advance", {"seconds": 48 * 3600})
    opened = control(sandbox, "incidents", {"order_id": order_id})

    marketplace_sync(connection=connection, client=sandbox_client)

    incident = _incident(order_id)
    assert incident.opening_source == OPENING.OBSERVED
    assert incident.opened_at == incident.line.last_updated_date
    assert abs(incident.opened_at - _message(opened["message_id"]).date_created) < H
    assert incident.state == S.NEW


def test_a_conversation_before_the_incident_is_not_its_opening(
    connection, sandbox, sandbox_client
) -> None:
    """The customer asked days before the incident and the shop answered: neither the
    question nor the answer is the opening, and the answer is not the shop acting on it."""
    order_id = control(sandbox, "orders", {})["order_id"]
    control(sandbox, "messages", {"order_id": order_id, "body": "¿Cuándo llega mi pedido?"})
    control(sandbox, "advance", {"seconds": 2 * 3600})
    _shop_writes(sandbox, order_id, "Sale mañana por la mañana.")
    control(sandbox, "advance", {"seconds": 3 * 24 * 3600})
    notice_id = control(sandbox, "incidents", {"order_id": order_id})["message_id"]
    control(sandbox, "advance", {"seconds": 600})

    marketplace_sync(connection=connection, client=sandbox_client)

    incident = _incident(order_id)
    notice = _message(notice_id)
    assert incident.opening_source == OPENING.ESTIMATED
    # The notice follows the line's change by a moment: the line's date stays.
    assert incident.opened_at == incident.line.last_updated_date
    assert timedelta(0) <= notice.date_created - incident.opened_at < timedelta(seconds=5)
    assert (incident.state, incident.first_shop_action_at, incident.contested_at) == (
        S.NEW,
        None,
        None,
    )
    sla_sweep()
    (own,) = SlaItem.objects.filter(incident=incident)
    assert (own.started_at, own.stopped_at) == (incident.opened_at, None)


def test_an_incident_closed_before_its_threads_synced_is_told_at_the_line_date(
    connection, sandbox, sandbox_client, monkeypatch
) -> None:
    """The first sync's threads run fails: the opening waits. The incident closes in
    Mirakl before the next sync, whose orders run tells the opening and the closing."""
    from mirakl.errors import MiraklTransientError

    order_id, line_id, _notice = _open_on_new_order(sandbox)

    def unreachable(**kwargs):
        raise MiraklTransientError("threads unreachable", call="M11")

    monkeypatch.setattr(sandbox_client, "iter_thread_record_pages", unreachable)
    marketplace_sync(connection=connection, client=sandbox_client)
    incident = _incident(order_id)
    assert incident.opening_source == OPENING.PENDING
    assert not incident.audit_entries.exists()
    first_seen = incident.opened_at

    sandbox_client.resolve_incident(order_id, line_id, reason_code=SOLVED)
    control(sandbox, "advance", {"seconds": 600})  # closed after 5 minutes
    monkeypatch.undo()
    marketplace_sync(connection=connection, client=sandbox_client)

    incident.refresh_from_db()
    assert (incident.state, incident.opening_source) == (S.CLOSED, OPENING.ESTIMATED)
    entries = list(incident.audit_entries.order_by("at", "pk"))
    assert [(e.action, e.to_state, e.at) for e in entries] == [
        (A.INCIDENT_OPENED, S.NEW, first_seen),
        (A.INCIDENT_CLOSED, S.CLOSED, incident.closed_at),
    ]


# --------------------------------------------------------------- the evidence, one by one


def _pending(**kwargs) -> tuple[Incident, object]:
    """An incident first seen already open (the line last updated at its ``opened_at``),
    not dated yet, and one thread on its order."""
    incident = IncidentFactory(opening_source=OPENING.PENDING, **kwargs)
    incident.line.last_updated_date = incident.opened_at
    incident.line.save(update_fields=["last_updated_date"])
    return incident, ThreadFactory(order=incident.order, connection=incident.connection)


def _refresh(incident: Incident) -> None:
    """As after a threads run."""
    incidents_refresh(order_ids=[incident.order_id], settle_openings=True)


def _say(thread, author: str, at, to: tuple[str, ...] = (Party.SHOP,)) -> Message:
    return MessageFactory(
        thread=thread,
        author_type=author,
        date_created=at,
        recipients=[{"type": party} for party in to],
    )


def test_an_operator_message_at_the_line_date_without_a_shop_message_since_the_notice():
    """The shop wrote only before the notice: the operator's message at the line's date
    is not read as a contest (the shop never acted on this incident)."""
    incident, thread = _pending()
    line_date = incident.opened_at
    _say(thread, Party.SHOP, line_date - 80 * H, to=(Party.CUSTOMER,))
    notice = _say(thread, Party.OPERATOR, line_date - 72 * H)
    _say(thread, Party.OPERATOR, line_date)

    _refresh(incident)

    incident.refresh_from_db()
    assert incident.opened_at == notice.date_created
    assert (incident.state, incident.contested_at) == (S.NEW, None)
    opened = AuditEntry.objects.get(incident=incident, action=A.INCIDENT_OPENED)
    assert opened.at == notice.date_created


def test_the_contest_is_the_operators_message_at_the_line_date_after_the_shops():
    incident, thread = _pending()
    line_date = incident.opened_at
    _say(thread, Party.CUSTOMER, line_date - 80 * H)
    notice = _say(thread, Party.OPERATOR, line_date - 72 * H)
    _say(thread, Party.OPERATOR, line_date - 70 * H, to=(Party.CUSTOMER,))
    _say(thread, Party.SHOP, line_date - 48 * H, to=(Party.CUSTOMER,))
    # Not within two minutes of the line's date: a question, not the contest.
    _say(thread, Party.OPERATOR, line_date - 24 * H)
    contest = _say(thread, Party.OPERATOR, line_date - timedelta(seconds=30))

    _refresh(incident)
    _refresh(incident)

    incident.refresh_from_db()
    assert incident.opened_at == notice.date_created
    assert (incident.state, incident.contested_at) == (S.CONTESTED, contest.date_created)
    assert incident.first_shop_action_at == line_date - 48 * H
    assert AuditEntry.objects.filter(incident=incident, action=A.CONTESTED).count() == 1


def test_an_observed_opening_is_never_moved():
    incident, thread = _pending()
    Incident.objects.filter(pk=incident.pk).update(opening_source=OPENING.OBSERVED)
    AuditEntryFactory(incident=incident, at=incident.opened_at)
    line_date = incident.opened_at
    _say(thread, Party.OPERATOR, line_date - 72 * H)
    _say(thread, Party.SHOP, line_date - 48 * H, to=(Party.CUSTOMER,))
    _say(thread, Party.OPERATOR, line_date)

    _refresh(incident)

    incident.refresh_from_db()
    assert (incident.opened_at, incident.state, incident.contested_at) == (
        line_date,
        S.NEW,
        None,
    )
