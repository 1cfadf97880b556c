"""Bulk actions on queue rows: each through the single action's service, one result per
row, audited, role-checked, in the page (htmx) and the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import translation
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.scoping import MarketplaceAccess
from desk.bulk import BulkAction, queue_bulk_apply
from incidents.models import AuditEntry, Incident, IncidentAssignment, ResolutionRequest
from messaging.models import Party, ThreadNoReply
from sla.queue import queue_entries_refresh
from tests.factories.core import (
    MarketplaceConnectionFactory,
    MarketplaceReasonFactory,
    OrderFactory,
    UserFactory,
)
from tests.factories.incidents import IncidentFactory
from tests.factories.messaging import MessageFactory, ThreadFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
S = Incident.State
SOLVED = "INC_SOLVED"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def shop(db):
    pcc = MarketplaceConnectionFactory(code="pcc", name="PcComponentes")
    mm = MarketplaceConnectionFactory(code="mm", name="MediaMarkt")
    for connection in (pcc, mm):
        MarketplaceReasonFactory(
            connection=connection,
            type="INCIDENT_CLOSE",
            code=SOLVED,
            label="Resuelto",
            is_shop_right=True,
        )
    return {"pcc": pcc, "mm": mm}


def incident(connection, order_id: str, **kwargs) -> Incident:
    kwargs.setdefault("state", S.IN_PROGRESS)
    kwargs.setdefault("first_shop_action_at", T0 + H)
    return IncidentFactory(
        connection=connection,
        line__order__connection=connection,
        line__order__mirakl_id=order_id,
        opened_at=T0,
        **kwargs,
    )


def waiting_thread(connection, order, author=Party.CUSTOMER):
    thread = ThreadFactory(order=order, connection=connection)
    MessageFactory(thread=thread, author_type=author, date_created=T0 + 2 * H)
    return thread


def test_assign_each_row_through_the_single_service(shop) -> None:
    agent = UserFactory(username="ana", role="agent")
    bruno = UserFactory(username="bruno", role="agent", first_name="Bruno", last_name="Gil")
    a = incident(shop["pcc"], "A-1")
    b = incident(shop["mm"], "B-1")
    lone = ThreadFactory(order=None, connection=shop["mm"])

    results = queue_bulk_apply(
        action=BulkAction.ASSIGN,
        user=agent,
        incident_ids=[a.pk, b.pk, 999999],
        thread_ids=[lone.pk],
        assignee=bruno,
    )

    assert [(r.kind, r.pk, r.ok) for r in results] == [
        ("incident", a.pk, True),
        ("incident", b.pk, True),
        ("incident", 999999, False),
        ("thread", lone.pk, False),
    ]
    assert results[0].message == "Assigned to Bruno Gil."
    assert results[0].label == "A-1 (PcComponentes)"
    assert "Not found" in results[2].message
    assert "cannot be assigned" in results[3].message
    assert set(IncidentAssignment.objects.values_list("incident_id", "assignee_id")) == {
        (a.pk, bruno.pk),
        (b.pk, bruno.pk),
    }
    entries = AuditEntry.objects.filter(action=AuditEntry.Action.ASSIGNED)
    assert {(e.incident_id, e.actor_id, e.source) for e in entries} == {
        (a.pk, agent.pk, "user"),
        (b.pk, agent.pk, "user"),
    }


def test_no_reply_required_with_a_reason_and_the_confirmation_rule(shop) -> None:
    agent = UserFactory(role="agent")
    resolved = incident(shop["pcc"], "R-1", state=S.RESOLVED, resolved_at=T0 + H)
    waiting_thread(shop["pcc"], resolved.order)
    unresolved = incident(shop["pcc"], "U-1")
    waiting_thread(shop["pcc"], unresolved.order)
    answered = incident(shop["pcc"], "N-1")
    waiting_thread(shop["pcc"], answered.order, author=Party.SHOP)
    conversation = waiting_thread(shop["mm"], OrderFactory(connection=shop["mm"]))

    results = queue_bulk_apply(
        action=BulkAction.NO_REPLY,
        user=agent,
        incident_ids=[resolved.pk, unresolved.pk, answered.pk],
        thread_ids=[conversation.pk],
        reason="The customer only said thanks",
    )

    by_label = {r.label.split(" ")[0]: r for r in results}
    assert by_label["R-1"].ok and "1 conversations" in by_label["R-1"].message
    assert not by_label["U-1"].ok and "not resolved" in by_label["U-1"].message
    assert not by_label["N-1"].ok and "Nothing here waits" in by_label["N-1"].message
    assert results[-1].ok and results[-1].kind == "thread"
    marks = ThreadNoReply.objects.all()
    assert {m.reason for m in marks} == {"The customer only said thanks"}
    assert marks.count() == 2
    assert AuditEntry.objects.filter(action=AuditEntry.Action.NO_REPLY).count() == 2

    # Confirmed, the unresolved one is marked too.
    (again,) = queue_bulk_apply(
        action=BulkAction.NO_REPLY,
        user=agent,
        incident_ids=[unresolved.pk],
        reason="Thanks only",
        confirmed=True,
    )
    assert again.ok


def test_mark_resolved_with_a_reason(shop) -> None:
    agent = UserFactory(role="agent")
    ready = incident(shop["pcc"], "OK-1")
    owed = incident(shop["mm"], "OWED-1")
    thread = waiting_thread(shop["mm"], owed.order)
    thread.shop_reply_needed_since = T0 + 2 * H
    thread.save()
    conversation = waiting_thread(shop["mm"], None)

    results = queue_bulk_apply(
        action=BulkAction.RESOLVE,
        user=agent,
        incident_ids=[ready.pk, owed.pk],
        thread_ids=[conversation.pk],
        reason_code=SOLVED,
    )

    assert [r.ok for r in results] == [True, False, False]
    assert "waiting for a reply" in results[1].message
    assert "Only incidents" in results[2].message
    ready.refresh_from_db()
    owed.refresh_from_db()
    assert (ready.state, owed.state) == (S.RESOLVED, S.IN_PROGRESS)
    assert ResolutionRequest.objects.get().incident == ready
    assert AuditEntry.objects.get(action=AuditEntry.Action.RESOLVE_REQUESTED).incident == ready


def test_out_of_scope_rows_are_refused_as_not_found(shop) -> None:
    agent = UserFactory(role="agent")
    MarketplaceAccess.objects.create(user=agent, connection=shop["pcc"])
    mine = incident(shop["pcc"], "MINE-1")
    theirs = incident(shop["mm"], "THEIRS-1")

    results = queue_bulk_apply(
        action=BulkAction.ASSIGN, user=agent, incident_ids=[mine.pk, theirs.pk], assignee=agent
    )

    assert [r.ok for r in results] == [True, False]
    assert not IncidentAssignment.objects.filter(incident=theirs).exists()


def test_the_page_posts_with_csrf_and_shows_one_result_per_row(shop) -> None:
    from django.test import Client

    agent = UserFactory(username="ana", role="agent")
    a = incident(shop["pcc"], "A-9")
    b = incident(shop["pcc"], "B-9", state=S.CLOSED, closed_at=T0 + H)
    client = Client(enforce_csrf_checks=True)
    client.cookies["django_language"] = "es"
    client.force_login(agent)
    queue_entries_refresh()  # what the SLA sweep does every minute
    inbox = client.get(reverse("desk:inbox"))
    page = inbox.content.decode()
    assert 'id="bulk-form"' in page and f'value="incident:{a.pk}"' in page
    token = inbox.cookies["csrftoken"].value

    refused = client.post(reverse("desk:bulk"), {"action": "resolve", "rows": [f"incident:{a.pk}"]})
    assert refused.status_code == 403  # no CSRF token

    response = client.post(
        reverse("desk:bulk"),
        {
            "action": "resolve",
            "rows": [f"incident:{a.pk}", f"incident:{b.pk}"],
            "reason_code": SOLVED,
            "csrfmiddlewaretoken": token,
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "queue-changed"
    body = response.content.decode()
    assert f'data-row="incident:{a.pk}" data-ok="1"' in body
    assert f'data-row="incident:{b.pk}" data-ok="0"' in body
    assert "1 hechas, 1 rechazadas." in body


def test_the_page_checks_the_role_and_the_form(client, shop) -> None:
    manager = UserFactory(role="account_manager")
    a = incident(shop["pcc"], "A-8")
    client.force_login(manager)
    assert 'id="bulk-form"' not in client.get(reverse("desk:inbox")).content.decode()
    denied = client.post(
        reverse("desk:bulk"), {"action": "assign", "rows": [f"incident:{a.pk}"], "assignee": ""}
    )
    assert denied.status_code in (400, 403)

    client.force_login(UserFactory(role="agent"))
    client.cookies["django_language"] = "en"
    empty = client.post(reverse("desk:bulk"), {"action": "no_reply", "rows": [f"incident:{a.pk}"]})
    assert empty.status_code == 400
    assert "Say why no reply is required." in empty.content.decode()


def api(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_the_api(shop) -> None:
    agent = UserFactory(role="agent")
    a = incident(shop["pcc"], "API-1")
    b = incident(shop["pcc"], "API-2")

    response = api(agent).post(
        "/api/v1/incidents/bulk/",
        {"action": "assign", "incidents": [a.pk, b.pk, a.pk], "assignee": agent.pk},
        format="json",
    )

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["kind"], r["id"], r["ok"]) for r in rows] == [
        ("incident", a.pk, True),
        ("incident", b.pk, True),
    ]
    assigned = AuditEntry.objects.filter(action=AuditEntry.Action.ASSIGNED)
    assert set(assigned.values_list("source", flat=True)) == {"api"}

    manager = UserFactory(role="account_manager")
    forbidden = api(manager).post(
        "/api/v1/incidents/bulk/",
        {"action": "resolve", "incidents": [a.pk], "reason_code": SOLVED},
        format="json",
    )
    assert forbidden.status_code == 403
    bad = api(agent).post("/api/v1/incidents/bulk/", {"action": "resolve"}, format="json")
    assert bad.status_code == 400
    schema = api(agent).get("/api/schema/?format=json").json()
    assert "/api/v1/incidents/bulk/" in schema["paths"]
