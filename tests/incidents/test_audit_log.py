"""The audit log is append-only, in the model and in PostgreSQL itself."""

import pytest
from django.contrib.auth import get_user_model
from django.db import InternalError, connection

from incidents.audit import audit_log
from incidents.models import AuditEntry
from tests.factories.incidents import IncidentFactory


@pytest.mark.django_db
def test_audit_entries_are_append_only_and_survive_their_user():
    inc = IncidentFactory()
    u = get_user_model().objects.create_user("bob", password="x", first_name="Bob", last_name="B")
    e = audit_log(action=AuditEntry.Action.NOTE, actor=u, incident=inc, detail="hi", data={"a": 1})
    assert (
        e.order_id == inc.order_id
        and e.connection_id == inc.connection_id
        and e.actor_name == "Bob B"
    )
    with pytest.raises(PermissionError):
        e.save()
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()
    u.delete()
    e.refresh_from_db()
    assert e.actor_id is None and e.actor_name == "Bob B"
    with connection.cursor() as c, pytest.raises(InternalError):
        c.execute("UPDATE incidents_auditentry SET detail='x'")
