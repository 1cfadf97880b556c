"""The user query is a statement prepared once per database connection."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.backends import UserWithPermissionsBackend
from core.precompiled import _numbered
from tests.factories.core import UserFactory


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements ORDER BY name")
        return [name for (name,) in cursor.fetchall()]


def test_placeholders_are_numbered_and_percent_signs_kept() -> None:
    assert _numbered("SELECT %s, '100%%', %s || '%%s'") == ("SELECT $1, '100%', $2 || '%s'", 2)


@pytest.mark.django_db
def test_the_user_query_runs_the_prepared_statement() -> None:
    agent = UserFactory()
    agent.groups.add(Group.objects.get(name="agent"))
    backend = UserWithPermissionsBackend()
    backend.get_user(agent.pk)  # prepared on this connection, if it was not yet
    with CaptureQueriesContext(connection) as captured:
        loaded = backend.get_user(agent.pk)
    assert [query["sql"] for query in captured] == [
        f"EXECUTE incidesk_user_with_permissions ('', '.', '', '', '', {agent.pk})"
    ]
    assert loaded == agent
    assert loaded.has_perm("incidents.view_incident")
    assert _prepared_statements().count("incidesk_user_with_permissions") == 1


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_it_again() -> None:
    agent = UserFactory()
    backend = UserWithPermissionsBackend()
    assert backend.get_user(agent.pk) == agent
    connection.close()
    assert backend.get_user(agent.pk) == agent
    assert backend.get_user(agent.pk) == agent
    assert _prepared_statements().count("incidesk_user_with_permissions") == 1
    # A connection found unusable by the request's health check is replaced first.
    connection.health_check_done = False
    connection.connection.close()
    assert backend.get_user(agent.pk) == agent
