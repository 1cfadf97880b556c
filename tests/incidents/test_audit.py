"""The audit log as the one history: writers, CSV export, admin, roles."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import translation

from core.roles import ROLE_PERMISSIONS
from incidents.audit import audit_log
from incidents.models import AuditEntry
from incidents.selectors import incident_history
from incidents.services import incident_assign, incident_note_add
from tests.factories.core import (
    MarketplaceConnectionFactory,
    OrderFactory,
    OrderLineFactory,
    UserFactory,
)
from tests.factories.incidents import AuditEntryFactory, IncidentFactory

pytestmark = pytest.mark.django_db

A = AuditEntry.Action
EXPORT_URL = "/audit/export.csv"


def rows(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def manager(db):
    return UserFactory(username="jefa", first_name="Ana", last_name="Jefa", role="account_manager")


@pytest.fixture
def entries(db):
    """Two marketplaces, entries on two days either side of midnight in Madrid."""
    pcc = MarketplaceConnectionFactory(code="pccomponentes", name="PcComponentes")
    mm = MarketplaceConnectionFactory(code="mediamarkt", name="MediaMarkt")
    first = IncidentFactory(
        line=OrderLineFactory(order=OrderFactory(connection=pcc, mirakl_id="1-A"))
    )
    second = IncidentFactory(
        line=OrderLineFactory(order=OrderFactory(connection=mm, mirakl_id="2-B"))
    )
    user = UserFactory(first_name="Marta", last_name="Ruiz")
    # 22:30 UTC on 1 Dec is 23:30 in Madrid (1 Dec); 23:30 UTC is 00:30 on 2 Dec.
    audit_log(
        action=A.NOTE,
        actor=user,
        incident=first,
        detail='=HYPERLINK("http://x")',
        at=datetime(2026, 12, 1, 22, 30, tzinfo=UTC),
    )
    audit_log(
        action=A.ASSIGNED,
        actor=user,
        incident=first,
        detail="Marta Ruiz",
        at=datetime(2026, 12, 1, 23, 30, tzinfo=UTC),
    )
    audit_log(
        action=A.INCIDENT_CLOSED,
        source=AuditEntry.Source.SYNC,
        incident=second,
        from_state="resolved",
        to_state="closed",
        detail="CLOSED",
        data={"x": 1},
        at=datetime(2026, 12, 2, 10, 0, tzinfo=UTC),
    )
    return {"pcc": pcc, "mm": mm, "first": first, "second": second}


# --------------------------------------------------------------------------- writers


def test_desk_actions_and_history_read_from_the_audit_log() -> None:
    incident = IncidentFactory()
    agent = UserFactory(first_name="Marta", last_name="Ruiz", role="agent")
    AuditEntryFactory(incident=incident, at=incident.opened_at, detail="Defectuoso")
    incident_assign(incident=incident, assignee=agent, actor=agent)
    incident_note_add(incident=incident, author=agent, body="Llamé al cliente")
    incident_assign(incident=incident, assignee=None, actor=agent)

    with translation.override("en"):
        history = incident_history(incident=incident)

    assert [h.action for h in history] == ["incident_opened", "assigned", "note", "unassigned"]
    assert history[0].source == "Mirakl sync" and history[0].to_label == "New"
    assert {h.actor_name for h in history[1:]} == {"Marta Ruiz"}
    note = AuditEntry.objects.get(action=A.NOTE)
    assert (note.order_id, note.connection_id, note.source) == (
        incident.order_id,
        incident.connection_id,
        "user",
    )


def test_history_panel_shows_who_what_why_source_and_states(client) -> None:
    incident = IncidentFactory()
    AuditEntryFactory(
        incident=incident,
        action=A.STATE_CHANGED,
        from_state="new",
        to_state="in_progress",
        detail="primera respuesta",
        actor_name="Marta Ruiz",
    )
    client.force_login(UserFactory(role="agent"))
    client.cookies["django_language"] = "en"
    html = client.get(reverse("desk:incident", args=[incident.pk])).content.decode()
    assert 'data-action="state_changed"' in html
    assert "New → In progress" in html
    assert "Marta Ruiz · Mirakl sync" in html
    assert "primera respuesta" in html


def test_every_role_reads_the_audit_log() -> None:
    for role, names in ROLE_PERMISSIONS.items():
        assert "incidents.view_auditentry" in names
        group = Group.objects.get(name=role)
        assert group.permissions.filter(codename="view_auditentry").exists(), role
        assert not group.permissions.filter(codename="view_incidentevent").exists()


# --------------------------------------------------------------------------- CSV export


def test_export_streams_every_entry_in_madrid_time(client, manager, entries) -> None:
    client.force_login(manager)
    response = client.get(reverse("incidents:audit_export"))

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    exported = rows(response)
    assert [r["at"] for r in exported] == [
        "2026-12-01 23:30:00",
        "2026-12-02 00:30:00",
        "2026-12-02 11:00:00",
    ]
    first = exported[0]
    assert (first["actor"], first["source"], first["action"]) == ("Marta Ruiz", "user", "note")
    assert (first["marketplace"], first["order"]) == ("PcComponentes", "1-A")
    assert first["detail"] == '\'=HYPERLINK("http://x")'  # no formula in a spreadsheet
    last = exported[-1]
    assert (last["from_state"], last["to_state"], last["data"]) == (
        "resolved",
        "closed",
        '{"x": 1}',
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"date_from": "2026-12-02"}, ["assigned", "incident_closed"]),
        ({"date_to": "2026-12-01"}, ["note"]),
        ({"date_from": "2026-12-01", "date_to": "2026-12-01"}, ["note"]),
        ({"marketplace": "mediamarkt"}, ["incident_closed"]),
        ({"action": "assigned"}, ["assigned"]),
        ({"order": "1-A"}, ["note", "assigned"]),
        ({"order": "1-A", "action": "note", "marketplace": "pccomponentes"}, ["note"]),
    ],
)
def test_export_filters(client, manager, entries, query, expected) -> None:
    client.force_login(manager)
    response = client.get(EXPORT_URL, query)
    assert [r["action"] for r in rows(response)] == expected


def test_the_export_is_audited(client, manager, entries) -> None:
    client.force_login(manager)
    response = client.get(EXPORT_URL, {"marketplace": "mediamarkt", "action": "note"})
    rows(response)
    exported = AuditEntry.objects.get(action=A.EXPORTED)
    assert (exported.actor, exported.source) == (manager, "user")
    assert exported.data["filters"] == {"marketplace": "mediamarkt", "action": "note"}


def test_export_rejects_bad_filters(client, manager, entries) -> None:
    client.force_login(manager)
    assert client.get(EXPORT_URL, {"date_from": "mañana"}).status_code == 400
    assert (
        client.get(EXPORT_URL, {"date_from": "2026-12-02", "date_to": "2026-12-01"}).status_code
        == 400
    )
    assert client.get(EXPORT_URL, {"marketplace": "nope"}).status_code == 400
    assert not AuditEntry.objects.filter(action=A.EXPORTED).exists()


@pytest.mark.parametrize(
    ("role", "status"), [("account_manager", 200), ("admin", 200), ("agent", 403), (None, 403)]
)
def test_export_needs_the_export_permission(client, role, status) -> None:
    client.force_login(UserFactory(role=role))
    assert client.get(EXPORT_URL).status_code == status


def test_export_needs_login(client) -> None:
    assert client.get(EXPORT_URL).status_code == 302


# --------------------------------------------------------------------------- admin


def test_admin_lists_filters_and_searches_read_only(admin_client, entries) -> None:
    url = reverse("admin:incidents_auditentry_changelist")
    response = admin_client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 3
    assert response.context["has_add_permission"] is False
    for query, count in (
        ({"q": "2-B"}, 1),
        ({"action__exact": "note"}, 1),
        ({"source__exact": "sync"}, 1),
        ({"connection__id__exact": entries["pcc"].pk}, 2),
        ({"at__year": "2026", "at__month": "12", "at__day": "2"}, 2),
    ):
        assert admin_client.get(url, query).context["cl"].result_count == count, query

    entry = AuditEntry.objects.order_by("pk").first()
    change = reverse("admin:incidents_auditentry_change", args=[entry.pk])
    page = admin_client.get(change)
    assert page.status_code == 200 and page.context["has_change_permission"] is False
    assert admin_client.post(change, {"detail": "changed"}).status_code == 403
    assert admin_client.get(reverse("admin:incidents_auditentry_add")).status_code == 403
    delete = reverse("admin:incidents_auditentry_delete", args=[entry.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk, detail=entry.detail).exists()


def test_admin_export_action(admin_client, entries) -> None:
    url = reverse("admin:incidents_auditentry_changelist")
    selected = list(AuditEntry.objects.filter(action=A.NOTE).values_list("pk", flat=True))
    response = admin_client.post(
        url, {"action": "export_csv", "_selected_action": selected}, follow=False
    )
    assert response.status_code == 200
    assert [r["action"] for r in rows(response)] == ["note"]
    assert AuditEntry.objects.filter(action=A.EXPORTED).exists()


def test_admin_incident_page_shows_its_audit_entries(admin_client, entries) -> None:
    page = admin_client.get(reverse("admin:incidents_incident_change", args=[entries["first"].pk]))
    assert page.status_code == 200
    assert "Marta Ruiz" in page.content.decode()


# --------------------------------------------------------------------------- migration


def test_sla_review_links_to_the_audit_export(client, manager) -> None:
    client.force_login(manager)
    html = client.get(reverse("sla:review")).content.decode()
    assert f'href="{EXPORT_URL}" data-audit-export' in html
