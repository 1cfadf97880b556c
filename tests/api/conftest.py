"""Fixtures of the API tests: a user per role with a token, and one of everything."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.roles import ROLE_PERMISSIONS, Role

ROLES = (Role.AGENT, Role.ACCOUNT_MANAGER, Role.ADMIN)


def _role_group(role: str) -> Group:
    """The role's group; rebuilt when a transactional test flushed the migrations' data."""
    group, created = Group.objects.get_or_create(name=role)
    if created:
        for name in ROLE_PERMISSIONS[role]:
            app_label, codename = name.split(".")
            group.permissions.add(
                *Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )
    return group


@pytest.fixture
def make_user(db) -> Callable[..., User]:
    """``make_user(role)``: an active user in that role's group (None: no group)."""

    def make(role: str | None, username: str | None = None) -> User:
        user = User.objects.create_user(
            username=username or f"{role or 'nobody'}-user", password="x-Strong-pass-42"
        )
        if role is not None:
            user.groups.add(_role_group(role))
        return user

    return make


@pytest.fixture
def api_client_for(make_user) -> Callable[[str | None], APIClient]:
    """``api_client_for(role)``: a client sending that role's token; "anonymous": none."""

    def make(role: str | None) -> APIClient:
        client = APIClient()
        if role == "anonymous":
            return client
        token = Token.objects.create(user=make_user(role))
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def desk(db) -> dict[str, Any]:
    """One marketplace with an order, its incident, a thread, a refund and a breach."""
    from tests.factories.core import (
        MarketplaceConnectionFactory,
        MarketplaceReasonFactory,
        OrderFactory,
        OrderLineFactory,
        UserFactory,
    )
    from tests.factories.incidents import IncidentFactory
    from tests.factories.messaging import MessageFactory, ThreadFactory
    from tests.factories.refunds import (
        RefundFactory,
        RefundRequestFactory,
        RefundRequestLineFactory,
    )
    from tests.factories.sla import SlaBreachFactory

    connection = MarketplaceConnectionFactory(
        code="pccomponentes", name="PcComponentes", api_key="very-secret-shop-key-123"
    )
    order = OrderFactory(connection=connection, mirakl_id="59400123-A")
    line = OrderLineFactory(order=order, mirakl_id="59400123-A-1", state="INCIDENT_OPEN")
    incident = IncidentFactory(line=line)
    MarketplaceReasonFactory(
        connection=connection, type="INCIDENT_CLOSE", code="INC_SOLVED_DELIVERED"
    )
    thread = ThreadFactory(connection=connection, order=order, mirakl_id="thread-1")
    message = MessageFactory(thread=thread, body="Hola <script>alert(1)</script>")
    refund = RefundFactory(line=line)
    MarketplaceReasonFactory(
        connection=connection, type="REFUND", code="17", label="Artículo devuelto"
    )
    refund_request = RefundRequestFactory(
        order=order,
        state="awaiting_approval",
        total="20.00",
        requested_by=UserFactory(username="requester"),
    )
    RefundRequestLineFactory(request=refund_request, line=line, amount="20.00")
    breach = SlaBreachFactory(item__incident=incident)
    # The queue's rows, as the SLA sweep writes them every minute.
    from sla.queue import queue_entries_refresh

    queue_entries_refresh()
    return {
        "connection": connection,
        "order": order,
        "line": line,
        "incident": incident,
        "thread": thread,
        "message": message,
        "refund": refund,
        "refund_request": refund_request,
        "breach": breach,
    }
