"""Nobody gets more from the admin than their role gives (``core.admin_accounts``).

Each escalation path is tried by every role: agents and account managers are not staff
(the admin sends them to its login page); the admin role reaches the forms and is refused
or has the field ignored; the superuser, who may do all of it, shows the attempt would
work if nothing stopped it.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from rest_framework.authtoken.models import Token

from core.roles import Role
from tests.api import conftest as api_fixtures

pytestmark = pytest.mark.django_db

make_user = api_fixtures.make_user

AGENT, MANAGER, ADMIN, ROOT = Role.AGENT, Role.ACCOUNT_MANAGER, Role.ADMIN, "superuser"
ROLES = (AGENT, MANAGER, ADMIN, ROOT)


@pytest.fixture
def actor(request, make_user) -> User:
    """The user trying: one per role (the admin role's users are staff)."""
    role = request.param
    if role == ROOT:
        return User.objects.create_superuser("root-actor", "root@example.com", "x-Strong-pass-42")
    user = make_user(role, username=f"{role}-actor")
    if role == ADMIN:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def others(make_user) -> dict[str, User]:
    """A superuser and an agent to act upon, each with an API token."""
    root = User.objects.create_superuser("owner", "owner@example.com", "x-Strong-pass-42")
    agent = make_user(AGENT, username="ana")
    for user in (root, agent):
        Token.objects.create(user=user)
    return {"root": root, "agent": agent}


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _user_form(user: User, **changes: Any) -> dict[str, Any]:
    """Every field of the admin's user change form, as it shows ``user``, plus ``changes``."""
    data: dict[str, Any] = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "date_joined_0": user.date_joined.date().isoformat(),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "last_login_0": "",
        "last_login_1": "",
        "groups": [str(pk) for pk in user.groups.values_list("pk", flat=True)],
        # The inline of the marketplaces the user sees (none: every marketplace).
        "marketplace_access-TOTAL_FORMS": "0",
        "marketplace_access-INITIAL_FORMS": "0",
        "marketplace_access-MIN_NUM_FORMS": "0",
        "marketplace_access-MAX_NUM_FORMS": "1000",
    }
    if user.is_active:
        data["is_active"] = "on"
    if user.is_staff:
        data["is_staff"] = "on"
    if user.is_superuser:
        data["is_superuser"] = "on"
    data.update(changes)
    return data


def _change_url(user: User) -> str:
    return f"/admin/auth/user/{user.pk}/change/"


def _refused(response, actor: User) -> bool:
    """403, or the admin's login page for users who are not staff."""
    if not actor.is_staff:
        return response.status_code == 302 and "/admin/login/" in response["Location"]
    return response.status_code == 403


@pytest.mark.parametrize("actor", ROLES, indirect=True)
def test_ticking_superuser_on_ones_own_page(actor) -> None:
    _client(actor).post(_change_url(actor), _user_form(actor, is_superuser="on"))
    actor.refresh_from_db()
    # The superuser stays one; nobody else becomes one.
    assert actor.is_superuser == (actor.username == "root-actor")


@pytest.mark.parametrize("actor", ROLES, indirect=True)
def test_adding_oneself_to_the_agent_group(actor) -> None:
    agent = Group.objects.get(name=AGENT)
    groups = [str(g.pk) for g in actor.groups.all()] + [str(agent.pk)]
    response = _client(actor).post(_change_url(actor), _user_form(actor, groups=groups))
    in_agent = actor.groups.filter(name=AGENT).exists()
    if actor.is_superuser:
        assert response.status_code == 302
        assert in_agent
    elif actor.groups.filter(name=ADMIN).exists():
        # The admin's own groups are read-only: the rest of the form is saved.
        assert response.status_code == 302
        assert not in_agent
    else:
        assert _refused(response, actor)
        assert in_agent == (actor.username == "agent-actor")


@pytest.mark.parametrize("actor", ROLES, indirect=True)
def test_granting_oneself_a_single_permission(actor) -> None:
    refund = Permission.objects.get(codename="refund_incident")
    _client(actor).post(_change_url(actor), _user_form(actor, user_permissions=[str(refund.pk)]))
    granted = actor.user_permissions.filter(pk=refund.pk).exists()
    assert granted == actor.is_superuser


@pytest.mark.parametrize("actor", ROLES, indirect=True)
def test_giving_another_user_a_group_that_is_not_a_role(actor, others) -> None:
    ops = Group.objects.create(name="ops")
    ops.permissions.add(Permission.objects.get(codename="change_user"))
    agent = others["agent"]
    groups = [str(g.pk) for g in agent.groups.all()] + [str(ops.pk)]
    response = _client(actor).post(_change_url(agent), _user_form(agent, groups=groups))
    assert agent.groups.filter(name="ops").exists() == actor.is_superuser
    if actor.groups.filter(name=ADMIN).exists():
        assert response.status_code == 200  # the form again, with its error
        assert b"errorlist" in response.content


@pytest.mark.parametrize("actor", ROLES, indirect=True)
def test_giving_another_user_a_role(actor, others) -> None:
    """What the admin role is for: it may make an agent an account manager too."""
    agent = others["agent"]
    manager = Group.objects.get(name=MANAGER)
    groups = [str(g.pk) for g in agent.groups.all()] + [str(manager.pk)]
    _client(actor).post(_change_url(agent), _user_form(agent, groups=groups))
    allowed = actor.is_superuser or actor.groups.filter(name=ADMIN).exists()
    assert agent.groups.filter(name=MANAGER).exists() == allowed


@pytest.mark.parametrize("actor", ROLES, indirect=True)
def test_setting_a_superusers_password(actor, others) -> None:
    root = others["root"]
    response = _client(actor).post(
        f"/admin/auth/user/{root.pk}/password/",
        {"password1": "An0ther-long-pass", "password2": "An0ther-long-pass"},
    )
    root.refresh_from_db()
    changed = root.check_password("An0ther-long-pass")
    assert changed == actor.is_superuser
    if not actor.is_superuser:
        assert _refused(response, actor)


@pytest.mark.parametrize("actor", ROLES, indirect=True)
def test_editing_a_superuser(actor, others) -> None:
    root = others["root"]
    response = _client(actor).post(
        _change_url(root), _user_form(root, email="attacker@example.com", is_superuser="")
    )
    root.refresh_from_db()
    assert (root.email == "attacker@example.com") == actor.is_superuser
    if not actor.is_superuser:
        assert _refused(response, actor)
        assert root.is_superuser


@pytest.mark.parametrize("actor", ROLES, indirect=True)
def test_reading_other_users_tokens(actor, others) -> None:
    own = Token.objects.create(user=actor)
    client = _client(actor)
    listing = client.get("/admin/authtoken/tokenproxy/")
    body = listing.content
    # Nobody's list shows a key, their own included.
    for token in Token.objects.all():
        assert token.key.encode() not in body
    if actor.is_staff:
        assert listing.status_code == 200
        assert b"owner" in body if actor.is_superuser else b"owner" not in body
        assert actor.username.encode() in body
    else:
        assert _refused(listing, actor)
    assert own.key.encode() not in body
    other = client.get(f"/admin/authtoken/tokenproxy/{others['agent'].pk}/change/", follow=True)
    if not actor.is_superuser:
        assert others["agent"].auth_token.key.encode() not in other.content


@pytest.mark.parametrize("actor", ROLES, indirect=True)
def test_minting_a_token_for_another_user(actor, make_user) -> None:
    victim = make_user(MANAGER, username="marta")
    response = _client(actor).post("/admin/authtoken/tokenproxy/add/", {"user": victim.pk})
    assert Token.objects.filter(user=victim).exists() == actor.is_superuser
    if actor.is_superuser:
        # The new key is shown once, to whoever created it, and cached nowhere.
        assert Token.objects.get(user=victim).key.encode() in response.content
        assert "no-store" in response["Cache-Control"]
    elif actor.is_staff:
        assert response.status_code == 200
        assert b"errorlist" in response.content


@pytest.mark.parametrize("actor", [ADMIN, ROOT], indirect=True)
def test_an_admin_creates_and_revokes_their_own_token(actor) -> None:
    client = _client(actor)
    form = client.get("/admin/authtoken/tokenproxy/add/")
    assert form.status_code == 200
    created = client.post("/admin/authtoken/tokenproxy/add/", {"user": actor.pk})
    token = Token.objects.get(user=actor)
    assert created.status_code == 200
    assert token.key.encode() in created.content
    assert "no-store" in created["Cache-Control"]
    # Revoked from the admin (the confirmation page, then the POST).
    delete_url = f"/admin/authtoken/tokenproxy/{actor.pk}/delete/"
    assert client.get(delete_url).status_code == 200
    assert client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not Token.objects.filter(user=actor).exists()


@pytest.mark.parametrize("actor", [ADMIN], indirect=True)
def test_an_admin_cannot_revoke_or_move_anothers_token(actor, others) -> None:
    client = _client(actor)
    agent = others["agent"]
    url = f"/admin/authtoken/tokenproxy/{agent.pk}/"
    assert client.post(url + "delete/", {"post": "yes"}).status_code == 302  # "not found"
    assert client.post(url + "change/", {"user": actor.pk}).status_code == 403
    assert Token.objects.filter(user=agent).exists()


@pytest.mark.parametrize("actor", [ADMIN], indirect=True)
def test_the_admins_user_pages_leave_out_what_they_may_not_change(actor, others) -> None:
    client = _client(actor)
    own = client.get(_change_url(actor)).content.decode()
    assert 'name="is_superuser"' not in own
    assert 'name="user_permissions"' not in own
    assert 'name="groups"' not in own  # read-only on one's own account
    other = client.get(_change_url(others["agent"])).content.decode()
    assert 'name="groups"' in other
    assert 'name="is_superuser"' not in other
    offered = {g.name for g in Group.objects.filter(pk__in=_options(other, "groups"))}
    assert offered == {AGENT, MANAGER, ADMIN}
    # A superuser's page is read-only.
    root = client.get(_change_url(others["root"])).content.decode()
    assert 'name="email"' not in root


def _options(html: str, name: str) -> list[int]:
    import re

    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.DOTALL)
    assert select, name
    return [int(v) for v in re.findall(r'value="(\d+)"', select.group(1))]
