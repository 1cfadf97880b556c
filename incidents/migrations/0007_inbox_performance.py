"""The inbox at 100,000 incidents: a copy of the open SLA wait's due time, and the indexes
the inbox's sorts and filters walk.

``Incident.reply_due_at`` is kept by the SLA sweep (``sla.services``); it is filled
here from the waits already recorded, so the inbox sorts right before the next sweep.

``thread_waiting_order_idx`` serves the inbox's "waiting for us" filter (the orders
of threads the shop owes an answer) from the index alone. It is the inbox's, so it is
made here, outside the messaging app's model state, as the search indexes of
``0005_order_search_indexes`` and ``messaging.0004`` are.
"""

from django.db import migrations, models
from django.db.models import OuterRef, Q, Subquery


def fill_reply_due_at(apps, schema_editor):
    Incident = apps.get_model("incidents", "Incident")
    SlaItem = apps.get_model("sla", "SlaItem")
    due = (
        SlaItem.objects.filter(kind="incident", incident=OuterRef("pk"), stopped_at__isnull=True)
        .order_by("due_at")
        .values("due_at")[:1]
    )
    Incident.objects.filter(closed_at__isnull=True).update(reply_due_at=Subquery(due))


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0006_audit_log"),
        ("messaging", "0004_message_search_index"),
        ("sla", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="incident",
            name="reply_due_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="reply due"
            ),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=Q(closed_at__isnull=True),
                fields=["reply_due_at", "opened_at", "id"],
                name="incident_open_due_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=Q(closed_at__isnull=False),
                fields=["-opened_at", "-id"],
                name="incident_closed_opened_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=Q(closed_at__isnull=True),
                fields=["state", "reply_due_at", "opened_at", "id", "order"],
                name="incident_open_state_due_idx",
            ),
        ),
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS thread_waiting_order_idx "
            "ON messaging_thread (order_id, last_message_at, id) "
            "WHERE shop_reply_needed_since IS NOT NULL AND order_id IS NOT NULL",
            "DROP INDEX IF EXISTS thread_waiting_order_idx",
        ),
        migrations.RunPython(fill_reply_due_at, migrations.RunPython.noop, elidable=True),
    ]
