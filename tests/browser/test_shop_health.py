"""The shop health page in a real browser, on demo-like data: the sandbox's shop synced,
its statistics just inside PcComponentes' alerts (as the demo seeds them), the messages
waiting for the shop pushing the response time across the alert within the week.

Headless Debian Chromium driven by Playwright against ``live_server`` and the in-process
sandbox; the screenshot goes to ``artifacts/shop-health.png``.
"""

from __future__ import annotations

import pytest

from core.roles import ROLE_PERMISSIONS, Role
from core.sync.runner import marketplace_sync
from sla.health.figures import marketplace_health
from sla.health.rulebook import rulebooks_install
from sla.health.sync import shop_health_sync
from sla.services import sla_sweep
from tests.browser.test_workspace import ARTIFACTS, PASSWORD, _permissions, launched
from tests.browser.test_workspace import chromium as chromium  # noqa: F401 - fixture
from tests.factories.core import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_health_page_shows_a_projected_crossing(
    live_server, chromium, connection, sandbox, sandbox_client
) -> None:
    # A transactional test may have flushed the migrations' data: the presets again.
    rulebooks_install()
    connection.sla_policy = "pccomponentes"
    connection.save(update_fields=["sla_policy"])
    marketplace_sync(connection=connection, client=sandbox_client)
    sla_sweep(full=True)
    result = shop_health_sync(connection=connection)
    assert result.account is not None and result.statistics, result.errors
    manager = UserFactory(username="lucia", first_name="Lucía", password=PASSWORD)
    manager.user_permissions.add(*_permissions(ROLE_PERMISSIONS[Role.ACCOUNT_MANAGER]))

    health = marketplace_health(connection=connection)
    crossing = {c.key: c.crossing for c in health.criteria if c.crossing}
    assert crossing, "the demo-like data shows no projected crossing"
    key = next(iter(crossing))
    ARTIFACTS.mkdir(exist_ok=True)

    with launched(chromium) as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1100}, locale="es-ES")
        page.set_default_timeout(10_000)
        page.goto(f"{live_server.url}/accounts/login/?next=/sla/health/")
        page.fill("#id_username", "lucia")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/sla/health/")
        page.click(f"[data-marketplace='{connection.code}'] h2 a")
        page.wait_for_url(f"**/sla/health/{connection.code}/")

        assert page.locator("h1").inner_text() == f"Salud de la tienda: {connection.name}"
        row = page.locator(f"tr[data-criterion='{key}']")
        badge = row.locator("[data-crossing]")
        assert badge.is_visible()
        kind, days = crossing[key][0], crossing[key][1]
        expected = ("Límite" if kind == "limit" else "Alerta") + f" en {days} día"
        assert badge.inner_text().startswith(expected)
        assert row.locator("svg.sparkline").count() == 1
        detail = page.locator(f"tr[data-criterion-detail='{key}']")
        assert detail.locator("[data-projection] li").count() == 8
        # Mirakl's figure with its date, the thresholds, the state: no Mirakl code shown.
        text = page.locator("main").inner_text()
        assert "Tasa de incidencias" in text and "7,60 %" in text.replace("\xa0", " ")
        assert "≥ 8,00 %" in text.replace("\xa0", " ")
        for code in ("LAST_MONTH", "A21", "A01", "order_messages_response_delay"):
            assert code not in text
        page.screenshot(path=str(ARTIFACTS / "shop-health.png"), full_page=True)
