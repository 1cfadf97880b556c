"""The inbox searches each order's search document (``incidents.0009``), not the
messages one by one: their full-text index only slowed the sync's writes down."""

from django.db import migrations

INDEX = "message_body_fts_idx"


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON messaging_message "
        "USING gin (to_tsvector('spanish'::regconfig, COALESCE(body, '')))"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0004_message_search_index"),
        ("incidents", "0009_order_search_document"),
    ]

    operations = [migrations.RunPython(drop_index, create_index)]
