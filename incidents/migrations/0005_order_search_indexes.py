"""Trigram indexes for the inbox's search on order numbers and customer names (Postgres).

The search uses ``icontains``, which Django writes ``UPPER(col::text) LIKE UPPER(%s)``; a
GIN ``gin_trgm_ops`` index on that very expression serves it without reading every
order. ``pg_trgm`` is a trusted extension (the database owner may create it). Where it
cannot be created, or on another database (the SQLite demo), the search still works,
only without these indexes.
"""

import logging

from django.db import DatabaseError, migrations, transaction

logger = logging.getLogger(__name__)

INDEXES = {
    "order_mirakl_id_trgm_idx": "mirakl_id",
    "order_commercial_id_trgm_idx": "commercial_id",
    "order_first_name_trgm_idx": "customer_first_name",
    "order_last_name_trgm_idx": "customer_last_name",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as exc:
        logger.warning("pg_trgm is not available (%s): order search runs without indexes", exc)
        return
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON incidents_order "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("incidents", "0004_workspace")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
