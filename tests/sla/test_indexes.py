"""Lookup indexes set aside while an empty table is filled (``sla.indexes``)."""

from __future__ import annotations

import psycopg2
import pytest
from django.db import connection

from sla.indexes import lookup_indexes_set_aside

pytestmark = pytest.mark.django_db

TABLE = "sla_queueentry"


def _names() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [TABLE])
        return sorted(name for (name,) in cursor.fetchall())


@pytest.fixture
def postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("indexes are set aside on Postgres")


def test_an_empty_table_s_lookup_indexes_are_dropped_and_made_again(postgres) -> None:
    before = _names()
    with lookup_indexes_set_aside(TABLE, rows=10**6) as set_aside:
        during = _names()
    assert set_aside
    assert "queue_open_due_idx" in before
    assert "queue_open_due_idx" not in during
    # The primary and unique keys stay: ON CONFLICT finds rows on them.
    assert {"sla_queueentry_pkey", "sla_queueentry_incident_id_key"} <= set(during)
    assert _names() == before


def test_few_rows_keep_the_indexes(postgres) -> None:
    before = _names()
    with lookup_indexes_set_aside(TABLE, rows=10) as set_aside:
        assert _names() == before
    assert not set_aside


def test_a_table_in_use_elsewhere_keeps_its_indexes_without_waiting(postgres) -> None:
    settings = connection.settings_dict
    other = psycopg2.connect(
        dbname=connection.settings_dict["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
    )
    try:
        with other.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS SHARE MODE")
        before = _names()
        with lookup_indexes_set_aside(TABLE, rows=10**6) as set_aside:
            assert _names() == before
        assert not set_aside
    finally:
        other.rollback()
        other.close()
