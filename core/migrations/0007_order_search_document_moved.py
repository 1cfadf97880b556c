"""The order's search document lives in ``messaging.OrderSearchDocument`` (copied there
by ``messaging.0004``); its column and GIN index go."""

from django.db import migrations

DOCUMENT_INDEX = "order_search_document_idx"


def noop(apps, schema_editor):
    pass


def recreate_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {DOCUMENT_INDEX} ON core_order USING gin (search_document)"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0006_marketplace_access"),
        ("messaging", "0004_order_search_document"),
    ]

    operations = [
        # Reversed, the column comes back first, then its index.
        migrations.RunPython(noop, recreate_index),
        migrations.RemoveField(model_name="order", name="search_document"),
    ]
