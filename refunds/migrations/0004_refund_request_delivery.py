"""Refund requests are delivered by the outbox: each one queued, sending or in doubt gets
its entry (requests awaiting approval get theirs when approved)."""

import django.db.models.deletion
from django.db import migrations, models

REFUND = 3  # core.outbox.kinds.OutboxKind.REFUND (numbers never change)


def give_pending_requests_their_delivery(apps, schema_editor):
    RefundRequest = apps.get_model("refunds", "RefundRequest")
    OutboxEntry = apps.get_model("core", "OutboxEntry")
    pending = RefundRequest.objects.filter(
        delivery__isnull=True, state__in=("queued", "sending", "in_doubt")
    )
    for request in pending.order_by("created_at", "pk").iterator():
        request.delivery = OutboxEntry.objects.create(
            kind=REFUND,
            group_key=f"order:{request.order_id}",
            state="queued",
            # "sending" was taken by a worker: it may have reached Mirakl.
            in_doubt=request.state in ("sending", "in_doubt"),
            attempts=request.attempts,
            last_attempt_at=request.last_attempt_at,
            last_error=request.error_message,
            created_at=request.approved_at or request.created_at,
            next_attempt_at=request.created_at,
        )
        if request.state == "sending":
            request.state = "in_doubt"
        request.save(update_fields=["delivery", "state"])


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0001_outbox'),
        ('refunds', '0003_refund_line_guard'),
    ]

    operations = [
        migrations.AddField(
            model_name='refundrequest',
            name='delivery',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.outboxentry', verbose_name='delivery'),
        ),
        migrations.RunPython(give_pending_requests_their_delivery, migrations.RunPython.noop),
        migrations.RemoveIndex(
            model_name='refundrequest',
            name='refundrequest_pending_idx',
        ),
        migrations.RemoveField(
            model_name='refundrequest',
            name='attempts',
        ),
        migrations.RemoveField(
            model_name='refundrequest',
            name='last_attempt_at',
        ),
    ]
