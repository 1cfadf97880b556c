"""Resolutions get their own request row, sent by the outbox. An incident marked resolved
whose OR64 never went out (its task was lost) gets one now, so the outbox sends it."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

RESOLUTION = 4  # core.outbox.kinds.OutboxKind.RESOLUTION (numbers never change)
ACTIONS = ("resolve_requested", "resolve_sent", "resolve_failed")


def queue_unsent_resolutions(apps, schema_editor):
    Incident = apps.get_model("incidents", "Incident")
    AuditEntry = apps.get_model("incidents", "AuditEntry")
    ResolutionRequest = apps.get_model("incidents", "ResolutionRequest")
    OutboxEntry = apps.get_model("core", "OutboxEntry")
    for incident in Incident.objects.filter(state="resolved", closed_at__isnull=True).iterator():
        last = (
            AuditEntry.objects.filter(incident=incident, action__in=ACTIONS)
            .order_by("-at", "-pk")
            .first()
        )
        if last is None or last.action != "resolve_requested":
            continue
        previous = (last.data or {}).get("previous") or {}
        ResolutionRequest.objects.create(
            incident=incident,
            reason_code=incident.resolution_reason_code,
            requested_by_id=incident.resolved_by_id,
            source=last.source,
            created_at=last.at,
            previous_state=previous.get("state") or "in_progress",
            previous_resolved_at=previous.get("resolved_at"),
            previous_resolved_by_id=previous.get("resolved_by"),
            previous_resolution_reason_code=previous.get("resolution_reason_code") or "",
            previous_first_shop_action_at=previous.get("first_shop_action_at"),
            delivery=OutboxEntry.objects.create(
                kind=RESOLUTION,
                group_key=f"incident:{incident.pk}",
                created_at=last.at,
                next_attempt_at=last.at,
            ),
        )


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0001_outbox'),
        ('incidents', '0011_rebuild_search_documents'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ResolutionRequest',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('reason_code', models.CharField(max_length=64, verbose_name='reason code')),
                ('source', models.CharField(default='user', max_length=10, verbose_name='source')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='marked')),
                ('state', models.CharField(choices=[('queued', 'Queued'), ('sending', 'Sending'), ('sent', 'Sent to the marketplace'), ('refused', 'Refused by the marketplace'), ('skipped', 'Not sent (no longer awaiting close)')], default='queued', max_length=10, verbose_name='state')),
                ('sent_at', models.DateTimeField(blank=True, null=True, verbose_name='sent')),
                ('error_message', models.TextField(blank=True, verbose_name='Mirakl message')),
                ('previous_state', models.CharField(choices=[('new', 'New'), ('in_progress', 'In progress'), ('contested', 'Contested'), ('resolved', 'Resolved, awaiting close'), ('closed', 'Closed')], max_length=20, verbose_name='state before')),
                ('previous_resolved_at', models.DateTimeField(blank=True, null=True)),
                ('previous_resolution_reason_code', models.CharField(blank=True, max_length=64)),
                ('previous_first_shop_action_at', models.DateTimeField(blank=True, null=True)),
                ('delivery', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.outboxentry', verbose_name='delivery')),
                ('incident', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='resolution_requests', to='incidents.incident', verbose_name='incident')),
                ('previous_resolved_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('requested_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='marked by')),
            ],
            options={
                'verbose_name': 'resolution request',
                'verbose_name_plural': 'resolution requests',
                'ordering': ('-created_at', '-pk'),
                'indexes': [models.Index(fields=['incident', 'created_at'], name='resolution_incident_idx')],
            },
        ),
        migrations.RunPython(queue_unsent_resolutions, migrations.RunPython.noop),
    ]
