"""``manage.py demo_setup``: a user per role for the demo, and its connections."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from core.models import MarketplaceConnection

pytestmark = pytest.mark.django_db


def test_demo_users_per_role_and_connections() -> None:
    out = StringIO()
    call_command("demo_setup", stdout=out)
    call_command("demo_setup", stdout=StringIO())  # a second run changes nothing

    agent = authenticate(username="agente", password="agente")
    manager = authenticate(username="gestor", password="gestor")
    admin = authenticate(username="admin", password="admin")
    assert agent and manager and admin
    assert [g.name for g in agent.groups.all()] == ["agent"]
    assert [g.name for g in manager.groups.all()] == ["account_manager"]
    assert "admin" in [g.name for g in admin.groups.all()] and admin.is_superuser
    assert agent.has_perm("incidents.refund_incident") and not agent.is_staff
    assert manager.has_perm("incidents.review_sla")
    assert not manager.has_perm("incidents.refund_incident")
    assert set(MarketplaceConnection.objects.values_list("code", flat=True)) == {
        "pccomponentes",
        "mediamarkt",
    }
    assert "'agente' (password 'agente')" in out.getvalue()
