"""The search document of each order: its messages' text, for the inbox's search.

A ``tsvector`` column with a GIN index (Postgres), filled here from the messages
already synced; the threads sync keeps it up to date from then on
(``incidents.search``). Other databases (the SQLite demo) keep the column empty and
search the messages directly.
"""

import django.contrib.postgres.search
from django.db import migrations

INDEX = "order_search_document_idx"


def fill_and_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "UPDATE incidents_order o SET search_document = to_tsvector('spanish', s.text) "
        "FROM (SELECT t.order_id, string_agg(COALESCE(m.body, ''), E'\\n') AS text "
        "FROM messaging_message m JOIN messaging_thread t ON t.id = m.thread_id "
        "WHERE t.order_id IS NOT NULL GROUP BY t.order_id) s WHERE s.order_id = o.id"
    )
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON incidents_order USING gin (search_document)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0008_audit_history_merge"),
        ("messaging", "0004_message_search_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="search_document",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.RunPython(fill_and_index, drop_index),
    ]
