"""The orders' search documents move to a narrow table of their own.

Rewriting a document in ``core_order`` wrote a new version of the order through its ten
indexes; here it writes one row and the GIN index. The documents already built are
copied (``core.0007`` then drops the order's column). Postgres only, as the search.
"""

import django.contrib.postgres.search
import django.db.models.deletion
from django.db import migrations, models

INDEX = "order_search_doc_gin_idx"


def copy_documents(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "INSERT INTO messaging_ordersearchdocument (order_id, document) "
        "SELECT id, search_document FROM core_order "
        "WHERE search_document IS NOT NULL AND length(search_document) > 0"
    )
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON messaging_ordersearchdocument "
        "USING gin (document)"
    )


def copy_documents_back(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "UPDATE core_order o SET search_document = d.document "
        "FROM messaging_ordersearchdocument d WHERE d.order_id = o.id"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0006_marketplace_access"),
        ("messaging", "0003_canned_reply_warranty_within_30_days"),
    ]

    operations = [
        migrations.CreateModel(
            name="OrderSearchDocument",
            fields=[
                (
                    "order",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="core.order",
                    ),
                ),
                ("document", django.contrib.postgres.search.SearchVectorField()),
            ],
            options={
                "verbose_name": "order search document",
                "verbose_name_plural": "order search documents",
            },
        ),
        migrations.RunPython(copy_documents, copy_documents_back),
    ]
