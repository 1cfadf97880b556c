"""Full-text search of message bodies on Postgres (the inbox's search box).

A GIN index on ``to_tsvector('spanish', COALESCE(body, ''))``: the exact expression
``SearchVector("body", config="spanish")`` produces, so the planner uses it for
``incidents.filtersets.message_search_orders``. Other databases (the SQLite demo)
search with ``icontains`` and get no index.
"""

from django.db import migrations

INDEX = "message_body_fts_idx"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON messaging_message "
        "USING gin (to_tsvector('spanish'::regconfig, COALESCE(body, '')))"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("messaging", "0003_canned_replies")]

    operations = [migrations.RunPython(create_index, drop_index)]
