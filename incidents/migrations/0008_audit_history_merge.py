"""The audit log becomes the one history: IncidentEvent and IncidentAction merge into it.

Every incident event (opened, reopened, state changed, closed) and every desk action
(assigned, note, reply...) is copied into ``AuditEntry`` with its incident's order and
marketplace, then both tables are dropped. The roles' read permission on the old event
table is replaced by ``incidents.view_auditentry``.

Running it backwards recreates both tables and copies the lifecycle and desk entries back
(audit rows are never deleted); running it forwards again skips entries already copied.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

BATCH = 2000

#: IncidentEvent.kind → AuditEntry.action
EVENT_ACTIONS = {
    "opened": "incident_opened",
    "reopened": "incident_reopened",
    "state_changed": "state_changed",
    "closed": "incident_closed",
}
#: IncidentAction.kind values are the AuditEntry.action values.
DESK_ACTIONS = ("assigned", "unassigned", "note", "reply", "new_thread", "no_reply", "retry")

ROLE_READ = ("agent", "account_manager", "admin")


def _actor_names(apps, ids):
    User = apps.get_model("auth", "User")
    return {
        pk: (f"{first} {last}".strip() or username)[:150]
        for pk, first, last, username in User.objects.filter(pk__in=ids).values_list(
            "pk", "first_name", "last_name", "username"
        )
    }


def _copy(apps, model_name, rows_of, existing):
    """Copy one old table into AuditEntry in batches; ``rows_of`` maps a row to kwargs."""
    Model = apps.get_model("incidents", model_name)
    AuditEntry = apps.get_model("incidents", "AuditEntry")
    queryset = Model.objects.order_by("pk").values(
        "pk",
        "incident_id",
        "incident__order_id",
        "incident__connection_id",
        "actor_id",
        "at",
        *rows_of.fields,
    )
    batch = []
    names = {}
    for row in queryset.iterator(chunk_size=BATCH):
        fields = rows_of(row)
        key = (row["incident_id"], fields["action"], row["at"])
        if key in existing:
            continue
        batch.append(row | {"_fields": fields})
        if len(batch) >= BATCH:
            _flush(AuditEntry, batch, names, apps)
            batch = []
    _flush(AuditEntry, batch, names, apps)


def _flush(AuditEntry, batch, names, apps):
    if not batch:
        return
    missing = {r["actor_id"] for r in batch if r["actor_id"] and r["actor_id"] not in names}
    names.update(_actor_names(apps, missing))
    AuditEntry.objects.bulk_create(
        AuditEntry(
            at=r["at"],
            actor_id=r["actor_id"],
            actor_name=names.get(r["actor_id"], ""),
            incident_id=r["incident_id"],
            order_id=r["incident__order_id"],
            connection_id=r["incident__connection_id"],
            **r["_fields"],
        )
        for r in batch
    )


def _event_fields(row):
    return {
        "action": EVENT_ACTIONS.get(row["kind"], "state_changed"),
        "source": row["source"] or "sync",
        "from_state": row["from_state"],
        "to_state": row["to_state"],
        "detail": row["note"],
        "data": {"migrated_from": "incidentevent"},
    }


_event_fields.fields = ("kind", "source", "from_state", "to_state", "note")


def _action_fields(row):
    return {
        "action": row["kind"],
        "source": "user",
        "detail": row["detail"],
        "data": {"migrated_from": "incidentaction"},
    }


_action_fields.fields = ("kind", "detail")


def merge_history(apps, schema_editor):
    AuditEntry = apps.get_model("incidents", "AuditEntry")
    existing = set(
        AuditEntry.objects.filter(
            action__in=[*EVENT_ACTIONS.values(), *DESK_ACTIONS], incident__isnull=False
        ).values_list("incident_id", "action", "at")
    )
    _copy(apps, "IncidentEvent", _event_fields, existing)
    _copy(apps, "IncidentAction", _action_fields, existing)
    if schema_editor.connection.vendor == "postgresql":
        # Check the new rows' foreign keys now, before the old tables are dropped.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def split_history(apps, schema_editor):
    """Backwards: the lifecycle and desk entries go back to the recreated tables."""
    AuditEntry = apps.get_model("incidents", "AuditEntry")
    IncidentEvent = apps.get_model("incidents", "IncidentEvent")
    IncidentAction = apps.get_model("incidents", "IncidentAction")
    kinds = {action: kind for kind, action in EVENT_ACTIONS.items()}
    entries = AuditEntry.objects.filter(incident__isnull=False).order_by("at", "pk")
    IncidentEvent.objects.bulk_create(
        (
            IncidentEvent(
                incident_id=e.incident_id,
                kind=kinds[e.action],
                from_state=e.from_state,
                to_state=e.to_state,
                source=e.source if e.source in ("sync", "user", "system") else "user",
                actor_id=e.actor_id,
                note=e.detail,
                at=e.at,
            )
            for e in entries.filter(action__in=kinds).iterator(chunk_size=BATCH)
        ),
        batch_size=BATCH,
    )
    IncidentAction.objects.bulk_create(
        (
            IncidentAction(
                incident_id=e.incident_id,
                kind=e.action,
                actor_id=e.actor_id,
                detail=e.detail,
                at=e.at,
            )
            for e in entries.filter(action__in=DESK_ACTIONS).iterator(chunk_size=BATCH)
        ),
        batch_size=BATCH,
    )


def grant_audit_read(apps, schema_editor):
    """Existing databases: the roles read the audit log instead of the old event table."""
    app_config = apps.get_app_config("incidents")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view_audit = Permission.objects.filter(
        content_type__app_label="incidents", codename="view_auditentry"
    ).first()
    stale = Permission.objects.filter(
        content_type__app_label="incidents",
        codename__in=("view_incidentevent", "view_incidentaction"),
    )
    for group in Group.objects.filter(name__in=ROLE_READ):
        group.permissions.remove(*stale)
        if view_audit is not None:
            group.permissions.add(view_audit)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0007_inbox_performance")]

    operations = [
        migrations.RunPython(merge_history, split_history),
        migrations.DeleteModel(name="IncidentAction"),
        migrations.DeleteModel(name="IncidentEvent"),
        migrations.RunPython(grant_audit_read, migrations.RunPython.noop),
    ]
