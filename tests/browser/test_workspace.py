"""The agent workspace in a real browser: log in, filter, open, reply, see it delivered.

Headless Debian Chromium driven by Playwright against pytest-django's ``live_server``
and the in-process Mirakl sandbox. Screenshots go to ``artifacts/`` (gitignored).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission

from core.roles import ROLE_PERMISSIONS, Role
from core.sync.runner import marketplace_sync
from messaging.models import Party, Thread
from sla.services import sla_sweep
from tests.factories.core import UserFactory

# live_server needs committed data. pytest-django runs transactional tests last and
# another one may have flushed the migrations' data (groups) before: the agent gets its
# role's permissions directly.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
PASSWORD = "una-contraseña-larga"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    return CHROMIUM


@contextmanager
def launched(chromium: Path) -> Iterator[object]:
    """Headless Chromium. Make every database call before: inside Playwright's sync API
    (a greenlet with an event loop) the ORM would open a connection of its own."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _permissions(names: list[str]) -> list[Permission]:
    wanted = {tuple(name.split(".", 1)) for name in names}
    return [
        p
        for p in Permission.objects.select_related("content_type")
        if (p.content_type.app_label, p.codename) in wanted
    ]


def _target_thread() -> Thread:
    """A thread of an open incident, last written by the customer, with a customer id.

    One where the operator never wrote is preferred: copying the operator there shows
    the warning.
    """
    candidates = [
        thread
        for thread in Thread.objects.filter(
            order__incidents__pk__isnull=False,
            order__incidents__closed_at__isnull=True,
            last_sender_type=Party.CUSTOMER,
        )
        .select_related("order")
        .order_by("pk")
        if any(p.get("type") == Party.CUSTOMER for p in thread.authorized_participants)
    ]
    assert candidates, "no open incident thread waiting on the customer"
    quiet = [t for t in candidates if not t.messages.filter(author_type=Party.OPERATOR).exists()]
    return (quiet or candidates)[0]


def test_agent_replies_from_the_browser(
    live_server, chromium, connection, sandbox, sandbox_client
) -> None:
    marketplace_sync(connection=connection, client=sandbox_client)
    sla_sweep(full=True)
    agent = UserFactory(username="marta", first_name="Marta", last_name="Ruiz", password=PASSWORD)
    agent.user_permissions.add(*_permissions(ROLE_PERMISSIONS[Role.AGENT]))
    thread = _target_thread()
    open_incidents = thread.order.incidents.filter(closed_at__isnull=True).order_by("pk")
    target = Target(
        thread_pk=thread.pk,
        incident_pk=open_incidents[0].pk,
        order_id=thread.order.mirakl_id,
        open_on_order=open_incidents.count(),
        operator_wrote=thread.messages.filter(author_type=Party.OPERATOR).exists(),
    )
    ARTIFACTS.mkdir(exist_ok=True)
    body = "Hola, sentimos las molestias. Hoy mismo te enviamos una unidad nueva sin coste."
    with launched(chromium) as browser:
        _reply_in_browser(browser, live_server.url, target, body)

    # Delivered to Mirakl: the sandbox's thread holds it once, to the customer only.
    messages = sandbox.state.thread_payload(thread.mirakl_id)["messages"]
    mine = [m for m in messages if m["body"] == body]
    assert len(mine) == 1
    assert [r["type"] for r in mine[0]["to"]] == ["CUSTOMER"]


@dataclass(frozen=True, slots=True)
class Target:
    """What the browser part needs, read from the database before the browser starts."""

    thread_pk: int
    incident_pk: int
    order_id: str
    open_on_order: int
    operator_wrote: bool


def _reply_in_browser(browser, base_url: str, target: Target, body: str) -> None:
    thread_pk, order_id = target.thread_pk, target.order_id
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="es-ES")
    page.set_default_timeout(10_000)

    # Log in.
    page.goto(f"{base_url}/accounts/login/?next=/incidents/")
    page.fill("#id_username", "marta")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#incident-table")
    assert page.locator("#incident-table tbody tr[data-incident]").count() > 1
    page.screenshot(path=str(ARTIFACTS / "inbox.png"), full_page=True)

    # Filter: the table is replaced by htmx, the URL follows.
    page.fill("#id_q", order_id)
    page.wait_for_function(
        "n => document.querySelectorAll('#incident-table tbody tr[data-incident]').length === n",
        arg=target.open_on_order,
    )
    assert f"q={order_id}" in page.url
    assert order_id in page.locator("#incident-table").inner_text()

    # Open the incident.
    page.click(f"#incident-table a.order-link[href$='/incidents/{target.incident_pk}/']")
    page.wait_for_selector(f"#thread-{thread_pk}")
    assert order_id in page.locator(".incident-header").inner_text()
    box = page.locator(f"#thread-{thread_pk} form.reply-box")
    assert box.locator("input[value=CUSTOMER]").is_checked()  # the customer wrote last

    # Copying an operator who never wrote here shows the warning before sending.
    box.locator("input[value=BOTH]").check()
    assert box.locator(".warn-operator").is_visible() is not target.operator_wrote
    box.locator("input[value=CUSTOMER]").check()
    assert not box.locator(".warn-operator").is_visible()

    # The linter warns while writing, without blocking.
    box.locator("textarea").fill("Hello, we are sorry, we will send you a new one today.")
    page.wait_for_selector(f"#lint-{thread_pk} [data-warning=language]")

    box.locator("textarea").fill(body)
    page.screenshot(path=str(ARTIFACTS / "incident.png"), full_page=True)
    box.locator("button[type=submit]").click()

    # Delivered: the message shows in the thread with its delivery state.
    sent = page.locator(f"#thread-{thread_pk} .msg.pending", has_text="Hoy mismo te enviamos")
    sent.wait_for()
    assert sent.locator("[data-delivery=sent]").count() == 1
    assert page.locator(f"#thread-{thread_pk} [data-needs-reply]").count() == 0
    page.screenshot(path=str(ARTIFACTS / "incident-replied.png"), full_page=True)


def _log_in(browser, base_url: str, username: str, next_url: str):
    """A browser context of its own (cookies apart, as another agent's machine), logged in
    and on ``next_url``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{base_url}/accounts/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#incident-header")
    return page


def test_two_agents_on_one_incident_see_each_other(live_server, chromium) -> None:
    from tests.factories.incidents import IncidentFactory

    permissions = _permissions(ROLE_PERMISSIONS[Role.AGENT])
    for username, first, last in (("ana", "Ana", "López"), ("marta", "Marta", "Ruiz")):
        user = UserFactory(username=username, first_name=first, last_name=last, password=PASSWORD)
        user.user_permissions.add(*permissions)
    url = f"/incidents/{IncidentFactory().pk}/"
    ARTIFACTS.mkdir(exist_ok=True)

    with launched(chromium) as browser:
        ana = _log_in(browser, live_server.url, "ana", url)
        assert ana.locator("#incident-presence").is_hidden()  # alone on it
        ana.evaluate("() => { window.presenceMarker = 1 }")  # gone if the page reloads

        # Marta opens it: Ana is named at once, and Marta is warned before replying.
        marta = _log_in(browser, live_server.url, "marta", url)
        assert marta.locator("#incident-presence").inner_text() == "Also viewing: Ana López"
        assert marta.locator("#presence-warning").inner_text() == (
            "Ana López is also on this incident: check before replying."
        )

        # Ana's page shows Marta at its next live refresh (every 10 s), without a reload.
        ana.wait_for_selector("#incident-presence strong:text-is('Marta Ruiz')", timeout=15_000)
        assert ana.locator("#incident-presence").inner_text() == "Also viewing: Marta Ruiz"
        assert ana.locator("#presence-warning").is_visible()
        assert ana.evaluate("() => window.presenceMarker") == 1
        ana.screenshot(path=str(ARTIFACTS / "incident-presence.png"))
