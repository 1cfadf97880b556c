"""Users scoped to some marketplaces see only those: the queue, the pages and the API."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.models import MarketplaceConnection
from core.scoping import (
    MarketplaceAccess,
    can_see_connection,
    scope_queryset,
    visible_connection_ids,
)
from incidents.models import Incident
from sla.queue import queue_entries_refresh
from tests.factories.core import MarketplaceConnectionFactory, UserFactory
from tests.factories.incidents import IncidentFactory
from tests.factories.messaging import ThreadFactory
from tests.factories.sla import SlaBreachFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(db):
    """Two marketplaces with an incident, a thread and a breach each."""
    found = {}
    for code, name in (("pcc", "PcComponentes"), ("mm", "MediaMarkt")):
        connection = MarketplaceConnectionFactory(code=code, name=name)
        incident = IncidentFactory(
            connection=connection,
            line__order__connection=connection,
            line__order__mirakl_id=f"{code.upper()}-1",
        )
        thread = ThreadFactory(order=incident.order, connection=connection)
        SlaBreachFactory(item__incident=incident)
        found[code] = {"connection": connection, "incident": incident, "thread": thread}
    return found


def scoped(role: str, *connections: MarketplaceConnection, username: str = "scoped"):
    user = UserFactory(username=username, role=role)
    for connection in connections:
        MarketplaceAccess.objects.create(user=user, connection=connection)
    return user


def api(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_unscoped_users_and_superusers_see_every_marketplace(two) -> None:
    agent = UserFactory(role="agent")
    root = UserFactory(is_superuser=True)
    MarketplaceAccess.objects.create(user=root, connection=two["mm"]["connection"])
    assert visible_connection_ids(agent) is None
    assert visible_connection_ids(root) is None
    assert scope_queryset(Incident.objects.all(), agent).count() == 2


def test_a_scoped_user_sees_only_their_marketplaces(two, django_assert_num_queries) -> None:
    mm = two["mm"]["connection"]
    user = scoped("agent", mm)
    assert visible_connection_ids(user) == frozenset({mm.pk})
    with django_assert_num_queries(0):  # kept on the user for the rest of the request
        assert can_see_connection(user, mm.pk)
        assert not can_see_connection(user, two["pcc"]["connection"].pk)
    assert list(scope_queryset(Incident.objects.all(), user)) == [two["mm"]["incident"]]


def test_the_queue_and_the_incident_page(client, two) -> None:
    client.force_login(scoped("agent", two["mm"]["connection"]))
    queue_entries_refresh()  # the queue's rows, as the SLA sweep writes them

    page = client.get(reverse("desk:inbox"), {"status": "all"})
    assert page.status_code == 200
    assert "MM-1" in page.content.decode() and "PCC-1" not in page.content.decode()

    own = client.get(reverse("desk:incident", args=[two["mm"]["incident"].pk]))
    other = client.get(reverse("desk:incident", args=[two["pcc"]["incident"].pk]))
    assert (own.status_code, other.status_code) == (200, 404)

    overview = client.get(reverse("desk:overview")).content.decode()
    assert "MediaMarkt" in overview and "PcComponentes" not in overview


@pytest.mark.parametrize(
    ("path", "mm_key", "pcc_key"),
    [
        ("/api/v1/incidents/?status=all", "order", None),
        ("/api/v1/marketplaces/", "code", None),
    ],
)
def test_api_lists(two, path, mm_key, pcc_key) -> None:
    body = api(scoped("agent", two["mm"]["connection"])).get(path).json()
    rows = body["results"] if isinstance(body, dict) else body
    assert len(rows) == 1


def test_api_details_are_404_out_of_scope(two) -> None:
    client = api(scoped("account_manager", two["mm"]["connection"]))
    pcc, mm = two["pcc"], two["mm"]
    assert client.get(f"/api/v1/incidents/{pcc['incident'].pk}/").status_code == 404
    assert client.get(f"/api/v1/incidents/{mm['incident'].pk}/").status_code == 200
    assert client.get("/api/v1/orders/PCC-1/").status_code == 404
    assert client.get("/api/v1/orders/MM-1/").status_code == 200
    assert client.get(f"/api/v1/threads/{pcc['thread'].mirakl_id}/").status_code == 404
    assert client.get(f"/api/v1/threads/{mm['thread'].mirakl_id}/").status_code == 200
    assert client.get(f"/api/v1/marketplaces/{pcc['connection'].pk}/").status_code == 404
    assert client.get("/api/v1/sla/health/pcc/").status_code == 404
    threads = client.get("/api/v1/threads/").json()["results"]
    assert [t["mirakl_id"] for t in threads] == [mm["thread"].mirakl_id]
    orders = client.get("/api/v1/orders/").json()["results"]
    assert [o["mirakl_id"] for o in orders] == ["MM-1"]


def test_sla_review_and_kpis(client, two) -> None:
    user = scoped("account_manager", two["mm"]["connection"])
    breaches = api(user).get("/api/v1/sla/breaches/").json()["results"]
    assert len(breaches) == 1
    kpis = api(user).get("/api/v1/sla/kpis/").json()
    assert [k["marketplace"] for k in kpis] == ["mm"]
    client.force_login(user)
    page = client.get(reverse("sla:review")).content.decode()
    assert "MediaMarkt" in page and "PcComponentes" not in page


def test_the_admin_sets_a_users_marketplaces(client, two) -> None:
    admin = UserFactory(username="boss", role="admin", is_staff=True)
    agent = UserFactory(username="ana", role="agent")
    client.force_login(admin)
    url = reverse("admin:auth_user_change", args=[agent.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "marketplace_access-TOTAL_FORMS" in page.content.decode()

    form = {
        "username": agent.username,
        "first_name": agent.first_name,
        "last_name": agent.last_name,
        "email": agent.email,
        "is_active": "on",
        "date_joined_0": agent.date_joined.date().isoformat(),
        "date_joined_1": agent.date_joined.strftime("%H:%M:%S"),
        "groups": [str(pk) for pk in agent.groups.values_list("pk", flat=True)],
        "marketplace_access-TOTAL_FORMS": "1",
        "marketplace_access-INITIAL_FORMS": "0",
        "marketplace_access-MIN_NUM_FORMS": "0",
        "marketplace_access-MAX_NUM_FORMS": "1000",
        "marketplace_access-0-connection": str(two["mm"]["connection"].pk),
    }
    saved = client.post(url, form)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    agent = type(agent).objects.get(pk=agent.pk)  # a fresh user: nothing remembered
    assert visible_connection_ids(agent) == frozenset({two["mm"]["connection"].pk})


def test_the_queue_filter_form_offers_only_the_users_marketplaces(two) -> None:
    """The filter form is kept rendered in the cache: a form drawn for a user who sees
    every marketplace is never shown to one who sees fewer, nor the other way round."""
    from django.test import Client

    everyone, mm_only = Client(), Client()
    everyone.force_login(UserFactory(username="everyone", role="agent"))
    mm_only.force_login(scoped("agent", two["mm"]["connection"]))

    def offered(client: Client) -> str:
        page = client.get(reverse("desk:inbox"), {"status": "all"}).content.decode()
        return page.split('name="connection"')[1].split("</select>")[0]

    # Both signed in first (a login saves the user, which draws the form anew).
    for first, second in ((everyone, mm_only), (mm_only, everyone)):
        for client in (first, second):
            form = offered(client)
            assert "MediaMarkt" in form
            assert ("PcComponentes" in form) is (client is everyone)
