"""The SLA sweep's set-based statements: items inserted with ``COPY``, breaches with
``INSERT … SELECT … ON CONFLICT DO NOTHING``, state changes with ``UPDATE … RETURNING``."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from django.db import connection as db_connection
from django.utils.dateparse import parse_datetime

from sla.models import SlaBreach, SlaItem

__all__ = ["NewItem", "as_datetime", "insert_breaches", "insert_items", "update_returning"]


class NewItem(NamedTuple):
    """A wait seen for the first time: an item row to insert."""

    kind: str
    connection_id: int
    incident_id: int | None
    thread_id: int | None
    audience: str
    policy_id: int | None
    started_at: datetime
    due_at: datetime
    warn_at: datetime
    state: str
    stopped_at: datetime | None
    stop_reason: str


_INSERT_COLUMNS = NewItem._fields


def insert_items(rows: list[NewItem], now: datetime) -> None:
    """Insert new items: ``COPY`` on Postgres, ``bulk_create`` elsewhere.

    Django's ``bulk_create`` spends most of its time preparing each value of each
    row; the first sweep of a large shop inserts every open wait at once.
    """
    if db_connection.vendor != "postgresql":
        SlaItem.objects.bulk_create(
            (
                SlaItem(
                    **dict(zip(_INSERT_COLUMNS, row, strict=True)), created_at=now, updated_at=now
                )
                for row in rows
            ),
            batch_size=500,
        )
        return
    null = "\\N"
    stamp = now.isoformat()
    lines = []
    for row in rows:
        (kind, connection, incident, thread, audience, policy, started, due, warn, state,
         stopped, reason) = row  # fmt: skip
        lines.append(
            f"{kind}\t{connection}\t{null if incident is None else incident}\t"
            f"{null if thread is None else thread}\t{_copy_text(audience)}\t"
            f"{null if policy is None else policy}\t{started.isoformat()}\t"
            f"{due.isoformat()}\t{warn.isoformat()}\t{state}\t"
            f"{null if stopped is None else stopped.isoformat()}\t{reason}\t"
            f"{stamp}\t{stamp}\n"
        )
    table = db_connection.ops.quote_name(SlaItem._meta.db_table)
    columns = ", ".join((*_INSERT_COLUMNS, "created_at", "updated_at"))
    with db_connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {table} ({columns}) FROM STDIN", io.StringIO("".join(lines))
        )


def _copy_text(value: str) -> str:
    """A string in ``COPY``'s text format."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def insert_breaches(condition: str, params: list, now: datetime) -> int:
    """One breach per item matching ``condition``, copied from it; existing ones are kept.

    ``INSERT … SELECT … ON CONFLICT (item_id) DO NOTHING``: the unique item key makes a
    duplicate impossible, and the rows never pass through Python. An item already
    answered gets its stop time as the answer time.
    """
    ops = db_connection.ops
    breach = ops.quote_name(SlaBreach._meta.db_table)
    item = ops.quote_name(SlaItem._meta.db_table)
    at = ops.adapt_datetimefield_value(now)
    sql = (
        f"INSERT INTO {breach} (item_id, connection_id, kind, incident_id, thread_id, "  # noqa: S608 - fixed identifiers
        "due_at, breached_at, answered_at, created_at) "
        "SELECT id, connection_id, kind, incident_id, thread_id, due_at, %s, stopped_at, "
        f"%s FROM {item} WHERE {condition} "
        "ON CONFLICT (item_id) DO NOTHING"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [at, at, *params])
        return cursor.rowcount


def update_returning(
    from_states: Sequence[str], to_state: str, condition: str, now: datetime
) -> list[tuple]:
    """``UPDATE sla_slaitem SET state = … WHERE state IN … AND <condition> RETURNING …``."""
    ops = db_connection.ops
    table = ops.quote_name(SlaItem._meta.db_table)
    at = ops.adapt_datetimefield_value(now)
    placeholders = ", ".join(["%s"] * len(from_states))
    sql = (
        f"UPDATE {table} SET state = %s, updated_at = %s "  # noqa: S608 - fixed identifiers
        f"WHERE state IN ({placeholders}) AND {condition} "
        "RETURNING id, kind, connection_id, incident_id, thread_id, due_at"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [to_state, at, *from_states, at])
        return cursor.fetchall()


def as_datetime(value: datetime | str) -> datetime:
    """A RETURNING value as an aware datetime (SQLite hands back text)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not a datetime: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
