"""Every browser page and admin page answers each role as the role's permissions say.

The table is the contract of ``core/roles.py`` and the README ("Roles") for the
pages, as ``tests/api/test_permissions.py`` is for the API: one row per URL, the exact
status for each role. Anonymous users go to the login page (the admin's own for the
admin's index), users without the permission get 403 (in the admin, non-staff users get
the admin's login page), unknown objects 404. POSTs send an invalid or a side-effect-free
payload where the view allows it, so an allowed role gets the form back with its errors
(200/400).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

from core.roles import Role
from sla.models import Rulebook
from tests.api import conftest as api_fixtures

pytestmark = pytest.mark.django_db

# Fixtures shared with the API tests: a user per role, and one of everything.
desk = api_fixtures.desk
make_user = api_fixtures.make_user

ANON, NOBODY, ROOT = "anonymous", "no-group", "superuser"
AGENT, MANAGER, ADMIN = Role.AGENT, Role.ACCOUNT_MANAGER, Role.ADMIN
LOGGED_IN = (NOBODY, AGENT, MANAGER, ADMIN, ROOT)

#: An expected ``str`` is a 302 to that location (filled like the path).
LOGIN = "/accounts/login/?next={next}"
ADMIN_LOGIN = "/admin/login/?next={next}"

#: Who holds each permission the pages check (see ``core/roles.py``).
READERS = {AGENT, MANAGER, ADMIN, ROOT}  # incidents.view_incident and the other reads
DESK = {AGENT, ROOT}  # reply, resolve, assign, refund
REVIEWERS = {MANAGER, ADMIN, ROOT}  # incidents.review_sla and incidents.export_data
STAFF = {ADMIN, ROOT}  # may enter the Django admin
EVERYONE = set(LOGGED_IN)  # pages of one's own: notifications, language, logout


def page(allowed: set[str], ok: int | str, *, denied: int | str = 403) -> dict[str, int | str]:
    """A page behind the login: ``ok`` for ``allowed`` roles, ``denied`` for the others."""
    return {ANON: LOGIN} | {role: ok if role in allowed else denied for role in LOGGED_IN}


def admin_page(allowed: set[str], ok: int | str) -> dict[str, int | str]:
    """An admin page: non-staff users get the admin's login, staff without the model's
    permission 403. Anonymous users meet the site's login first (LoginRequiredMiddleware
    lets only the admin's index and login through)."""
    return {ANON: LOGIN} | {
        role: ok if role in allowed else 403 if role in STAFF else ADMIN_LOGIN for role in LOGGED_IN
    }


INCIDENT = "/incidents/{incident}/"
KEY = "{key}"  # a fresh idempotency key

#: (name, method, path, data, {role: status or redirect location}).
CASES: list[tuple[str, str, str, dict[str, Any] | None, dict[str, int | str]]] = [
    # ------------------------------------------------------------------ accounts
    ("login page", "get", "/accounts/login/", None, page(EVERYONE, 200) | {ANON: 200}),
    ("logout everywhere", "get", "/accounts/logout-everywhere/", None, page(EVERYONE, 200)),
    (
        "logout everywhere confirmed",
        "post",
        "/accounts/logout-everywhere/",
        {},
        page(EVERYONE, "/accounts/login/"),
    ),
    ("api docs", "get", "/api/docs/", None, page(EVERYONE, 200)),
    # The language switch is on the login page too: it needs no login.
    (
        "language",
        "post",
        "/i18n/setlang/",
        {"language": "en", "next": "/incidents/"},
        page(EVERYONE, "/incidents/") | {ANON: "/incidents/"},
    ),
    (
        "favicon",
        "get",
        "/favicon.ico",
        None,
        page(EVERYONE, "/static/favicon.svg") | {ANON: "/static/favicon.svg"},
    ),
    # ------------------------------------------------------------------ incidents
    ("overview", "get", "/", None, page(READERS, 200)),
    ("inbox", "get", "/incidents/", None, page(READERS, 200)),
    ("incident page", "get", INCIDENT, None, page(READERS, 200)),
    ("incident page missing", "get", "/incidents/999999/", None, page(READERS, 404)),
    (
        "incident by order",
        "get",
        "/incidents/order/{connection}/{order}/",
        None,
        page(READERS, INCIDENT),
    ),
    (
        "incident by order missing",
        "get",
        "/incidents/order/{connection}/nope-1/",
        None,
        page(READERS, 404),
    ),
    ("assign", "post", INCIDENT + "assign/", {"assignee": "999999"}, page(DESK, 400)),
    ("assign missing", "post", "/incidents/999999/assign/", {"assignee": ""}, page(DESK, 404)),
    ("assign read", "get", INCIDENT + "assign/", None, page(EVERYONE, 405)),
    ("note", "post", INCIDENT + "notes/", {"body": ""}, page(DESK, 400)),
    ("note missing", "post", "/incidents/999999/notes/", {"body": "Hola"}, page(DESK, 404)),
    ("resolve", "post", INCIDENT + "resolve/", {"reason_code": "nope"}, page(DESK, 400)),
    (
        "resolve missing",
        "post",
        "/incidents/999999/resolve/",
        {"reason_code": "INC_SOLVED_DELIVERED"},
        page(DESK, 404),
    ),
    ("audit export", "get", "/audit/export.csv", None, page(REVIEWERS, 200)),
    (
        "audit export bad dates",
        "get",
        "/audit/export.csv?date_from=nope",
        None,
        page(REVIEWERS, 400),
    ),
    # ------------------------------------------------------------------ conversations
    ("reply", "post", INCIDENT + "threads/{thread}/reply/", {}, page(DESK, 200)),
    (
        "reply missing thread",
        "post",
        INCIDENT + "threads/999999/reply/",
        {},
        page(DESK, 404),
    ),
    ("no reply", "post", INCIDENT + "threads/{thread}/no-reply/", {}, page(DESK, 200)),
    (
        "no reply missing incident",
        "post",
        "/incidents/999999/threads/{thread}/no-reply/",
        {},
        page(DESK, 404),
    ),
    ("new thread", "post", INCIDENT + "threads/new/", {}, page(DESK, 200)),
    # The message is not failed: the retry changes nothing and goes back to the page.
    (
        "outbox retry",
        "post",
        INCIDENT + "outbox/{outbound}/retry/",
        {},
        page(DESK, INCIDENT + "#conversations"),
    ),
    ("outbox retry missing", "post", INCIDENT + "outbox/999999/retry/", {}, page(DESK, 404)),
    ("reply lint", "post", INCIDENT + "lint/", {"body": "Hola"}, page(DESK, 200)),
    ("canned reply", "get", INCIDENT + "canned/?prefix=new&canned={canned}", None, page(DESK, 200)),
    (
        "canned reply missing",
        "get",
        INCIDENT + "canned/?prefix=new&canned=999999",
        None,
        page(DESK, 404),
    ),
    ("conversation poll", "get", INCIDENT + "conversations/", None, page(READERS, 200)),
    (
        "conversation poll missing",
        "get",
        "/incidents/999999/conversations/",
        None,
        page(READERS, 404),
    ),
    ("document", "get", INCIDENT + "attachments/{attachment}/", None, page(READERS, 200)),
    ("document not on the order", "get", INCIDENT + "attachments/nope/", None, page(READERS, 404)),
    # ------------------------------------------------------------------ the order's pages
    ("order history", "get", "/orders/{order_pk}/history/", None, page(READERS, 200)),
    ("order history missing", "get", "/orders/999999/history/", None, page(READERS, 404)),
    ("order documents", "get", "/documents/orders/{order_pk}/", None, page(READERS, 200)),
    ("order documents missing", "get", "/documents/orders/999999/", None, page(READERS, 404)),
    (
        "order document not on the order",
        "get",
        "/documents/orders/{order_pk}/nope/download/",
        None,
        page(READERS, 404),
    ),
    ("order document upload", "post", "/documents/orders/{order_pk}/upload/", {}, page(DESK, 200)),
    # ------------------------------------------------------------------ refunds
    ("refunds panel", "get", "/refunds/incidents/{incident}/", None, page(READERS, 200)),
    ("refunds panel missing", "get", "/refunds/incidents/999999/", None, page(READERS, 404)),
    ("full refund form", "get", "/refunds/incidents/{incident}/full/", None, page(DESK, 200)),
    (
        "full refund review",
        "post",
        "/refunds/incidents/{incident}/full/",
        {"reason_code": "17", "idempotency_key": KEY},
        page(DESK, 200),
    ),
    # A total other than the summary's goes back to the summary; nothing is created.
    (
        "full refund confirm",
        "post",
        "/refunds/incidents/{incident}/full/",
        {"reason_code": "17", "idempotency_key": KEY, "confirmed": "on", "expected_total": "0.01"},
        page(DESK, 200),
    ),
    ("full refund missing", "get", "/refunds/incidents/999999/full/", None, page(DESK, 404)),
    ("partial refund form", "get", "/refunds/incidents/{incident}/partial/", None, page(DESK, 200)),
    (
        "partial refund review",
        "post",
        "/refunds/incidents/{incident}/partial/",
        {},
        page(DESK, 200),
    ),
    ("refund approvals", "get", "/refunds/approvals/", None, page(DESK, 200)),
    (
        "refund approve",
        "post",
        "/refunds/requests/{refund_request}/approve/",
        {},
        page(DESK, "/refunds/approvals/"),
    ),
    ("refund approve missing", "post", "/refunds/requests/999999/approve/", {}, page(DESK, 404)),
    (
        "refund reject without reason",
        "post",
        "/refunds/requests/{refund_request}/reject/",
        {},
        page(DESK, "/refunds/approvals/"),
    ),
    ("refund reject missing", "post", "/refunds/requests/999999/reject/", {}, page(DESK, 404)),
    # ------------------------------------------------------------------ SLA, notifications
    ("sla review", "get", "/sla/", None, page(REVIEWERS, 200)),
    ("sla breaches csv", "get", "/sla/breaches.csv", None, page(REVIEWERS, 200)),
    ("sla kpis csv", "get", "/sla/kpis.csv", None, page(REVIEWERS, 200)),
    ("shop health", "get", "/sla/health/", None, page(REVIEWERS, 200)),
    ("shop health page", "get", "/sla/health/pccomponentes/", None, page(REVIEWERS, 200)),
    ("shop health missing", "get", "/sla/health/nope/", None, page(REVIEWERS, 404)),
    (
        "shop health summary",
        "get",
        "/sla/health/pccomponentes/summary/",
        None,
        page(REVIEWERS, 200),
    ),
    # "Refresh now" asks the once-a-day gate (nothing reaches Mirakl in this test).
    (
        "shop health refresh",
        "post",
        "/sla/health/pccomponentes/refresh/",
        {},
        page(STAFF, "/sla/health/pccomponentes/"),
    ),
    (
        "shop health refresh read",
        "get",
        "/sla/health/pccomponentes/refresh/",
        None,
        page(EVERYONE, 405),
    ),
    ("notifications", "get", "/notifications/", None, page(EVERYONE, 200)),
    ("notification bell", "get", "/notifications/bell/", None, page(EVERYONE, 200)),
    # ------------------------------------------------------------------ admin
    ("admin index", "get", "/admin/", None, admin_page(STAFF, 200) | {ANON: ADMIN_LOGIN}),
    (
        "admin connections",
        "get",
        "/admin/core/marketplaceconnection/",
        None,
        admin_page(STAFF, 200),
    ),
    (
        "admin connection add",
        "get",
        "/admin/core/marketplaceconnection/add/",
        None,
        admin_page(STAFF, 200),
    ),
    (
        "admin connection",
        "get",
        "/admin/core/marketplaceconnection/{connection_pk}/change/",
        None,
        admin_page(STAFF, 200),
    ),
    # The admin answers an unknown object with its index and a message, not a 404.
    (
        "admin connection missing",
        "get",
        "/admin/core/marketplaceconnection/999999/change/",
        None,
        admin_page(STAFF, "/admin/"),
    ),
    ("admin users", "get", "/admin/auth/user/", None, admin_page(STAFF, 200)),
    ("admin audit log", "get", "/admin/incidents/auditentry/", None, admin_page(STAFF, 200)),
    (
        "admin skipped records",
        "get",
        "/admin/core/skippedrecord/",
        None,
        admin_page(STAFF, 200),
    ),
    (
        "admin refund requests",
        "get",
        "/admin/refunds/refundrequest/",
        None,
        admin_page({ROOT}, 200),
    ),
    # What admins configure (core.roles).
    ("admin sla policies", "get", "/admin/sla/slapolicy/", None, admin_page(STAFF, 200)),
    (
        "admin calendars",
        "get",
        "/admin/sla/businesscalendar/add/",
        None,
        admin_page(STAFF, 200),
    ),
    ("admin alert settings", "get", "/admin/sla/alertsettings/", None, admin_page(STAFF, 200)),
    ("admin rulebooks", "get", "/admin/sla/rulebook/", None, admin_page(STAFF, 200)),
    (
        "admin rulebook",
        "get",
        "/admin/sla/rulebook/{rulebook}/change/",
        None,
        admin_page(STAFF, 200),
    ),
    ("admin daily calls", "get", "/admin/sla/dailycall/", None, admin_page(STAFF, 200)),
    (
        "admin shop accounts",
        "get",
        "/admin/core/shopaccountsnapshot/",
        None,
        admin_page(STAFF, 200),
    ),
    (
        "admin shop statistics",
        "get",
        "/admin/sla/shopstatisticssnapshot/",
        None,
        admin_page(STAFF, 200),
    ),
    ("admin health episodes", "get", "/admin/sla/healthepisode/", None, admin_page(STAFF, 200)),
    ("admin refund limits", "get", "/admin/refunds/refundlimit/add/", None, admin_page(STAFF, 200)),
    (
        "admin canned replies",
        "get",
        "/admin/messaging/cannedreply/add/",
        None,
        admin_page(STAFF, 200),
    ),
    ("admin api tokens", "get", "/admin/authtoken/tokenproxy/add/", None, admin_page(STAFF, 200)),
]

PARAMS = [
    pytest.param(method, path, data, role, expected, id=f"{name}-{role}")
    for name, method, path, data, statuses in CASES
    for role, expected in statuses.items()
]


@pytest.fixture
def client_for(make_user, admin_user):
    """``client_for(role)``: a browser logged in with that role ("anonymous": nobody).

    The admin role's users are staff (they work in the Django admin); the superuser is
    pytest-django's ``admin_user``."""

    def make(role: str) -> Client:
        client = Client()
        if role == ANON:
            return client
        if role == ROOT:
            user = admin_user
        else:
            user = make_user(None if role == NOBODY else role)
            if role == ADMIN:
                user.is_staff = True
                user.save(update_fields=["is_staff"])
        client.force_login(user)
        return client

    return make


def _sandbox(request: pytest.FixtureRequest, desk: dict[str, Any]) -> str:
    """The desk's marketplace pointed at a Mirakl sandbox (the documents are read live)."""
    from tests.conftest import SANDBOX_KEY

    sandbox = request.getfixturevalue("sandbox")
    connection = desk["connection"]
    connection.base_url, connection.api_key = sandbox.base_url, SANDBOX_KEY
    connection.save()
    return sandbox.base_url


def _attachment(request: pytest.FixtureRequest, desk: dict[str, Any]) -> str:
    """A document on the desk's order that the Mirakl sandbox serves (M13)."""
    from tests.conftest import SANDBOX_KEY
    from tests.factories.messaging import MessageFactory

    sandbox = request.getfixturevalue("sandbox")
    connection = desk["connection"]
    connection.base_url, connection.api_key = sandbox.base_url, SANDBOX_KEY
    connection.save()
    attachment_id = next(iter(sandbox.state.attachments))
    MessageFactory(
        thread=desk["thread"], attachments=[{"id": attachment_id, "name": "factura.pdf"}]
    )
    return attachment_id


@pytest.mark.parametrize(("method", "path", "data", "role", "expected"), PARAMS)
def test_page_answers_role(request, client_for, desk, method, path, data, role, expected) -> None:
    from tests.factories.messaging import CannedReplyFactory, OutboundMessageFactory

    values = {
        "incident": desk["incident"].pk,
        "connection": desk["connection"].code,
        "connection_pk": desk["connection"].pk,
        "order": desk["order"].mirakl_id,
        "order_pk": desk["order"].pk,
        "thread": desk["thread"].pk,
        "refund_request": desk["refund_request"].pk,
        "outbound": OutboundMessageFactory(thread=desk["thread"]).pk,
        "canned": CannedReplyFactory().pk,
        "attachment": _attachment(request, desk) if "{attachment}" in path else "",
        "documents": _sandbox(request, desk) if path.startswith("/documents/") else "",
        "rulebook": Rulebook.objects.get(preset="pccomponentes").pk,
    }
    url = path.format(**values)
    if data is not None:
        data = {k: str(uuid.uuid4()) if v == KEY else v for k, v in data.items()}
    response = getattr(client_for(role), method)(url, data)
    body = b"".join(response) if response.streaming else response.content

    if isinstance(expected, str):
        location = expected.format(**values, next=quote(url, safe="/"))
        assert (response.status_code, response.get("Location")) == (302, location)
    else:
        assert response.status_code == expected, body[:500]
    # No page, whoever asks, shows the marketplace's API key.
    assert desk["connection"].api_key.encode() not in body
