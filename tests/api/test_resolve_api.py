"""``POST /api/v1/incidents/<Mirakl order id>/resolve/``: mark an order's incident resolved."""

from __future__ import annotations

import pytest

from core.freshness import inbox_stamp_bump
from incidents.models import AuditEntry, Incident
from tests.factories.core import OrderLineFactory
from tests.factories.incidents import IncidentFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/incidents/{}/resolve/"
REASON = {"reason_code": "INC_SOLVED_DELIVERED"}


def test_resolve_answers_202_with_the_incident_and_audits_as_api(
    api_client_for, desk, django_capture_on_commit_callbacks
) -> None:
    client = api_client_for("agent")
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(URL.format(desk["order"].mirakl_id), REASON, format="json")

    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["id"], body["state"]) == (desk["incident"].pk, "resolved")
    assert body["resolution_reason_code"] == "INC_SOLVED_DELIVERED"
    # OR64 queued after commit (and the inbox's refresh told something changed).
    assert len([c for c in callbacks if c is not inbox_stamp_bump]) == 1
    entry = AuditEntry.objects.get(action=AuditEntry.Action.RESOLVE_REQUESTED)
    assert (entry.source, entry.actor.username) == ("api", "agent-user")


def test_refusal_is_a_400_with_the_reason(api_client_for, desk) -> None:
    client = api_client_for("agent")
    client.post(URL.format(desk["order"].mirakl_id), REASON, format="json")

    response = client.post(URL.format(desk["order"].mirakl_id), REASON, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "refused"
    assert "resuelta" in response.json()["detail"]  # the interface language, Spanish


def test_several_open_incidents_need_the_line(api_client_for, desk) -> None:
    other = IncidentFactory(line=OrderLineFactory(order=desk["order"], mirakl_id="59400123-A-2"))
    client = api_client_for("agent")
    url = URL.format(desk["order"].mirakl_id)

    response = client.post(url, REASON, format="json")
    assert response.status_code == 400 and "line" in response.json()

    response = client.post(url, {**REASON, "line": "59400123-A-2"}, format="json")
    assert response.status_code == 202
    assert response.json()["id"] == other.pk
    assert Incident.objects.get(pk=desk["incident"].pk).state == Incident.State.NEW

    response = client.post(url, {**REASON, "line": "nope"}, format="json")
    assert response.status_code == 400 and "line" in response.json()


def test_reason_code_is_required(api_client_for, desk) -> None:
    response = api_client_for("agent").post(URL.format(desk["order"].mirakl_id), {}, format="json")
    assert response.status_code == 400 and "reason_code" in response.json()


def test_api_reply_is_audited_with_source_api(api_client_for, desk) -> None:
    response = api_client_for("agent").post(
        f"/api/v1/threads/{desk['thread'].mirakl_id}/replies/",
        {"recipients": "operator", "body": "Lo revisamos hoy."},
        format="json",
    )
    assert response.status_code == 201
    entry = AuditEntry.objects.get(action=AuditEntry.Action.REPLY)
    assert (entry.source, entry.order_id) == ("api", desk["order"].pk)
