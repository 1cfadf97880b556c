"""Fixtures of the agent workspace tests: a synced sandbox shop, an agent, helpers.

Imported by ``conftest.py`` here and by the inbox / incident page test modules.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from core.sync.runner import marketplace_sync
from incidents.models import Incident
from messaging.models import Party, Thread
from tests.conftest import SANDBOX_KEY
from tests.factories.core import UserFactory

__all__ = ["agent", "agent_client", "control", "open_incident_thread", "synced"]


def control(sandbox: Any, path: str, payload: dict | None = None) -> dict:
    """Play the customer or the operator through the sandbox's control API."""
    url = f"{sandbox.base_url}/_sandbox/{path}"
    headers = {"Authorization": SANDBOX_KEY}
    if payload is None:
        response = requests.get(url, headers=headers, timeout=5)
    else:
        response = requests.post(url, json=payload, headers=headers, timeout=5)
    response.raise_for_status()
    return response.json() if response.content else {}


@pytest.fixture
def synced(connection, sandbox_client):
    """The sandbox's shop synced into the database; returns the connection."""
    marketplace_sync(connection=connection, client=sandbox_client)
    return connection


@pytest.fixture
def agent(db):
    return UserFactory(username="marta", first_name="Marta", last_name="Ruiz", role="agent")


@pytest.fixture
def agent_client(client, agent, settings):
    """The agent, logged in, reading the English source strings (translations vary)."""
    client.force_login(agent)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def open_incident_thread(*, last_author: str = Party.CUSTOMER) -> tuple[Incident, Thread]:
    """An open incident whose order has a customer thread last written by ``last_author``."""
    for thread in (
        Thread.objects.filter(
            order__incidents__pk__isnull=False,
            order__incidents__closed_at__isnull=True,
            last_sender_type=last_author,
        )
        .select_related("order")
        .order_by("pk")
        .distinct()
    ):
        if any(p.get("type") == Party.CUSTOMER for p in thread.authorized_participants):
            incident = thread.order.incidents.filter(closed_at__isnull=True).first()
            return incident, thread
    raise AssertionError(f"the sandbox has no open incident thread last written by {last_author}")
