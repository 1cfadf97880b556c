"""Bulk actions on rows of the queue: assign, "no reply required", mark resolved.

Each row goes through the same service as the single action (``incident_assign``,
``thread_no_reply_mark``, ``incident_resolve``), in a transaction of its own: one row
refused leaves the others done, and each service writes its own audit entry (who, when,
why, from the page or the API). Every row gets one result back, done or refused with
the reason, in the order asked. Rows outside the marketplaces the user sees
(:mod:`core.scoping`) are refused as not found.

A row is an incident or a conversation without an incident (a thread):

- **assign**: the incident to a user (or to nobody); a conversation gives the open
  incident of its order, if it has one.
- **no reply required** (with a reason): every conversation of the row's order whose
  last message is inbound and is not marked yet; on an order whose incident is not
  resolved, only when the agent confirms (clock rule N1), otherwise refused with why.
- **mark resolved** (with a reason from the marketplace's list): incidents only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.scoping import scope_queryset
from incidents.models import AuditEntry, Incident
from incidents.resolution import incident_resolve
from incidents.services import incident_assign
from messaging.models import Party, Thread
from messaging.selectors import thread_last_message, thread_no_reply_current
from messaging.services import thread_no_reply_mark

__all__ = [
    "BULK_MAX_ROWS",
    "BULK_PERMISSIONS",
    "BulkAction",
    "BulkResult",
    "RowKind",
    "queue_bulk_apply",
]

#: The most rows one bulk action takes (a page of the queue is 25; "select all" of a
#: filter is not offered).
BULK_MAX_ROWS = 200


class BulkAction(models.TextChoices):
    ASSIGN = "assign", _("Assign")
    NO_REPLY = "no_reply", _("No reply required")
    RESOLVE = "resolve", _("Mark resolved")


class RowKind(models.TextChoices):
    INCIDENT = "incident", _("Incident")
    THREAD = "thread", _("Conversation")


#: The permission each action needs (the single actions' own).
BULK_PERMISSIONS: dict[str, str] = {
    BulkAction.ASSIGN: "incidents.assign_incident",
    BulkAction.NO_REPLY: "incidents.reply_incident",
    BulkAction.RESOLVE: "incidents.resolve_incident",
}


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What happened to one row: done, or refused and why (in the active language)."""

    kind: str
    pk: int
    label: str
    ok: bool
    message: str


def _label(order_id: str | None, marketplace: str | None) -> str:
    if not order_id:
        return ""
    return f"{order_id} ({marketplace})" if marketplace else order_id


def queue_bulk_apply(
    *,
    action: str,
    user: Any,
    incident_ids: Iterable[int] = (),
    thread_ids: Iterable[int] = (),
    assignee: Any = None,
    reason: str = "",
    reason_code: str = "",
    confirmed: bool = False,
    source: str = AuditEntry.Source.USER,
) -> list[BulkResult]:
    """Apply ``action`` to each row, through the single action's service; one result
    per row, incidents first, each list in the order given (duplicates once).

    The caller checks the user's permission for the action (:data:`BULK_PERMISSIONS`)
    and that the rows are at most :data:`BULK_MAX_ROWS`.
    """
    incident_ids = list(dict.fromkeys(int(pk) for pk in incident_ids))
    thread_ids = list(dict.fromkeys(int(pk) for pk in thread_ids))
    incidents = {
        i.pk: i
        for i in scope_queryset(
            Incident.objects.select_related("order", "connection", "line"), user
        ).filter(pk__in=incident_ids)
    }
    threads = {
        t.pk: t
        for t in scope_queryset(Thread.objects.select_related("order", "connection"), user).filter(
            pk__in=thread_ids
        )
    }
    results: list[BulkResult] = []
    for pk in incident_ids:
        incident = incidents.get(pk)
        if incident is None:
            results.append(_not_found(RowKind.INCIDENT, pk))
            continue
        label = _label(incident.order.mirakl_id, incident.connection.name)
        results.append(
            _result(
                RowKind.INCIDENT,
                pk,
                label,
                lambda incident=incident: _on_incident(
                    action, incident, user, assignee, reason, reason_code, confirmed, source
                ),
            )
        )
    for pk in thread_ids:
        thread = threads.get(pk)
        if thread is None:
            results.append(_not_found(RowKind.THREAD, pk))
            continue
        order = thread.order
        label = _label(order.mirakl_id if order else str(thread), thread.connection.name)
        results.append(
            _result(
                RowKind.THREAD,
                pk,
                label,
                lambda thread=thread: _on_thread(
                    action, thread, user, assignee, reason, reason_code, confirmed, source
                ),
            )
        )
    return results


def _not_found(kind: str, pk: int) -> BulkResult:
    return BulkResult(kind, pk, "", False, gettext("Not found, or not in your marketplaces."))


def _result(kind: str, pk: int, label: str, apply: Any) -> BulkResult:
    try:
        message = apply()
    except ValidationError as exc:
        return BulkResult(kind, pk, label, False, " ".join(str(m) for m in exc.messages))
    return BulkResult(kind, pk, label, True, message)


def _on_incident(
    action: str,
    incident: Incident,
    user: Any,
    assignee: Any,
    reason: str,
    reason_code: str,
    confirmed: bool,
    source: str,
) -> str:
    if action == BulkAction.ASSIGN:
        return _assign(incident, user, assignee, source)
    if action == BulkAction.RESOLVE:
        incident_resolve(incident=incident, reason_code=reason_code, actor=user, source=source)
        return gettext("Marked resolved; the marketplace is told in the background.")
    if action == BulkAction.NO_REPLY:
        threads = Thread.objects.filter(order_id=incident.order_id).select_related("order")
        return _no_reply(list(threads), user, reason, confirmed, source, incident=incident)
    raise ValidationError(gettext("Unknown action."))


def _on_thread(
    action: str,
    thread: Thread,
    user: Any,
    assignee: Any,
    reason: str,
    reason_code: str,
    confirmed: bool,
    source: str,
) -> str:
    if action == BulkAction.NO_REPLY:
        return _no_reply([thread], user, reason, confirmed, source)
    open_incident = (
        Incident.objects.filter(order_id=thread.order_id, closed_at__isnull=True)
        .select_related("order", "connection", "line")
        .order_by("opened_at", "pk")
        .first()
        if thread.order_id
        else None
    )
    if action == BulkAction.ASSIGN:
        if open_incident is None:
            raise ValidationError(
                gettext("A conversation without an open incident cannot be assigned.")
            )
        return _assign(open_incident, user, assignee, source)
    if action == BulkAction.RESOLVE:
        raise ValidationError(
            gettext("Only incidents can be marked resolved: this is a conversation.")
        )
    raise ValidationError(gettext("Unknown action."))


def _assign(incident: Incident, user: Any, assignee: Any, source: str) -> str:
    incident_assign(incident=incident, assignee=assignee, actor=user, source=source)
    if assignee is None:
        return gettext("Unassigned.")
    return gettext("Assigned to %(name)s.") % {
        "name": assignee.get_full_name() or assignee.get_username()
    }


def _no_reply(
    threads: Sequence[Thread],
    user: Any,
    reason: str,
    confirmed: bool,
    source: str,
    *,
    incident: Incident | None = None,
) -> str:
    """Mark every thread that waits (last message inbound, not marked yet)."""
    if not reason.strip():
        raise ValidationError(gettext("Say why no reply is required."))
    waiting = []
    for thread in threads:
        last = thread_last_message(thread)
        if last is None or last.author_type == Party.SHOP:
            continue
        if thread_no_reply_current(thread=thread) is not None:
            continue
        waiting.append(thread)
    if not waiting:
        raise ValidationError(gettext("Nothing here waits for a reply from the shop."))
    with transaction.atomic():  # the row's conversations all, or none
        for thread in waiting:
            thread_no_reply_mark(
                thread=thread,
                user=user,
                reason=reason.strip(),
                incident=incident,
                source=source,
                confirmed=confirmed,
            )
    return gettext("Marked “no reply required” (%(count)d conversations).") % {
        "count": len(waiting)
    }
