"""The append-only audit log: one function to write it, used by every action.

Views, API views, services and the sync all record what they do through
:func:`audit_log` (or :func:`audit_entry` + ``bulk_create`` when they write many rows at
once). Entries are never changed: see :class:`incidents.models.AuditEntry`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.utils import timezone

from core.mirakl_codes import RAW_CODES, mirakl_label, parties_in_words
from core.models import Order
from core.reasons import reason_label
from incidents.models import AuditEntry, Incident

__all__ = ["audit_entry", "audit_log", "actor_name", "history_text"]

Action = AuditEntry.Action
Source = AuditEntry.Source


def actor_name(user: Any) -> str:
    """How the log names a user: full name, or username; blank for nobody."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ""
    return user.get_full_name() or user.get_username()


def audit_entry(
    *,
    action: str,
    source: str = Source.USER,
    actor: Any = None,
    incident: Incident | None = None,
    order: Order | None = None,
    detail: str = "",
    data: Mapping[str, Any] | None = None,
    from_state: str = "",
    to_state: str = "",
    at: datetime | None = None,
) -> AuditEntry:
    """An unsaved entry; the order and marketplace are taken from the incident if given."""
    order_id: int | None
    if order is None and incident is not None:
        order = incident.order if "order" in incident._state.fields_cache else None
        order_id = incident.order_id
    else:
        order_id = order.pk if order is not None else None
    connection_id = None
    if incident is not None:
        connection_id = incident.connection_id
    elif order is not None:
        connection_id = order.connection_id
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEntry(
        at=at or timezone.now(),
        actor=user,
        actor_name=actor_name(actor),
        source=source,
        action=action,
        connection_id=connection_id,
        order_id=order_id,
        incident=incident,
        from_state=from_state,
        to_state=to_state,
        detail=detail,
        data=dict(data or {}),
    )


def audit_log(**kwargs: Any) -> AuditEntry:
    """Write one audit entry now (same arguments as :func:`audit_entry`)."""
    entry = audit_entry(**kwargs)
    entry.save()
    return entry


#: A code alone (``RECEIVED``, ``INC_SOLVED_DELIVERED``, ``22``).
_CODE = re.compile(r"^[A-Z0-9_]+$")
#: A new conversation's entry: ``"<topic> → <parties>: <excerpt>"``.
_TOPIC = re.compile(r"^([0-9A-Z_]+) → ")


def history_text(detail: str, connection_id: int | None) -> str:
    """An entry's ``detail`` as the history shows it: the Mirakl codes older entries
    were written with (parties, line states, reason codes) in words (the reasons
    from the cache)."""
    text = (detail or "").strip()
    if not text:
        return ""
    if _CODE.match(text):
        label = reason_label(connection_id=connection_id, code=text)
        if label != text:
            return label
        return mirakl_label(text) if text in RAW_CODES else text
    text = parties_in_words(text)
    topic = _TOPIC.match(text)
    if topic:
        code = topic.group(1)
        label = reason_label(connection_id=connection_id, code=code)
        if label != code:
            text = f"{label} → {text[topic.end() :]}"
    return text
