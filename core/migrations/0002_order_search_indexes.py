"""Indexes of the inbox's search on orders (Postgres only; the SQLite demo goes without).

- Trigram indexes for order numbers and customer names: the search uses ``icontains``,
  which Django writes ``UPPER(col::text) LIKE UPPER(%s)``; a GIN ``gin_trgm_ops`` index
  on that very expression serves it without reading every order. ``pg_trgm`` is a
  trusted extension (the database owner may create it); where it cannot be created the
  search still works, only without these indexes.
- A GIN index on the search document (the text of the order's messages, kept by the
  threads sync: ``messaging.search``).
"""

import logging

from django.db import DatabaseError, migrations, transaction

logger = logging.getLogger(__name__)

TRIGRAM_INDEXES = {
    "order_mirakl_id_trgm_idx": "mirakl_id",
    "order_commercial_id_trgm_idx": "commercial_id",
    "order_first_name_trgm_idx": "customer_first_name",
    "order_last_name_trgm_idx": "customer_last_name",
}
DOCUMENT_INDEX = "order_search_document_idx"


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {DOCUMENT_INDEX} ON core_order USING gin (search_document)"
    )
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as exc:
        logger.warning("pg_trgm is not available (%s): order search runs without indexes", exc)
        return
    for name, column in TRIGRAM_INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON core_order "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in [DOCUMENT_INDEX, *TRIGRAM_INDEXES]:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
