"""The watch after resolving: the expected close, back in the queue past it or when the
customer or the operator writes, one alert each."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import translation

from incidents.lifecycle import incidents_refresh
from incidents.models import AuditEntry, Incident
from incidents.templatetags.incident_badges import state_badge
from messaging.models import Party
from sla.models import Notification
from sla.queue import queue_entries_refresh
from sla.services import sla_sweep
from tests.factories.core import UserFactory
from tests.factories.incidents import IncidentAssignmentFactory, IncidentFactory
from tests.factories.messaging import MessageFactory, ThreadFactory
from tests.sla.conftest import madrid

pytestmark = pytest.mark.django_db

RESOLVED_AT = madrid(2026, 12, 4, 12)  # a Friday; Tuesday 8 December is a holiday
H = timedelta(hours=1)
S = Incident.State
W = Incident.Watch


@pytest.fixture(autouse=True)
def _english(settings) -> None:
    settings.LANGUAGE_CODE = "en"


def resolved(connection, **kwargs) -> Incident:
    kwargs.setdefault("line__order__mirakl_id", "7001-A")
    return IncidentFactory(
        connection=connection,
        line__order__connection=connection,
        opened_at=RESOLVED_AT - 48 * H,
        first_shop_action_at=RESOLVED_AT - 24 * H,
        state=S.RESOLVED,
        resolved_at=RESOLVED_AT,
        **kwargs,
    )


def test_a_resolved_incident_shows_its_expected_close_in_working_days(pccomponentes) -> None:
    incident = resolved(pccomponentes)

    sla_sweep(now=RESOLVED_AT + H)

    incident.refresh_from_db()
    # Mon 7, Wed 9, Thu 10, Fri 11, Mon 14: five working days after the resolution.
    assert incident.close_expected_at == madrid(2026, 12, 14, 12)
    assert "expected close on 14/12/2026" in state_badge(incident)
    with translation.override("es"):
        assert "cierre previsto el 14/12/2026" in state_badge(incident)
    assert incident.needs_attention is False


def test_the_expected_close_counts_from_the_last_activity(pccomponentes, mediamarkt) -> None:
    incident = resolved(pccomponentes)
    thread = ThreadFactory(order=incident.order, connection=pccomponentes)
    MessageFactory(thread=thread, author_type=Party.SHOP, date_created=madrid(2026, 12, 9, 10))

    sla_sweep(now=madrid(2026, 12, 9, 11))

    incident.refresh_from_db()
    # Thu 10, Fri 11, Mon 14, Tue 15, Wed 16 after Wednesday's message.
    assert incident.close_expected_at == madrid(2026, 12, 16, 10)

    # Calendar days where the policy counts them (MediaMarkt: 48 hours, 5 days to close).
    other = resolved(mediamarkt, line__order__mirakl_id="7002-B")
    sla_sweep(now=madrid(2026, 12, 9, 12), full=True)
    other.refresh_from_db()
    assert other.close_expected_at == madrid(2026, 12, 9, 12)


def test_past_the_expected_close_it_goes_back_to_the_queue_with_one_alert(pccomponentes) -> None:
    incident = resolved(pccomponentes)
    owner = IncidentAssignmentFactory(incident=incident).assignee
    UserFactory(role="agent")  # assigned to someone else: not told
    sla_sweep(now=RESOLVED_AT + H)

    sla_sweep(now=madrid(2026, 12, 14, 11))
    incident.refresh_from_db()
    assert incident.watch == ""

    result = sla_sweep(now=madrid(2026, 12, 14, 13))
    sla_sweep(now=madrid(2026, 12, 15, 9))

    assert result.close_overdue == 1
    incident.refresh_from_db()
    assert (incident.state, incident.watch) == (S.RESOLVED, W.CLOSE_OVERDUE)
    assert incident.watch_at == madrid(2026, 12, 14, 12)
    assert incident.needs_attention is True
    (note,) = Notification.objects.filter(kind=Notification.Kind.CLOSE_OVERDUE)
    assert note.user == owner and note.incident_id == incident.pk
    assert "7001-A" in note.message and "back in the queue" in note.message
    entry = AuditEntry.objects.get(incident=incident, action=AuditEntry.Action.BACK_IN_QUEUE)
    assert entry.source == AuditEntry.Source.SYSTEM
    assert "Awaiting close too long" in state_badge(incident)
    with translation.override("es"):
        assert "Pendiente de cierre demasiado tiempo" in state_badge(incident)


def test_a_customer_message_after_resolved_flags_it_at_once(pccomponentes) -> None:
    agents = [UserFactory(role="agent"), UserFactory(role="agent")]
    incident = resolved(pccomponentes)
    thread = ThreadFactory(order=incident.order, connection=pccomponentes)
    MessageFactory(thread=thread, author_type=Party.CUSTOMER, date_created=RESOLVED_AT - H)
    incidents_refresh(order_ids=[incident.order_id])
    incident.refresh_from_db()
    assert incident.watch == ""  # written before the resolution

    MessageFactory(thread=thread, author_type=Party.CUSTOMER, date_created=RESOLVED_AT + 2 * H)
    incidents_refresh(order_ids=[incident.order_id])
    incidents_refresh(order_ids=[incident.order_id])

    incident.refresh_from_db()
    assert (incident.state, incident.watch) == (S.RESOLVED, W.CUSTOMER_WROTE)
    assert incident.watch_at == RESOLVED_AT + 2 * H
    assert incident.needs_attention is True
    notes = Notification.objects.filter(kind=Notification.Kind.WROTE_AFTER_RESOLVED)
    assert sorted(notes.values_list("user_id", flat=True)) == sorted(a.pk for a in agents)
    with translation.override("es"):
        assert "El cliente escribió después de marcarla resuelta" in state_badge(incident)
    entry = AuditEntry.objects.get(incident=incident, action=AuditEntry.Action.BACK_IN_QUEUE)
    assert (entry.source, entry.at) == (AuditEntry.Source.SYNC, RESOLVED_AT + 2 * H)


def test_an_operator_message_after_resolved_contests_it_and_flags_it(pccomponentes) -> None:
    agent = UserFactory(role="agent")
    incident = resolved(pccomponentes)
    thread = ThreadFactory(order=incident.order, connection=pccomponentes)
    MessageFactory(thread=thread, author_type=Party.OPERATOR, date_created=RESOLVED_AT + H)

    incidents_refresh(order_ids=[incident.order_id])

    incident.refresh_from_db()
    assert (incident.state, incident.watch) == (S.CONTESTED, W.OPERATOR_WROTE)
    # One alert: the contest's.
    assert not Notification.objects.filter(kind=Notification.Kind.WROTE_AFTER_RESOLVED).exists()
    (note,) = Notification.objects.filter(kind=Notification.Kind.CONTESTED)
    assert note.user == agent


def test_marking_it_resolved_again_starts_a_new_watch(pccomponentes) -> None:
    from incidents.resolution import incident_resolve
    from tests.factories.core import MarketplaceReasonFactory

    MarketplaceReasonFactory(connection=pccomponentes, type="INCIDENT_CLOSE", code="SOLVED")
    agent = UserFactory(role="agent")
    incident = resolved(pccomponentes, watch=W.CLOSE_OVERDUE, watch_at=RESOLVED_AT)
    incident.state = S.CONTESTED
    incident.save()

    incident_resolve(incident=incident, reason_code="SOLVED", actor=agent)

    incident.refresh_from_db()
    assert (incident.state, incident.watch, incident.watch_at) == (S.RESOLVED, "", None)


def test_back_in_the_queue_shows_under_waiting_for_us_and_in_the_api(client, pccomponentes):
    from rest_framework.test import APIClient

    agent = UserFactory(role="agent")
    quiet = resolved(pccomponentes, line__order__mirakl_id="QUIET-1")
    back = resolved(
        pccomponentes,
        line__order__mirakl_id="BACK-1",
        watch=W.CUSTOMER_WROTE,
        watch_at=RESOLVED_AT + H,
        close_expected_at=madrid(2026, 12, 14, 12),
    )
    client.force_login(agent)
    queue_entries_refresh()  # the queue's rows, as the SLA sweep writes them

    page = client.get("/incidents/", {"waiting": "true"}).content.decode()

    assert "BACK-1" in page and "QUIET-1" not in page
    assert f'data-watch="{W.CUSTOMER_WROTE}"' in page
    api = APIClient()
    api.force_authenticate(agent)
    row = api.get(f"/api/v1/incidents/{back.pk}/").json()
    assert (row["watch"], row["close_expected_at"][:10]) == ("customer_wrote", "2026-12-14")
    assert api.get(f"/api/v1/incidents/{quiet.pk}/").json()["watch"] == ""
