"""Outbound messages are delivered by the outbox: each gets its entry, which now holds the
attempts, the last error and whether the outcome is unknown."""

import django.db.models.deletion
from django.db import migrations, models

# core.outbox.kinds.OutboxKind (numbers never change).
REPLY, NEW_THREAD = 1, 2
FINAL = {"sent": "sent", "failed": "failed"}


def give_every_message_its_delivery(apps, schema_editor):
    OutboundMessage = apps.get_model("messaging", "OutboundMessage")
    OutboxEntry = apps.get_model("core", "OutboxEntry")
    for message in OutboundMessage.objects.filter(delivery__isnull=True).iterator():
        reply = message.kind == "reply"
        message.delivery = OutboxEntry.objects.create(
            kind=REPLY if reply else NEW_THREAD,
            group_key=f"thread:{message.thread_id}" if reply else f"order:{message.order_id}",
            # A row left "sending" is taken over as a crashed attempt (checked first).
            state=FINAL.get(message.state, "queued"),
            in_doubt=message.in_doubt or message.state == "sending",
            attempts=message.attempts,
            last_attempt_at=message.last_attempt_at,
            last_error=message.last_error,
            created_at=message.created_at,
            next_attempt_at=message.created_at,
            done_at=message.sent_at if message.state == "sent" else None,
        )
        if message.state == "sending":
            message.state = "queued"
        message.save(update_fields=["delivery", "state"])


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0001_outbox'),
        ('messaging', '0005_drop_message_search_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='outboundmessage',
            name='delivery',
            field=models.OneToOneField(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.outboxentry', verbose_name='delivery'),
        ),
        migrations.RunPython(give_every_message_its_delivery, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='outboundmessage',
            name='delivery',
            field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.outboxentry', verbose_name='delivery'),
        ),
        migrations.RemoveField(
            model_name='outboundmessage',
            name='attempts',
        ),
        migrations.RemoveField(
            model_name='outboundmessage',
            name='in_doubt',
        ),
        migrations.RemoveField(
            model_name='outboundmessage',
            name='last_attempt_at',
        ),
        migrations.RemoveField(
            model_name='outboundmessage',
            name='last_error',
        ),
    ]
