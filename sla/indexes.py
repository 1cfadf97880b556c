"""Filling an empty table with many rows at once, its lookup indexes built afterwards.

Postgres builds an index from sorted rows for a fraction of what it costs to insert
each row into it; the first sweep of a large shop writes every open wait and every row
of the queue into empty tables. Dropping an index locks its table against readers until
the transaction ends, so only an empty table (nothing to show meanwhile) is locked, and
only when the lock is free at once: otherwise its rows go in with their indexes as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import OperationalError, connection, transaction

__all__ = ["BUILD_INDEXES_FROM", "lookup_indexes_set_aside"]

#: From this many rows to write on, an empty table's lookup indexes are set aside.
BUILD_INDEXES_FROM = 5000

#: A table's indexes that no conflict or key lookup needs: all but the primary and unique
#: keys, as ``(name, definition)``. The definitions are the catalogue's, so the indexes
#: made again are those the migrations made.
_LOOKUP_INDEXES = """
    SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid)
    FROM pg_index
    WHERE indrelid = %s::regclass AND NOT indisunique AND NOT indisprimary
    ORDER BY indexrelid
"""

#: A table's deferred foreign keys: their checks still pending keep an index from
#: being created on it.
_DEFERRED_KEYS = """
    SELECT conname FROM pg_constraint
    WHERE conrelid = %s::regclass AND contype = 'f' AND condeferred
    ORDER BY conname
"""


@contextmanager
def lookup_indexes_set_aside(table: str, *, rows: int) -> Iterator[bool]:
    """Drop ``table``'s lookup indexes for the block and create them again after it,
    when the table is empty, ``rows`` (about to be written) are many and the table can
    be locked at once (Postgres). Yields whether they were set aside.

    The block must not read the table through those indexes. Its foreign keys' pending
    checks run before the indexes are made again, rather than at commit.
    """
    indexes: list[tuple[str, str]] = []
    if connection.vendor == "postgresql" and rows >= BUILD_INDEXES_FROM:
        with connection.cursor() as cursor:
            table_sql = connection.ops.quote_name(table)
            cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table_sql})")  # noqa: S608 - a model's table
            if cursor.fetchone()[0] and _lock_at_once(table_sql):
                cursor.execute(_LOOKUP_INDEXES, [table_sql])
                indexes = cursor.fetchall()
                for name, _definition in indexes:
                    cursor.execute(f"DROP INDEX {name}")
    yield bool(indexes)
    if not indexes:
        return
    with connection.cursor() as cursor:
        cursor.execute(_DEFERRED_KEYS, [table_sql])
        keys = ", ".join(connection.ops.quote_name(name) for (name,) in cursor.fetchall())
        if keys:
            cursor.execute(f"SET CONSTRAINTS {keys} IMMEDIATE")
            cursor.execute(f"SET CONSTRAINTS {keys} DEFERRED")
        for _name, definition in indexes:
            cursor.execute(definition)


def _lock_at_once(table_sql: str) -> bool:
    """Lock the table against every other use, without waiting; False when someone
    else holds a lock on it."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table_sql} IN ACCESS EXCLUSIVE MODE NOWAIT")
    except OperationalError:
        return False
    return True
