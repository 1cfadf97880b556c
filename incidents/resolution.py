"""Marking an incident resolved (Mirakl OR64) and what follows from it.

1. :func:`incident_resolve` checks the agent may (not closed, not already awaiting
   close, no conversation of the order waiting for the shop, a reason from the
   marketplace's INCIDENT_CLOSE list), stores who/when/why, moves the incident to
   RESOLVED through the state machine, writes the audit entry and, once the transaction
   commits, queues :func:`incidents.tasks.resolve_incident_task`.
2. The task calls :func:`incident_resolution_send`, which sends OR64 (a PUT: sending it
   again is harmless, so transient errors are retried). When Mirakl refuses it (4xx),
   the refusal is recorded (``resolve_failed``, Mirakl's message) and the incident goes
   back to the state it had, through the state machine.
3. The incident then shows "resolved, awaiting operator close" until the sync sees the
   line leave ``INCIDENT_OPEN`` (closed), or an operator message after the resolution
   (contested: ``incidents.lifecycle.incidents_refresh``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from incidents.audit import audit_log
from incidents.lifecycle import InvalidTransition, incident_transition
from incidents.models import AuditEntry, Incident, MarketplaceReason
from mirakl.client import MiraklClient
from mirakl.errors import MiraklError, MiraklTransientError

__all__ = [
    "RESOLUTION_ACTIONS",
    "RESOLUTION_REASON_TYPE",
    "ResolutionRefused",
    "incident_resolution_send",
    "incident_resolve",
    "resolution_reason_choices",
    "resolution_panels",
    "resolution_reason_label",
]

#: The RE01 reason type OR64 takes (MIRAKL_API.md section 4).
RESOLUTION_REASON_TYPE = "INCIDENT_CLOSE"
MADRID = ZoneInfo("Europe/Madrid")

State = Incident.State
Action = AuditEntry.Action
Source = AuditEntry.Source


class ResolutionRefused(ValidationError):
    """The incident cannot be marked resolved now; the message says why (translated)."""


def resolution_reason_choices(*, connection: Any) -> list[tuple[str, str]]:
    """(code, label) of the marketplace's INCIDENT_CLOSE reasons the shop may use."""
    return list(
        MarketplaceReason.objects.filter(
            connection_id=getattr(connection, "pk", connection), type=RESOLUTION_REASON_TYPE
        )
        .exclude(is_shop_right=False)
        .order_by("code")
        .values_list("code", "label")
    )


def resolution_reason_label(*, connection: Any, code: str) -> str:
    """The label of a resolution reason code (the code itself when unknown)."""
    if not code:
        return ""
    label = (
        MarketplaceReason.objects.filter(
            connection_id=getattr(connection, "pk", connection),
            type=RESOLUTION_REASON_TYPE,
            code=code,
        )
        .values_list("label", flat=True)
        .first()
    )
    return label or code


def _local(moment: datetime) -> str:
    return timezone.localtime(moment, MADRID).strftime("%d/%m/%Y %H:%M")


def _waiting_thread(incident: Incident) -> str | None:
    """The topic of a conversation of the order still owed an answer by the shop.

    Mirakl's ``shop_reply_needed_since`` says so, unless it was answered here (a
    message queued or sent after the last inbound one) or marked "no reply required"
    here after it: the same rule as the conversation panel.
    """
    from messaging.selectors import order_conversations

    for view in order_conversations(order_id=incident.order_id):
        if view.needs_reply:
            return view.topic
    return None


def _refusal(incident: Incident, reason_code: str) -> str | None:
    if incident.closed_at is not None or incident.state == State.CLOSED:
        when = incident.closed_at or incident.updated_at
        return str(
            _("This incident was already closed by the operator on %(date)s.")
            % {"date": _local(when)}
        )
    if incident.state == State.RESOLVED:
        return str(
            _(
                "This incident was already marked resolved on %(date)s: it is waiting for "
                "the operator to close it."
            )
            % {"date": _local(incident.resolved_at or incident.updated_at)}
        )
    codes = {code for code, _label in resolution_reason_choices(connection=incident.connection_id)}
    if reason_code not in codes:
        return str(_("Choose a resolution reason from the marketplace's list."))
    thread = _waiting_thread(incident)
    if thread is not None:
        return str(
            _(
                "The conversation “%(thread)s” is waiting for a reply from the shop: answer "
                "it or mark it “no reply required” before marking the incident resolved."
            )
            % {"thread": thread}
        )
    return None


def incident_resolve(
    *,
    incident: Incident,
    reason_code: str,
    actor: Any,
    source: str = Source.USER,
    now: datetime | None = None,
) -> AuditEntry:
    """Mark ``incident`` resolved with a reason from the marketplace's list (OR64 after commit).

    Raises :class:`ResolutionRefused` (nothing written) when the incident is closed,
    already awaiting close, a conversation of the order waits for the shop, or the
    reason is not one of the marketplace's. Returns the ``resolve_requested`` entry.
    """
    from incidents.tasks import resolve_incident_task

    now = now or timezone.now()
    with transaction.atomic():
        locked = (
            Incident.objects.select_for_update(of=("self",))
            .select_related("order", "line", "connection")
            .get(pk=incident.pk)
        )
        refusal = _refusal(locked, reason_code)
        if refusal is not None:
            raise ResolutionRefused(refusal, code="refused")
        previous = {
            "state": locked.state,
            "resolved_at": locked.resolved_at,
            "resolved_by": locked.resolved_by_id,
            "resolution_reason_code": locked.resolution_reason_code,
            "first_shop_action_at": locked.first_shop_action_at,
        }
        try:
            entry = incident_transition(
                incident=locked,
                to=State.RESOLVED,
                source=source,
                actor=actor,
                action=Action.RESOLVE_REQUESTED,
                detail=resolution_reason_label(connection=locked.connection_id, code=reason_code),
                data={"reason_code": reason_code, "previous": previous},
                at=now,
                save=False,
            )
        except InvalidTransition as exc:
            raise ResolutionRefused(exc.user_message, code="invalid_transition") from exc
        locked.resolved_at = now
        locked.resolved_by = actor if getattr(actor, "is_authenticated", False) else None
        locked.resolution_reason_code = reason_code
        locked.first_shop_action_at = locked.first_shop_action_at or now
        locked.save(
            update_fields=[
                "state",
                "resolved_at",
                "resolved_by",
                "resolution_reason_code",
                "first_shop_action_at",
                "updated_at",
            ]
        )
        entry.save()
        transaction.on_commit(lambda: resolve_incident_task.delay(locked.pk))
    incident.state = locked.state
    incident.resolved_at = locked.resolved_at
    incident.resolved_by = locked.resolved_by
    incident.resolution_reason_code = locked.resolution_reason_code
    incident.first_shop_action_at = locked.first_shop_action_at
    return entry


def _restore(incident: Incident, previous: dict[str, Any]) -> None:
    def when(value: Any) -> datetime | None:
        return parse_datetime(value) if isinstance(value, str) else value

    incident.resolved_at = when(previous.get("resolved_at"))
    incident.resolved_by_id = previous.get("resolved_by")
    incident.resolution_reason_code = previous.get("resolution_reason_code") or ""
    incident.first_shop_action_at = when(previous.get("first_shop_action_at"))


def _refused(incident_id: int, error: MiraklError, now: datetime) -> str:
    """Record Mirakl's refusal and put the incident back where it was."""
    with transaction.atomic():
        incident = Incident.objects.select_for_update(of=("self",)).get(pk=incident_id)
        request = (
            AuditEntry.objects.filter(incident=incident, action=Action.RESOLVE_REQUESTED)
            .order_by("-at", "-pk")
            .first()
        )
        previous = dict((request.data or {}).get("previous") or {}) if request else {}
        detail = error.message or str(error)
        data = {"call": error.call, "status": error.status, "message": error.message}
        target = previous.get("state") or State.IN_PROGRESS
        if incident.state != State.RESOLVED:
            # Closed or contested meanwhile: nothing to undo, only the record.
            audit_log(
                action=Action.RESOLVE_FAILED,
                source=Source.SYSTEM,
                incident=incident,
                detail=detail,
                data=data,
                at=now,
            )
            return "failed"
        _restore(incident, previous)
        incident_transition(
            incident=incident,
            to=target,
            source=Source.SYSTEM,
            action=Action.RESOLVE_FAILED,
            detail=detail,
            data=data,
            at=now,
            rollback=True,
            save=False,
        ).save()
        incident.save(
            update_fields=[
                "state",
                "resolved_at",
                "resolved_by",
                "resolution_reason_code",
                "first_shop_action_at",
                "updated_at",
            ]
        )
    return "refused"


def incident_resolution_send(
    *,
    incident_id: int,
    client: MiraklClient | None = None,
    give_up: bool = False,
    now: datetime | None = None,
) -> str:
    """Send OR64 for an incident marked resolved; returns what happened.

    ``sent``; ``skipped`` (no longer awaiting close: closed, contested or rolled back
    meanwhile); ``refused`` (Mirakl said no: recorded and rolled back). Transient errors
    are raised for the task to retry; with ``give_up`` (the last retry) they are
    recorded as a refusal too, so the agent sees it and can try again.
    """
    incident = (
        Incident.objects.select_related("order", "line", "connection")
        .filter(pk=incident_id)
        .first()
    )
    if incident is None or incident.state != State.RESOLVED or incident.closed_at is not None:
        return "skipped"
    owned = client is None
    if client is None:
        from incidents.clients import client_for

        client = client_for(incident.connection)
    try:
        client.resolve_incident(
            incident.order.mirakl_id,
            incident.line.mirakl_id,
            reason_code=incident.resolution_reason_code or None,
        )
    except MiraklTransientError as exc:
        if not give_up:
            raise
        return _refused(incident.pk, exc, now or timezone.now())
    except MiraklError as exc:
        return _refused(incident.pk, exc, now or timezone.now())
    finally:
        if owned:
            client.close()
    audit_log(
        action=Action.RESOLVE_SENT,
        source=Source.SYSTEM,
        incident=incident,
        detail=incident.resolution_reason_code,
        data={"call": "OR64", "line": incident.line.mirakl_id},
        at=now,
    )
    return "sent"


#: The audit actions the resolution panel looks at (the last one of each incident).
RESOLUTION_ACTIONS = (Action.RESOLVE_REQUESTED, Action.RESOLVE_SENT, Action.RESOLVE_FAILED)


def resolution_panels(
    *,
    incident: Incident,
    reasons: list[tuple[str, str]] | None = None,
    entries: list[AuditEntry] | None = None,
) -> list[dict[str, Any]]:
    """The page's incident and the order's other open ones, each with its resolution
    facts: reason label, Mirakl's last refusal, whether OR64 went out, and the reasons
    to choose from. Three queries whatever the number of incidents, fewer with what the
    page already read: the other open incidents (``order_open_incidents`` from
    :func:`incidents.selectors.incident_detail`), the INCIDENT_CLOSE ``reasons`` and the
    audit ``entries`` (oldest first) of these incidents with :data:`RESOLUTION_ACTIONS`.
    """
    others = getattr(incident, "order_open_incidents", None)
    if others is None:
        others = list(
            Incident.objects.filter(order_id=incident.order_id, closed_at__isnull=True)
            .exclude(pk=incident.pk)
            .select_related("line", "resolved_by")
            .order_by("line__index", "line__mirakl_id")
        )
    targets = [incident, *others]
    if reasons is None:
        reasons = resolution_reason_choices(connection=incident.connection_id)
    labels = dict(reasons)
    if entries is None:
        entries = list(
            AuditEntry.objects.filter(
                incident_id__in=[t.pk for t in targets], action__in=RESOLUTION_ACTIONS
            ).order_by("at", "pk")
        )
    target_ids = {t.pk for t in targets}
    last: dict[int, AuditEntry] = {}
    for entry in entries:
        if entry.incident_id in target_ids and entry.action in RESOLUTION_ACTIONS:
            last[entry.incident_id] = entry
    panels = []
    for target in targets:
        entry = last.get(target.pk)
        code = target.resolution_reason_code
        panels.append(
            {
                "incident": target,
                "reasons": reasons,
                "status": {
                    "reason_label": (labels.get(code) or code) if code else "",
                    "failure": entry
                    if entry is not None and entry.action == Action.RESOLVE_FAILED
                    else None,
                    "sent": entry is not None and entry.action == Action.RESOLVE_SENT,
                },
            }
        )
    return panels
