"""Presence on the incident page: two agents on one incident see that the other is there."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.cache import cache, caches
from django.test import Client
from django.urls import reverse
from redis.connection import Connection

from core.presence import (
    PRESENCE_SECONDS,
    Presence,
    presence_here,
    presence_others,
    presence_touch,
)
from tests.factories.core import UserFactory
from tests.factories.incidents import IncidentFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
INCIDENT = 4242


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def ana(db):
    return UserFactory(username="ana", first_name="Ana", last_name="López", role="agent")


@pytest.fixture
def marta(db):
    return UserFactory(username="marta", first_name="Marta", last_name="Ruiz", role="agent")


def names(incident_id: int, user) -> list[str]:
    return [p.name for p in presence_others(incident_id=incident_id, user=user)]


# --------------------------------------------------------------------------- module


def test_each_user_sees_the_others_never_themself(clock, ana, marta) -> None:
    presence_touch(incident_id=INCIDENT, user=ana)
    assert presence_others(incident_id=INCIDENT, user=ana) == []

    presence_touch(incident_id=INCIDENT, user=marta)

    assert presence_others(incident_id=INCIDENT, user=marta) == [
        Presence(user_id=ana.pk, name="Ana López", seen_at=NOW.timestamp())
    ]
    assert names(INCIDENT, ana) == ["Marta Ruiz"]
    assert names(INCIDENT + 1, ana) == []  # another incident: nobody


def test_others_sorted_by_name_and_username_when_no_name(clock, ana, marta) -> None:
    nameless = UserFactory(username="zoe.soporte", first_name="", last_name="")
    for user in (marta, nameless, ana):
        presence_touch(incident_id=INCIDENT, user=user)
    viewer = UserFactory(username="pablo")
    assert names(INCIDENT, viewer) == ["Ana López", "Marta Ruiz", "zoe.soporte"]


def test_a_user_leaves_after_the_window(clock, ana, marta) -> None:
    presence_touch(incident_id=INCIDENT, user=ana)
    clock.shift(PRESENCE_SECONDS)
    assert presence_here(incident_id=INCIDENT, user=marta)[0].name == "Ana López"

    clock.shift(1)  # Ana's last request is now 31 s old; Marta's 1 s

    assert names(INCIDENT, marta) == []
    assert names(INCIDENT, ana) == ["Marta Ruiz"]


def test_a_touch_keeps_a_user_there(clock, ana, marta) -> None:
    presence_touch(incident_id=INCIDENT, user=ana)
    for _ in range(6):  # a minute of live refreshes
        clock.shift(10)
        presence_touch(incident_id=INCIDENT, user=ana)
    assert names(INCIDENT, marta) == ["Ana López"]


def test_a_join_prunes_users_gone(clock, ana, marta) -> None:
    presence_touch(incident_id=INCIDENT, user=ana)
    clock.shift(PRESENCE_SECONDS + 1)
    presence_touch(incident_id=INCIDENT, user=marta)
    assert cache.get(f"incidents:presence:{INCIDENT}") == [marta.pk]


def test_a_join_lost_to_a_concurrent_writer_heals_at_the_next_touch(clock, ana, marta) -> None:
    presence_touch(incident_id=INCIDENT, user=ana)
    presence_touch(incident_id=INCIDENT, user=marta)
    # Another worker wrote the index from a read made before Marta joined.
    cache.set(f"incidents:presence:{INCIDENT}", [ana.pk])
    assert names(INCIDENT, ana) == []

    clock.shift(10)
    presence_touch(incident_id=INCIDENT, user=marta)

    assert names(INCIDENT, ana) == ["Marta Ruiz"]
    assert names(INCIDENT, marta) == ["Ana López"]


def test_a_touch_is_one_round_trip_to_redis(clock, ana, marta, monkeypatch) -> None:
    presence_touch(incident_id=INCIDENT, user=ana)  # joins (and connects)
    sent = []
    send = Connection.send_packed_command

    def counted(self, command, *args, **kwargs):
        sent.append(command)
        return send(self, command, *args, **kwargs)

    monkeypatch.setattr(Connection, "send_packed_command", counted)
    clock.shift(10)
    assert presence_here(incident_id=INCIDENT, user=ana) == []

    assert len(sent) == 1  # the entry written, the index read and its expiry put back
    redis = caches["default"]._cache.get_client()
    for key, seconds in ((f"{INCIDENT}:{ana.pk}", 2), (f"{INCIDENT}", 4)):
        made = caches["default"].make_key(f"incidents:presence:{key}")
        assert redis.ttl(made) == seconds * PRESENCE_SECONDS
    monkeypatch.undo()
    assert names(INCIDENT, marta) == ["Ana López"]


def test_presence_on_a_cache_other_than_redis(clock, ana, marta, settings) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    presence_touch(incident_id=INCIDENT, user=ana)
    presence_touch(incident_id=INCIDENT, user=marta)
    clock.shift(10)
    presence_touch(incident_id=INCIDENT, user=ana)

    assert names(INCIDENT, marta) == ["Ana López"]
    assert names(INCIDENT, ana) == ["Marta Ruiz"]
    clock.shift(PRESENCE_SECONDS + 1)
    assert names(INCIDENT, marta) == []  # Ana's last request is 31 s old


def test_anonymous_is_never_recorded(clock, marta) -> None:
    from django.contrib.auth.models import AnonymousUser

    presence_touch(incident_id=INCIDENT, user=AnonymousUser())
    assert cache.get(f"incidents:presence:{INCIDENT}") is None
    assert names(INCIDENT, marta) == []


def test_cache_errors_are_logged_and_show_nobody(clock, ana, marta, settings, caplog) -> None:
    presence_touch(incident_id=INCIDENT, user=ana)
    # Nothing listens on port 1: every cache call fails to connect.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    with caplog.at_level(logging.WARNING, logger="core.presence"):
        assert presence_touch(incident_id=INCIDENT, user=marta) is None
        assert presence_here(incident_id=INCIDENT, user=marta) == []
    assert [r.getMessage() for r in caplog.records] == [
        f"Could not record presence on incident {INCIDENT}",
        f"Could not record presence on incident {INCIDENT}",
        f"Could not read presence on incident {INCIDENT}",
    ]


# --------------------------------------------------------------------------- page and poll


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client


def _presence(html: str) -> str:
    match = re.search(r'<p id="incident-presence"[^>]*>.*?</p>', html, re.S)
    assert match, "no presence element"
    return match.group(0)


def _warning(html: str) -> str:
    match = re.search(r'<p id="presence-warning"[^>]*>.*?</p>', html, re.S)
    assert match, "no presence warning"
    return match.group(0)


def test_two_agents_on_one_incident_see_each_other(clock, ana, marta, settings) -> None:
    incident = IncidentFactory()
    page = reverse("desk:incident", args=[incident.pk])
    poll = reverse("messaging:poll", args=[incident.pk])
    ana_client, marta_client = _client(ana), _client(marta)

    # Ana alone: an empty, hidden element the refresh can fill.
    html = ana_client.get(page).content.decode()
    assert _presence(html) == '<p id="incident-presence" class="presence" role="status" hidden></p>'
    assert "hidden" in _warning(html)

    # Marta opens it: she sees Ana at once, in the header and above the reply boxes.
    clock.shift(3)
    html = marta_client.get(page).content.decode()
    assert _presence(html) == (
        '<p id="incident-presence" class="presence" role="status">'
        f'Also viewing: <strong data-present-user="{ana.pk}">Ana López</strong></p>'
    )
    assert "Ana López is also on this incident: check before replying." in _warning(html)
    assert "Marta Ruiz" not in _presence(html)

    # Ana's next live refresh swaps Marta in, without a reload.
    clock.shift(7)
    response = ana_client.get(poll, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert _presence(html) == (
        '<p id="incident-presence" class="presence" role="status" hx-swap-oob="true">'
        f'Also viewing: <strong data-present-user="{marta.pk}">Marta Ruiz</strong></p>'
    )
    assert "Marta Ruiz is also on this incident: check before replying." in _warning(html)
    assert 'hx-swap-oob="true"' in _warning(html)

    # Marta leaves; 30 s after her last request Ana's refresh no longer shows her.
    clock.shift(PRESENCE_SECONDS - 7)
    assert "Marta Ruiz" in _presence(ana_client.get(poll, HTTP_HX_REQUEST="true").content.decode())
    clock.shift(8)
    html = ana_client.get(poll, HTTP_HX_REQUEST="true").content.decode()
    assert _presence(html) == (
        '<p id="incident-presence" class="presence" role="status" hidden hx-swap-oob="true"></p>'
    )
    assert "hidden" in _warning(html) and "Marta Ruiz" not in _warning(html)


def test_who_cannot_reply_sees_presence_but_no_warning(clock, ana) -> None:
    incident = IncidentFactory()
    page = reverse("desk:incident", args=[incident.pk])
    _client(ana).get(page)
    manager = UserFactory(username="gestora", first_name="Lucía", role="account_manager")

    html = _client(manager).get(page).content.decode()

    assert "Ana López" in _presence(html)
    assert (
        _warning(html)
        == '<p id="presence-warning" class="notice presence-warning" role="status" hidden></p>'
    )
    # Ana sees the account manager too.
    poll = reverse("messaging:poll", args=[incident.pk])
    html = _client(ana).get(poll, HTTP_HX_REQUEST="true").content.decode()
    assert f'data-present-user="{manager.pk}"' in _presence(html)
