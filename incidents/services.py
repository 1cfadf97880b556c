"""Writes of the incidents app: the desk's own actions on incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.freshness import inbox_changed, inbox_seen_changed
from incidents.audit import audit_log
from incidents.models import AuditEntry, Incident, IncidentAssignment, IncidentNote, IncidentSeen

__all__ = [
    "incident_assign",
    "incident_mark_seen",
    "incident_note_add",
]


def _user_label(user: Any) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


@transaction.atomic
def incident_assign(
    *,
    incident: Incident,
    assignee: Any | None,
    actor: Any,
    source: str = AuditEntry.Source.USER,
    now: datetime | None = None,
) -> IncidentAssignment | None:
    """Give ``incident`` to ``assignee`` (None: to nobody) and write the audit entry.

    Assigning to the current assignee changes nothing and writes no row.
    """
    now = now or timezone.now()
    inbox_changed()
    current = IncidentAssignment.objects.select_for_update().filter(incident=incident).first()
    if assignee is None:
        if current is None:
            return None
        previous = current.assignee
        current.delete()
        audit_log(
            action=AuditEntry.Action.UNASSIGNED,
            source=source,
            actor=actor,
            incident=incident,
            detail=_user_label(previous),
            data={"previous_assignee": previous.pk},
            at=now,
        )
        return None
    if current is not None and current.assignee_id == assignee.pk:
        return current
    assignment, _ = IncidentAssignment.objects.update_or_create(
        incident=incident,
        defaults={"assignee": assignee, "assigned_by": actor, "assigned_at": now},
    )
    audit_log(
        action=AuditEntry.Action.ASSIGNED,
        source=source,
        actor=actor,
        incident=incident,
        detail=_user_label(assignee),
        data={
            "assignee": assignee.pk,
            "previous_assignee": current.assignee_id if current is not None else None,
        },
        at=now,
    )
    return assignment


@transaction.atomic
def incident_note_add(
    *,
    incident: Incident,
    author: Any,
    body: str,
    source: str = AuditEntry.Source.USER,
    now: datetime | None = None,
) -> IncidentNote:
    """An internal note (kept here, never sent to Mirakl) and its audit entry."""
    now = now or timezone.now()
    note = IncidentNote.objects.create(incident=incident, author=author, body=body, created_at=now)
    audit_log(
        action=AuditEntry.Action.NOTE,
        source=source,
        actor=author,
        incident=incident,
        detail=body[:200],
        data={"note": note.pk},
        at=now,
    )
    return note


def incident_mark_seen(*, incident: Incident, user: Any, now: datetime | None = None) -> None:
    """Remember that ``user`` saw the incident now (the inbox's unread count): one upsert."""
    IncidentSeen.objects.bulk_create(
        [IncidentSeen(incident=incident, user=user, seen_at=now or timezone.now())],
        update_conflicts=True,
        unique_fields=["user", "incident"],
        update_fields=["seen_at"],
    )
    inbox_seen_changed(user_id=user.pk)
