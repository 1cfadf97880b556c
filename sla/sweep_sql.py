"""The SLA sweep's set-based statements: items inserted with ``COPY``, breaches with
``INSERT … SELECT … ON CONFLICT DO NOTHING``, state changes with ``UPDATE … RETURNING``."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.db import connection as db_connection
from django.utils.dateparse import parse_datetime

from sla.business_hours import from_us
from sla.models import SlaBreach, SlaItem

__all__ = [
    "NewItem",
    "as_datetime",
    "insert_breaches",
    "insert_items",
    "update_returning",
]


class NewItem(NamedTuple):
    """A wait seen for the first time: an item row to insert.

    Its start, deadline and warning in microseconds since the Unix epoch
    (``sla.business_hours.to_us``), as the deadline arithmetic works them out: ``COPY``
    sends them as such, with no datetime made in between.
    """

    kind: str
    connection_id: int
    incident_id: int | None
    thread_id: int | None
    audience: str
    policy_id: int | None
    started_us: int
    due_us: int
    warn_us: int
    state: str
    stopped_at: datetime | None
    stop_reason: str


_INSERT_COLUMNS = (
    "kind",
    "connection_id",
    "incident_id",
    "thread_id",
    "audience",
    "policy_id",
    "started_at",
    "due_at",
    "warn_at",
    "state",
    "stopped_at",
    "stop_reason",
)


def insert_items(rows: Iterable[NewItem], now: datetime) -> int:
    """Insert new items: ``COPY`` on Postgres, ``bulk_create`` elsewhere; returns how many.

    Django's ``bulk_create`` spends most of its time preparing each value of each
    row; the first sweep of a large shop inserts every open wait at once. ``rows`` is
    read as ``COPY`` sends it: when it is a generator, Postgres inserts the rows already
    sent while the next ones are computed.
    """
    if db_connection.vendor != "postgresql":
        created = SlaItem.objects.bulk_create(
            (
                SlaItem(
                    kind=row.kind,
                    connection_id=row.connection_id,
                    incident_id=row.incident_id,
                    thread_id=row.thread_id,
                    audience=row.audience,
                    policy_id=row.policy_id,
                    started_at=from_us(row.started_us),
                    due_at=from_us(row.due_us),
                    warn_at=from_us(row.warn_us),
                    state=row.state,
                    stopped_at=row.stopped_at,
                    stop_reason=row.stop_reason,
                    created_at=now,
                    updated_at=now,
                )
                for row in rows
            ),
            batch_size=500,
        )
        return len(created)
    stream = _CopyStream(_copy_rows(rows, now))
    table = db_connection.ops.quote_name(SlaItem._meta.db_table)
    columns = ", ".join((*_INSERT_COLUMNS, "created_at", "updated_at"))
    with db_connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT binary)",
            stream,
            size=_COPY_READ_SIZE,
        )
    return stream.rows


#: How much ``COPY`` asks for at a time: a few hundred rows.
_COPY_READ_SIZE = 1 << 16

# ``COPY``'s binary format: no timestamp to write out as text in Python and to parse
# again in Postgres (a third of a first sweep's insert, on both sides). A signature, flags
# and a header extension length; then per row its field count and each field as its
# length (-1: NULL) and its bytes; then -1 as a field count.
_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_TRAILER = struct.pack("!h", -1)
_FIELD_COUNT = struct.pack("!h", len(_INSERT_COLUMNS) + 2)
_NULL = struct.pack("!i", -1)
_LENGTH = struct.Struct("!i").pack
#: A bigint or a timestamp: 8 bytes, big-endian.
_INT8 = struct.Struct("!iq").pack
#: Three of them in a row (an item's start, deadline and warning).
_TIMES = struct.Struct("!iqiqiq").pack
#: Postgres timestamps count microseconds from 2000-01-01 UTC.
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
#: That start in microseconds since the Unix epoch.
_PG_EPOCH_US = (_PG_EPOCH - datetime(1970, 1, 1, tzinfo=UTC)) // _US


def _copy_rows(rows: Iterable[NewItem], now: datetime) -> Iterator[bytes]:
    """Each row in ``COPY``'s binary format."""
    stamps = _INT8(8, (now - _PG_EPOCH) // _US) * 2
    # The texts are a handful of choices: each encoded with its length once.
    texts: dict[str, bytes] = {}
    for row in rows:
        (kind, connection, incident, thread, audience, policy, started, due, warn, state,
         stopped, reason) = row  # fmt: skip
        kind_b = texts.get(kind) or texts.setdefault(kind, _text(kind))
        audience_b = texts.get(audience) or texts.setdefault(audience, _text(audience))
        state_b = texts.get(state) or texts.setdefault(state, _text(state))
        reason_b = texts.get(reason) or texts.setdefault(reason, _text(reason))
        yield b"".join(
            (
                _FIELD_COUNT,
                kind_b,
                _INT8(8, connection),
                _NULL if incident is None else _INT8(8, incident),
                _NULL if thread is None else _INT8(8, thread),
                audience_b,
                _NULL if policy is None else _INT8(8, policy),
                _TIMES(8, started - _PG_EPOCH_US, 8, due - _PG_EPOCH_US, 8, warn - _PG_EPOCH_US),
                state_b,
                _NULL if stopped is None else _INT8(8, (stopped - _PG_EPOCH) // _US),
                reason_b,
                stamps,
            )
        )


def _text(value: str) -> bytes:
    """A text field: its length, then its UTF-8 bytes."""
    encoded = value.encode()
    return _LENGTH(len(encoded)) + encoded


class _CopyStream:
    """A binary file ``copy_expert`` reads from, filled row by row as it asks: the
    header first, the trailer once the rows run out."""

    def __init__(self, rows: Iterator[bytes]) -> None:
        self._rows = rows
        self._rest = _HEADER
        self._ended = False
        self.rows = 0

    def read(self, size: int = -1) -> bytes:
        parts = [self._rest]
        length = len(self._rest)
        for row in self._rows:
            parts.append(row)
            length += len(row)
            self.rows += 1
            if 0 <= size <= length:
                break
        else:
            if not self._ended:
                parts.append(_TRAILER)
                self._ended = True
        data = b"".join(parts)
        if size < 0 or len(data) <= size:
            self._rest = b""
            return data
        self._rest = data[size:]
        return data[:size]

    def readline(self, size: int = -1) -> bytes:  # pragma: no cover - COPY FROM uses read()
        return self.read(size)


def insert_breaches(condition: str, params: list, now: datetime, *, new_items: bool = False) -> int:
    """One breach per item matching ``condition``, copied from it; existing ones are kept.

    ``INSERT … SELECT … ON CONFLICT (item_id) DO NOTHING``: the unique item key makes a
    duplicate impossible, and the rows never pass through Python. An item already
    answered gets its stop time as the answer time.

    :param new_items: the items were made by this sweep, which alone records breaches
        (under its lock), after making them: none can have one yet, and a plain insert
        spares each breach the conflict check.
    """
    ops = db_connection.ops
    breach = ops.quote_name(SlaBreach._meta.db_table)
    item = ops.quote_name(SlaItem._meta.db_table)
    at = ops.adapt_datetimefield_value(now)
    sql = (
        f"INSERT INTO {breach} (item_id, connection_id, kind, incident_id, thread_id, "  # noqa: S608 - fixed identifiers
        "due_at, breached_at, answered_at, created_at) "
        "SELECT id, connection_id, kind, incident_id, thread_id, due_at, %s, stopped_at, "
        f"%s FROM {item} WHERE {condition}"
        + ("" if new_items else " ON CONFLICT (item_id) DO NOTHING")
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [at, at, *params])
        return cursor.rowcount


def update_returning(to_state: str, condition: str, now: datetime) -> list[tuple]:
    """``UPDATE sla_slaitem SET state = … WHERE <condition> RETURNING …``; each ``%s``
    of ``condition`` is ``now``."""
    ops = db_connection.ops
    table = ops.quote_name(SlaItem._meta.db_table)
    at = ops.adapt_datetimefield_value(now)
    sql = (
        f"UPDATE {table} SET state = %s, updated_at = %s "  # noqa: S608 - fixed identifiers
        f"WHERE {condition} "
        "RETURNING id, kind, connection_id, incident_id, thread_id, due_at"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [to_state, at, *[at] * condition.count("%s")])
        return cursor.fetchall()


def as_datetime(value: datetime | str) -> datetime:
    """A RETURNING value as an aware datetime (SQLite hands back text)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not a datetime: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
