"""E-mail and webhook alerts are delivered by the outbox: each one not sent yet gets its
entry, which now holds the attempts and the last error."""

import django.db.models.deletion
from django.db import migrations, models

# core.outbox.kinds.OutboxKind (numbers never change).
KINDS = {"webhook": 5, "email": 6}


def give_unsent_alerts_their_delivery(apps, schema_editor):
    AlertDelivery = apps.get_model("sla", "AlertDelivery")
    OutboxEntry = apps.get_model("core", "OutboxEntry")
    unsent = AlertDelivery.objects.filter(
        delivery__isnull=True, sent_at__isnull=True, channel__in=list(KINDS)
    )
    for alert in unsent.iterator():
        alert.delivery = OutboxEntry.objects.create(
            kind=KINDS[alert.channel],
            attempts=alert.attempts,
            last_error=alert.last_error,
            created_at=alert.created_at,
            next_attempt_at=alert.created_at,
        )
        alert.save(update_fields=["delivery"])


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0001_outbox'),
        ('sla', '0005_slaitem_open_incident_idx'),
    ]

    operations = [
        migrations.AddField(
            model_name='alertdelivery',
            name='delivery',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.outboxentry', verbose_name='delivery'),
        ),
        migrations.RunPython(give_unsent_alerts_their_delivery, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='alertdelivery',
            name='attempts',
        ),
        migrations.RemoveField(
            model_name='alertdelivery',
            name='last_error',
        ),
    ]
