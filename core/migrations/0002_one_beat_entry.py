"""One beat entry delivers the whole outbox: drop the entries of the tasks it replaces
(django-celery-beat keeps rows it no longer finds in the settings)."""

from django.db import migrations

REPLACED = (
    "messaging.tasks.deliver_pending_outbound_messages_task",
    "refunds.tasks.deliver_pending_refund_requests_task",
)


def drop_replaced_entries(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task__in=REPLACED).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0001_outbox"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(drop_replaced_entries, migrations.RunPython.noop)]
