"""Queries compiled once per process: each run binds its own values, with the answers of
the queryset they were compiled from."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from core.backends import UserWithPermissionsBackend
from core.precompiled import PrecompiledQuery
from core.scoping import MarketplaceAccess, visible_connection_ids
from tests.factories.core import MarketplaceConnectionFactory, UserFactory

pytestmark = pytest.mark.django_db


def _names(*, first: str, last: str):
    return (
        get_user_model()
        .objects.filter(first_name=first, last_name=last)
        .order_by("pk")
        .values_list("username", flat=True)
    )


def test_each_run_binds_its_values() -> None:
    UserFactory(username="ana", first_name="Ana", last_name="Ruiz")
    UserFactory(username="eva", first_name="Eva", last_name="Ruiz")
    query = PrecompiledQuery(_names, first="stand-in first", last="stand-in last")
    assert query.rows("default", first="Ana", last="Ruiz") == [("ana",)]
    assert query.rows("default", first="Eva", last="Ruiz") == [("eva",)]
    assert query.rows("default", first="Eva", last="Pérez") == []
    sql, params = query.bind("default", {"first": "Ana", "last": "Ruiz"})
    assert "Ana" in params and "stand-in first" not in params


def test_a_stand_in_must_be_in_the_query_once() -> None:
    query = PrecompiledQuery(_names, first="same", last="same")
    with pytest.raises(ValueError, match="exactly once"):
        query.rows("default", first="Ana", last="Ruiz")


def test_the_user_comes_with_the_permissions_and_marketplaces_of_django_s_backend() -> None:
    from django.contrib.auth.models import Group

    agent = UserFactory()
    agent.groups.add(Group.objects.get(name="agent"))
    pcc = MarketplaceConnectionFactory(code="pcc")
    MarketplaceAccess.objects.create(user=agent, connection=pcc)

    ours = UserWithPermissionsBackend().get_user(str(agent.pk))
    theirs = ModelBackend().get_user(agent.pk)
    assert ours == agent
    assert ours.get_all_permissions() == theirs.get_all_permissions()
    assert ours.has_perm("incidents.view_incident")
    assert visible_connection_ids(ours) == frozenset({pcc.pk})
    assert UserWithPermissionsBackend().get_user(agent.pk + 1000) is None
