"""Rebuild every order's search document with a plain delimiter and a fixed order.

Documents written by the threads sync before this migration joined the messages with
the literal text ``Value('\\n')`` (so "value" matched every order with two messages
and the last word of each message was glued to it) and in no fixed order. This
rebuilds them as ``incidents.search.order_search_documents_refresh`` now does: the
messages by thread id, date and id, separated by a line break.
"""

from django.db import migrations


def rebuild(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "UPDATE incidents_order o SET search_document = to_tsvector('spanish', s.text) "
        "FROM (SELECT t.order_id, string_agg(m.body, E'\\n' "
        "ORDER BY t.mirakl_id, m.date_created, m.mirakl_id) AS text "
        "FROM messaging_message m JOIN messaging_thread t ON t.id = m.thread_id "
        "WHERE t.order_id IS NOT NULL GROUP BY t.order_id) s WHERE s.order_id = o.id"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0010_role_permissions_sync"),
        ("messaging", "0005_drop_message_search_index"),
    ]

    operations = [migrations.RunPython(rebuild, migrations.RunPython.noop)]
