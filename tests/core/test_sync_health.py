"""Sync health per connection and resource: on the overview, in the admin and in the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.sync.health import HealthState, connection_health, connections_health
from core.sync.models import SkippedRecord, SyncCursor
from core.sync.runner import marketplace_sync
from tests.factories.core import MarketplaceConnectionFactory, UserFactory

pytestmark = pytest.mark.django_db

OVERVIEW = reverse("desk:overview")


def _client(user, language: str = "es") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = language
    return client


def _cursor(connection, resource: str, **fields) -> SyncCursor:
    cursor, _ = SyncCursor.objects.update_or_create(
        connection=connection, resource=resource, defaults=fields
    )
    return cursor


def _card(page: str, code: str) -> str:
    start = page.index(f'data-marketplace="{code}"')
    end = page.find("</section>", start)
    return page[start:end]


def test_a_synced_connection_is_up_to_date(connection, sandbox_client) -> None:
    marketplace_sync(connection=connection, client=sandbox_client)

    (health,) = connections_health()

    assert health.state == HealthState.OK and not health.stale
    assert [r.resource for r in health.resources] == ["orders", "threads", "reasons"]
    assert all(r.state == HealthState.OK and not r.error for r in health.resources)
    assert health.age_minutes == 0
    page = _client(UserFactory(username="ana", role="agent")).get(OVERVIEW).content.decode()
    card = _card(page, connection.code)
    assert 'data-sync-state="ok"' in card
    assert "Al día" in card and "datos de hace menos de 1 min" in card


def test_data_age_and_a_late_resource(settings) -> None:
    settings.SYNC_STALE_ALERT = timedelta(minutes=10)
    marketplace = MarketplaceConnectionFactory(code="mm", name="MediaMarkt")
    now = timezone.now()
    _cursor(marketplace, "orders", last_success_at=now - timedelta(minutes=25))
    _cursor(marketplace, "threads", last_success_at=now - timedelta(minutes=2))
    # Reasons are re-read hourly: 50 minutes is not late for them.
    _cursor(marketplace, "reasons", last_success_at=now - timedelta(minutes=50))

    health = connection_health(marketplace, marketplace.sync_cursors.all(), now=now)

    assert health.state == HealthState.LATE and health.stale
    assert health.age_minutes == 25
    states = {r.resource: r.state for r in health.resources}
    assert states == {"orders": "late", "threads": "ok", "reasons": "ok"}
    card = _card(
        _client(UserFactory(username="ana", role="agent")).get(OVERVIEW).content.decode(), "mm"
    )
    assert 'data-resource="orders" data-state="late"' in card
    assert "datos de hace 25 min" in card and "datos de hace 2 min" in card
    assert "Con retraso" in card


def test_the_last_error_is_shown_in_spanish_and_never_raw(connection, sandbox, settings) -> None:
    settings.MIRAKL_MAX_RETRIES = 0
    connection.api_key = "not-the-key"
    connection.save()

    results = marketplace_sync(connection=connection)

    assert not any(r.ok for r in results)
    cursor = SyncCursor.objects.get(connection=connection, resource="orders")
    assert cursor.last_error_kind == SyncCursor.ErrorKind.AUTH
    assert "401" in cursor.last_error  # the detail stays for the admin's cursor view
    health = connection_health(connection, connection.sync_cursors.all())
    assert health.state == HealthState.FAILING
    card = _card(
        _client(UserFactory(username="ana", role="agent")).get(OVERVIEW).content.decode(),
        connection.code,
    )
    assert "Mirakl rechaza la clave API: revísela en la configuración del marketplace." in card
    assert "401" not in card and "Unauthorized" not in card and "OR11" not in card
    assert "Fallando" in card


def test_an_unreachable_marketplace_is_failing(settings) -> None:
    settings.MIRAKL_MAX_RETRIES = 0
    broken = MarketplaceConnectionFactory(code="broken", base_url="http://127.0.0.1:9")

    marketplace_sync(connection=broken)

    health = connection_health(broken, broken.sync_cursors.all())
    assert {r.error_kind for r in health.resources if r.error} == {"unavailable"}
    card = _card(
        _client(UserFactory(username="ana", role="agent"), "en").get(OVERVIEW).content.decode(),
        "broken",
    )
    assert "Mirakl does not answer or answers with a server error" in card


def test_skipped_records_are_counted_and_linked_for_admins() -> None:
    marketplace = MarketplaceConnectionFactory(code="pcc", name="PcComponentes")
    _cursor(marketplace, "orders", last_success_at=timezone.now(), skipped_open=2)
    _cursor(marketplace, "threads", last_success_at=timezone.now())
    for mirakl_id in ("1-A", "2-A"):
        SkippedRecord.objects.create(
            connection=marketplace,
            resource="orders",
            kind=SkippedRecord.Kind.ORDER,
            mirakl_id=mirakl_id,
            reason=SkippedRecord.Reason.OUT_OF_RANGE,
        )

    agent_card = _card(
        _client(UserFactory(username="ana", role="agent")).get(OVERVIEW).content.decode(), "pcc"
    )
    assert "Pedidos: 2 registros omitidos" in agent_card
    assert "skippedrecord" not in agent_card  # agents cannot open the admin

    admin = UserFactory(username="root", role="admin", is_staff=True)
    admin_card = _card(_client(admin).get(OVERVIEW).content.decode(), "pcc")
    link = (
        f"/admin/core/skippedrecord/?connection__id__exact={marketplace.pk}"
        "&amp;resource__exact=orders&amp;resolved_at__isempty=1"
    )
    assert link in admin_card
    listing = _client(admin).get(link.replace("&amp;", "&"))
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 2


def test_the_admin_shows_each_connections_sync(client) -> None:
    marketplace = MarketplaceConnectionFactory(code="pcc", name="PcComponentes")
    now = timezone.now()
    _cursor(marketplace, "orders", last_success_at=now - timedelta(minutes=3))
    _cursor(
        marketplace,
        "threads",
        last_success_at=now - timedelta(minutes=40),
        last_error="M11 failed (HTTP 503): Service Unavailable",
        last_error_at=now - timedelta(minutes=1),
        last_error_kind=SyncCursor.ErrorKind.UNAVAILABLE,
        skipped_open=1,
    )
    admin = _client(UserFactory(username="root", role="admin", is_staff=True))

    listing = admin.get(reverse("admin:core_marketplaceconnection_changelist"))
    page = listing.content.decode()
    assert "Fallando" in page and "datos de hace 40 min" in page
    assert "Mensajes: Mirakl no responde" in page
    assert "1 registro omitido" in page
    detail = admin.get(reverse("admin:core_marketplaceconnection_change", args=[marketplace.pk]))
    page = detail.content.decode()
    assert "datos de hace 3 min" in page
    assert "M11 failed (HTTP 503)" in page  # the technical detail, for the admin
    assert f"connection__id__exact={marketplace.pk}&amp;resource__exact=threads" in page


def test_the_api_gives_each_marketplaces_sync_health(connection, sandbox_client) -> None:
    marketplace_sync(connection=connection, client=sandbox_client)
    SyncCursor.objects.filter(connection=connection, resource="threads").update(
        last_error="M11 failed (HTTP 503)",
        last_error_at=timezone.now(),
        last_error_kind=SyncCursor.ErrorKind.UNAVAILABLE,
        skipped_open=3,
    )
    other = MarketplaceConnectionFactory(code="mm", name="MediaMarkt")
    user = UserFactory(username="ana", role="agent")
    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}",
        HTTP_ACCEPT_LANGUAGE="es",
    )

    body = api.get("/api/v1/marketplaces/").json()

    by_code = {m["code"]: m["sync_health"] for m in body}
    health = by_code[connection.code]
    assert health["state"] == "failing" and health["stale"] is False
    assert health["data_age_minutes"] == 0
    resources = {r["resource"]: r for r in health["resources"]}
    assert resources["orders"]["state"] == "ok" and resources["orders"]["last_error"] == ""
    assert resources["orders"]["data_age"] == "datos de hace menos de 1 min"
    assert resources["threads"]["label"] == "Mensajes"
    assert resources["threads"]["last_error"].startswith("Mirakl no responde")
    assert resources["threads"]["skipped_records"] == 3
    assert by_code["mm"]["state"] == "never"
    assert by_code["mm"]["resources"][0]["last_success_at"] is None
    assert "api_key" not in body[0]
    detail = api.get(f"/api/v1/marketplaces/{other.pk}/").json()
    assert detail["sync_health"]["state"] == "never"


def test_the_marketplaces_api_reads_the_cursors_once(
    django_assert_num_queries, django_user_model
) -> None:
    for code in ("a", "b", "c"):
        marketplace = MarketplaceConnectionFactory(code=code)
        _cursor(marketplace, "orders", last_success_at=timezone.now())
    user = UserFactory(username="ana", role="agent")
    api = APIClient()
    api.force_authenticate(user)
    # user's permissions (2), marketplaces they see (read with the token, but
    # force_authenticate has none), connections, cursors
    with django_assert_num_queries(5):
        response = api.get("/api/v1/marketplaces/")
    assert len(response.json()) == 3
