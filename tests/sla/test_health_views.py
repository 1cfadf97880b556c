"""The shop health pages, the suspended-shop banner and its summary, "refresh now", and
the rulebook's versions in the admin (Spanish, Madrid time, no Mirakl codes)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from core.roles import Role
from sla.health.banner import shop_state_banners_forget
from sla.models.health import Rulebook, RulebookVersion
from tests.factories.core import MarketplaceConnectionFactory, UserFactory
from tests.factories.incidents import IncidentFactory
from tests.factories.sla import (
    DailyCallFactory,
    ShopAccountSnapshotFactory,
    ShopStatisticsSnapshotFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client() -> Client:
    client = Client()
    client.force_login(UserFactory(role=Role.ACCOUNT_MANAGER))
    return client


@pytest.fixture
def agent_client() -> Client:
    client = Client()
    client.force_login(UserFactory(role=Role.AGENT))
    return client


@pytest.fixture
def admin_client_role() -> Client:
    client = Client()
    user = UserFactory(role=Role.ADMIN, is_staff=True)
    client.force_login(user)
    client.user = user  # type: ignore[attr-defined]
    return client


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_the_health_page_shows_each_criterion_in_spanish(manager_client, pccomponentes) -> None:
    ShopAccountSnapshotFactory(connection=pccomponentes, payable_balance=Decimal("1234.5"))
    ShopStatisticsSnapshotFactory(
        connection=pccomponentes,
        fetched_at=timezone.now() - timedelta(hours=3),
        mirakl_updated_at=timezone.make_aware(timezone.datetime(2026, 12, 1, 5, 30)),
    )
    response = manager_client.get("/sla/health/pcc/")
    assert response.status_code == 200
    html = response.content.decode()
    text = _text(response)
    assert "Salud de la tienda: PcComponentes" in text
    assert "Tasa de incidencias" in text and "7,60 %" in text.replace("\xa0", " ")
    assert "≥ 8,00 %" in text.replace("\xa0", " ")  # PcComponentes' alert
    assert "01/12/2026 05:30" in text  # Mirakl's date, Madrid time
    assert "1 234,50 €" in text.replace("\xa0", " ")
    assert 'data-criterion="active_incidents"' in html and "data-unknown-threshold" in html
    assert "<svg" in html or "todavía sin historia" in text
    for code in ("A01", "A21", "LAST_MONTH", "incident_rate", "AUTOMATIC_SUSPENSION"):
        assert code not in text, code


def test_the_index_lists_every_marketplace(manager_client, pccomponentes, mediamarkt) -> None:
    response = manager_client.get("/sla/health/")
    assert response.status_code == 200
    assert 'data-marketplace="pcc"' in response.content.decode()
    assert 'data-marketplace="mm"' in response.content.decode()
    assert "Todavía no se ha preguntado a Mirakl" in _text(response)


def test_refresh_now_says_when_the_next_call_is_allowed(admin_client_role, pccomponentes) -> None:
    called = timezone.now() - timedelta(hours=2)
    DailyCallFactory(connection=pccomponentes, call="A01", last_called_at=called)
    DailyCallFactory(connection=pccomponentes, call="A21", last_called_at=called)
    response = admin_client_role.post("/sla/health/pcc/refresh/", follow=True)
    text = _text(response)
    when = timezone.localtime(called + timedelta(days=1)).strftime("%d/%m/%Y %H:%M")
    assert "una vez al día" in text and when in text
    assert "A01" not in text and "A21" not in text


def test_refresh_now_when_allowed_queues_the_sync(
    admin_client_role, pccomponentes, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client_role.post("/sla/health/pcc/refresh/", follow=True)
    assert len(callbacks) == 1
    assert "Pedido a Mirakl" in _text(response)


# --------------------------------------------------------------------------- banner


@pytest.fixture
def suspended(pccomponentes):
    ShopAccountSnapshotFactory(
        connection=pccomponentes,
        shop_state="SUSPENDED",
        suspension_type="AUTOMATIC_SUSPENSION",
    )
    shop_state_banners_forget()
    return pccomponentes


def test_the_suspended_banner_shows_on_every_page_of_that_marketplace(
    agent_client, manager_client, suspended
) -> None:
    other = MarketplaceConnectionFactory(code="mm", name="MediaMarkt", sla_policy="mediamarkt")
    ours = IncidentFactory(line__order__connection=suspended)
    theirs = IncidentFactory(line__order__connection=other)

    for client, url in (
        (agent_client, "/"),
        (agent_client, "/incidents/"),
        (agent_client, f"/incidents/{ours.pk}/"),
        (manager_client, "/sla/"),
        (manager_client, "/sla/health/pcc/"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert 'data-shop-banner="pcc"' in html, url
        text = _text(response)
        assert "PcComponentes ha suspendido la tienda" in text, url
        assert "resolved todas las incidencias" in text, url
        assert "Account Manager" in text, url
        assert "AUTOMATIC_SUSPENSION" not in html, url
    # Not on a page of another marketplace.
    other_page = agent_client.get(f"/incidents/{theirs.pk}/").content.decode()
    assert "data-shop-banner" not in other_page
    # Only account managers (and admins) get the prepared summary.
    assert "sla/health/pcc/summary/" not in agent_client.get("/").content.decode()
    assert "sla/health/pcc/summary/" in manager_client.get("/").content.decode()


def test_the_banner_costs_no_query_once_cached(agent_client, suspended, django_assert_num_queries):
    from sla.health.banner import shop_state_banners

    shop_state_banners()  # the first page after an A01 answer reads it
    with django_assert_num_queries(0):
        assert [b.code for b in shop_state_banners()] == ["pcc"]


def test_the_banner_goes_when_the_shop_is_open_again(agent_client, suspended) -> None:
    assert "data-shop-banner" in agent_client.get("/").content.decode()
    ShopAccountSnapshotFactory(connection=suspended, fetched_at=timezone.now())
    shop_state_banners_forget()  # the sync does this when it stores an A01 answer
    assert "data-shop-banner" not in agent_client.get("/").content.decode()


def test_the_summary_to_copy(manager_client, suspended) -> None:
    IncidentFactory(line__order__connection=suspended, line__order__mirakl_id="59500001-A")
    response = manager_client.get("/sla/health/pcc/summary/")
    text = response.content.decode()
    assert "data-summary-text" in text and "data-copy" in text
    summary = re.search(r"<textarea[^>]*>(.*?)</textarea>", text, re.S).group(1)
    assert "Tienda Tienda de pruebas en PcComponentes" in summary
    assert "suspendida" in summary and "control de calidad" in summary
    assert "Incidencias abiertas: 1" in summary and "59500001-A" in summary
    assert "Plazos de respuesta incumplidos en los últimos 30 días" in summary
    assert "Acciones de los últimos 30 días" in summary
    assert "AUTOMATIC_SUSPENSION" not in summary


# --------------------------------------------------------------------------- rulebook


def test_editing_a_rulebook_records_who_changed_what(admin_client_role) -> None:
    book = Rulebook.objects.get(preset="mediamarkt")
    rows = list(book.thresholds.order_by("pk"))
    data = {
        "name": book.name,
        "preset": book.preset,
        "review_business_days": "3",
        "source": book.source,
        "thresholds-TOTAL_FORMS": str(len(rows)),
        "thresholds-INITIAL_FORMS": str(len(rows)),
        "thresholds-MIN_NUM_FORMS": "0",
        "thresholds-MAX_NUM_FORMS": "1000",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "0",
    }
    for i, row in enumerate(rows):
        values = {
            "id": row.pk,
            "rulebook": book.pk,
            "criterion": row.criterion,
            "alert_state": row.alert_state,
            "alert_comparison": row.alert_comparison,
            "alert_value": row.alert_value or "",
            "limit_state": row.limit_state,
            "limit_comparison": row.limit_comparison,
            "limit_value": row.limit_value or "",
        }
        if row.criterion == "incident_rate":  # the admin fills MediaMarkt's unknown rate
            values.update(alert_state="set", alert_value="4", limit_state="set", limit_value="5")
        data.update({f"thresholds-{i}-{key}": value for key, value in values.items()})
    response = admin_client_role.post(f"/admin/sla/rulebook/{book.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    version = RulebookVersion.objects.filter(rulebook=book).order_by("-number").first()
    assert version.number == 2 and version.changed_by == admin_client_role.user
    assert {(c["criterion"], c["field"]) for c in version.changes} == {
        ("incident_rate", "alert"),
        ("incident_rate", "limit"),
    }
    change = next(c for c in version.changes if c["field"] == "limit")
    assert change["before"]["state"] == "unknown"
    assert change["after"] == {"state": "set", "value": "5.00", "comparison": ">="}
    assert version.rules["thresholds"]["incident_rate"]["limit"]["value"] == "5.00"

    # Saving again without a change records nothing.
    admin_client_role.post(f"/admin/sla/rulebook/{book.pk}/change/", data)
    assert RulebookVersion.objects.filter(rulebook=book).count() == 2


def test_a_threshold_the_wrong_way_round_is_refused(admin_client_role) -> None:
    from sla.models.health import RulebookThreshold

    row = RulebookThreshold.objects.get(
        rulebook__preset="pccomponentes", criterion="acceptance_rate"
    )
    row.alert_comparison = ">="
    with pytest.raises(ValidationError) as refused:
        row.full_clean()
    assert "alert_comparison" in refused.value.message_dict


def test_the_overview_shows_the_order_value_held_by_open_incidents(agent_client, pccomponentes):
    from tests.factories.core import OrderLineFactory

    first = IncidentFactory(line__order__connection=pccomponentes, line__order__total_price=100)
    # Two incidents on one order count that order once; a closed one holds nothing.
    IncidentFactory(
        line=OrderLineFactory(order=first.order, mirakl_id="second-line"), opened_at=first.opened_at
    )
    IncidentFactory(line__order__connection=pccomponentes, line__order__total_price="25.50")
    IncidentFactory(
        line__order__connection=pccomponentes,
        line__order__total_price=999,
        closed_at=timezone.now(),
        state="closed",
    )
    page = agent_client.get("/").content.decode()
    assert 'data-held-value="125.50"' in page
    assert f"125,50{chr(160)}€" in page and "2 pedidos" in page


def test_refresh_now_from_the_admin_respects_the_day(admin_client_role, pccomponentes) -> None:
    called = timezone.now() - timedelta(hours=5)
    row = DailyCallFactory(connection=pccomponentes, call="A01", last_called_at=called)
    DailyCallFactory(connection=pccomponentes, call="A21", last_called_at=called)
    response = admin_client_role.post(
        "/admin/sla/dailycall/",
        {"action": "refresh_now", "_selected_action": [row.pk]},
        follow=True,
    )
    text = _text(response)
    when = timezone.localtime(called + timedelta(days=1)).strftime("%d/%m/%Y %H:%M")
    assert "PcComponentes: Mirakl permite una consulta al día; la próxima, el " + when in text
