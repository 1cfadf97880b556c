"""The audit log is append-only in the database too (PostgreSQL): a trigger refuses
UPDATE and DELETE of its rows, except the ``SET NULL`` of a removed user's actor."""

from django.db import migrations

APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION incidents_auditentry_append_only() RETURNS trigger AS $$
BEGIN
    -- a removed user's entries keep their actor_name: only actor_id may become NULL
    IF TG_OP = 'UPDATE' AND NEW.actor_id IS NULL
       AND (NEW.id, NEW.at, NEW.actor_name, NEW.source, NEW.action, NEW.connection_id,
            NEW.order_id, NEW.incident_id, NEW.from_state, NEW.to_state, NEW.detail,
            NEW.data::text)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.at, OLD.actor_name, OLD.source, OLD.action, OLD.connection_id,
            OLD.order_id, OLD.incident_id, OLD.from_state, OLD.to_state, OLD.detail,
            OLD.data::text) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'The audit log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER incidents_auditentry_append_only
    BEFORE UPDATE OR DELETE ON incidents_auditentry
    FOR EACH ROW EXECUTE FUNCTION incidents_auditentry_append_only();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS incidents_auditentry_append_only ON incidents_auditentry;
DROP FUNCTION IF EXISTS incidents_auditentry_append_only();
"""


def append_only(apps, schema_editor):
    """On PostgreSQL, refuse UPDATE and DELETE of audit rows in the database itself."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_SQL)


def drop_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]

    operations = [migrations.RunPython(append_only, drop_append_only)]
