"""The inbox's SLA filter ("breaching") reads open incident waits by state from an index."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("sla", "0004_notification_incident")]

    operations = [
        migrations.AddIndex(
            model_name="slaitem",
            index=models.Index(
                condition=models.Q(kind="incident", stopped_at__isnull=True),
                fields=["state", "incident"],
                name="slaitem_open_incident_idx",
            ),
        ),
    ]
