"""Login failure limit, "log out everywhere", CSP and templates without inline scripts."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.test import Client
from rest_framework.authtoken.models import Token

from core.auth_views import login_failures_clear

pytestmark = pytest.mark.django_db

PASSWORD = "x-Strong-pass-42"


@pytest.fixture
def user():
    user = User.objects.create_user(username=f"agent-{uuid.uuid4().hex[:8]}", password=PASSWORD)
    yield user
    login_failures_clear(_request(), user.username)


def _login(client: Client, username: str, password: str, url: str = "/accounts/login/"):
    return client.post(url, {"username": username, "password": password})


def test_login_works(user) -> None:
    response = _login(Client(), user.username, PASSWORD)
    assert response.status_code == 302


def test_five_failures_lock_the_user_from_that_address(user, settings) -> None:
    settings.LOGIN_FAILURE_LIMIT = 5
    client = Client()
    for _ in range(5):
        response = _login(client, user.username, "wrong")
        assert response.status_code == 200
    locked = _login(client, user.username, PASSWORD)  # even the right password
    assert locked.status_code == 429
    assert _refused(locked)
    assert "_auth_user_id" not in client.session
    # Another address is not locked out by these failures.
    other = Client(REMOTE_ADDR="10.1.2.3")
    assert _login(other, user.username, PASSWORD).status_code == 302


def test_a_success_resets_the_count(user, settings) -> None:
    settings.LOGIN_FAILURE_LIMIT = 3
    client = Client()
    for _ in range(2):
        _login(client, user.username, "wrong")
    assert _login(client, user.username, PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        _login(client, user.username, "wrong")
    assert _login(client, user.username, PASSWORD).status_code == 302


def test_the_lock_expires_after_the_window(user, settings) -> None:
    import time
    from datetime import timedelta

    settings.LOGIN_FAILURE_LIMIT = 1
    settings.LOGIN_FAILURE_WINDOW = timedelta(seconds=1)
    client = Client()
    _login(client, user.username, "wrong")
    assert _login(client, user.username, PASSWORD).status_code == 429
    time.sleep(1.2)  # the cache expires the counter with the window
    assert _login(client, user.username, PASSWORD).status_code == 302


def _refused(response) -> bool:
    """The form refused for too many failures, and the page shows why (any language)."""
    form = response.context["form"]
    message = str(form.non_field_errors()[0])
    return form.has_error("__all__", code="too_many_attempts") and (
        message[:20] in response.content.decode()
    )


def _request():
    from django.test import RequestFactory

    return RequestFactory().get("/")


def test_the_admin_login_has_the_same_limit(settings) -> None:
    settings.LOGIN_FAILURE_LIMIT = 2
    admin = User.objects.create_superuser(
        username=f"boss-{uuid.uuid4().hex[:8]}", password=PASSWORD, email=""
    )
    client = Client()
    for _ in range(2):
        _login(client, admin.username, "wrong", url="/admin/login/")
    response = _login(client, admin.username, PASSWORD, url="/admin/login/")
    assert response.status_code == 200
    assert _refused(response)
    assert "_auth_user_id" not in client.session
    login_failures_clear(_request(), admin.username)


def test_logout_everywhere_ends_every_session_and_the_token(user) -> None:
    laptop, phone = Client(), Client()
    laptop.force_login(user)
    phone.force_login(user)
    other = User.objects.create_user(username=f"other-{uuid.uuid4().hex[:8]}")
    bystander = Client()
    bystander.force_login(other)
    token = Token.objects.create(user=user)

    assert laptop.get("/accounts/logout-everywhere/").status_code == 200
    response = laptop.post("/accounts/logout-everywhere/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")

    assert phone.get("/").status_code == 302  # back to the login page
    assert not Token.objects.filter(pk=token.pk).exists()
    api = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/v1/incidents/").status_code == 401
    assert bystander.get("/api/v1/incidents/").status_code in (200, 403)
    remaining = [s.get_decoded().get("_auth_user_id") for s in Session.objects.all()]
    assert str(user.pk) not in remaining
    assert str(other.pk) in remaining


def test_logout_everywhere_needs_a_login(db) -> None:
    response = Client().post("/accounts/logout-everywhere/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_responses_carry_a_strict_csp(user) -> None:
    client = Client()
    client.force_login(user)
    response = client.get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert directives["frame-ancestors"] == "'none'"


TEMPLATES = Path(settings.BASE_DIR) / "templates"


@pytest.mark.parametrize(
    "template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES))
)
def test_templates_have_no_inline_script(template: Path) -> None:
    html = template.read_text()
    for tag in re.findall(r"<script\b[^>]*>", html, flags=re.IGNORECASE):
        assert "src=" in tag, f"inline <script> in {template}: {tag}"
    assert not re.search(r"\son[a-z]+\s*=", html, flags=re.IGNORECASE), "inline event handler"
    assert "javascript:" not in html.lower()


def test_message_html_is_escaped_in_pages() -> None:
    from django.template import Template
    from django.template.context import Context
    from django.utils import timezone

    from messaging.selectors import ConversationItem
    from messaging.templatetags.conversation import message_html

    body = 'Hola <script>alert("x")</script>\n<img src=x onerror=alert(1)>'
    rendered = Template("{{ body|linebreaksbr }}").render(Context({"body": body}))
    assert "<script>" not in rendered and "<img" not in rendered
    assert "&lt;script&gt;" in rendered
    item = ConversationItem(
        at=timezone.now(),
        author_type="CUSTOMER",
        author_name="<b>Lucía</b>",
        recipients=["SHOP"],
        body=body,
    )
    html = message_html(item, incident=None)
    assert "<script>" not in html and "<img" not in html and "<b>Lucía" not in html
    assert "&lt;script&gt;" in html


def test_user_and_permissions_come_in_one_query(django_assert_num_queries) -> None:
    """The backend loads the user with their own and their groups' permissions."""
    from django.contrib.auth.models import Group, Permission

    from core.backends import UserWithPermissionsBackend

    group = Group.objects.create(name="desk")
    group.permissions.add(Permission.objects.get(codename="view_incident"))
    user = User.objects.create_user("perms", password="x" * 12)  # noqa: S106
    user.groups.add(group)
    user.user_permissions.add(Permission.objects.get(codename="reply_incident"))
    User.objects.create_user("inactive", is_active=False)

    backend = UserWithPermissionsBackend()
    with django_assert_num_queries(1):
        loaded = backend.get_user(user.pk)
        assert loaded.has_perm("incidents.view_incident")
        assert loaded.has_perm("incidents.reply_incident")
        assert not loaded.has_perm("incidents.resolve_incident")
    assert loaded.get_all_permissions() == {"incidents.view_incident", "incidents.reply_incident"}
    assert backend.get_user(User.objects.get(username="inactive").pk) is None
    assert backend.get_user(0) is None
