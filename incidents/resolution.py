"""Marking an incident resolved (Mirakl OR64) and what follows from it.

1. :func:`incident_resolve` checks the agent may (not closed, not already awaiting
   close, no conversation of the order waiting for the shop, a reason from the
   marketplace's INCIDENT_CLOSE list), moves the incident to RESOLVED through the state
   machine, writes the audit entry and a :class:`~incidents.models.ResolutionRequest`
   (who, why, and the incident as it was) with its outbox entry, in one transaction.
2. The outbox sends OR64 once that commits (:mod:`incidents.outbox`; the pending sweep
   sends it if its task is lost). When Mirakl refuses it (4xx), or the outbox gives up,
   the refusal is recorded (``resolve_failed``, Mirakl's message) and the incident goes
   back to the state the request kept, through the state machine.
3. The incident then shows "resolved, awaiting operator close" until the sync sees the
   line leave ``INCIDENT_OPEN`` (closed), or an operator message after the resolution
   (contested: ``incidents.lifecycle.incidents_refresh``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import MarketplaceReason
from core.outbox.engine import outbox_enqueue
from core.outbox.kinds import OutboxKind
from core.precompiled import PrecompiledQuery
from incidents.lifecycle import InvalidTransition, incident_transition
from incidents.models import AuditEntry, Incident, ResolutionRequest

__all__ = [
    "RESOLUTION_REASON_TYPE",
    "ResolutionRefused",
    "incident_resolve",
    "register_resolution_check",
    "resolution_panels",
    "resolution_reason_choices",
    "resolution_reason_label",
]

#: The RE01 reason type OR64 takes (MIRAKL_API.md section 4).
RESOLUTION_REASON_TYPE = "INCIDENT_CLOSE"

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
    return timezone.localtime(moment).strftime("%d/%m/%Y %H:%M")


#: What else may keep an incident from being marked resolved, as the apps above say:
#: each is called with the incident and answers the refusal's words, or None. The
#: messaging app refuses while a conversation of the order waits for the shop.
_resolution_checks: list[Callable[[Incident], str | None]] = []


def register_resolution_check(check: Callable[[Incident], str | None]) -> None:
    """Have ``check`` refuse a resolution (answering why) or let it go (None)."""
    if check not in _resolution_checks:
        _resolution_checks.append(check)


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
    for check in _resolution_checks:
        refusal = check(incident)
        if refusal is not None:
            return refusal
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
        request = ResolutionRequest(
            incident=locked,
            reason_code=reason_code,
            requested_by=actor if getattr(actor, "is_authenticated", False) else None,
            source=source,
            created_at=now,
            previous_state=locked.state,
            previous_resolved_at=locked.resolved_at,
            previous_resolved_by_id=locked.resolved_by_id,
            previous_resolution_reason_code=locked.resolution_reason_code,
            previous_first_shop_action_at=locked.first_shop_action_at,
        )
        try:
            entry = incident_transition(
                incident=locked,
                to=State.RESOLVED,
                source=source,
                actor=actor,
                action=Action.RESOLVE_REQUESTED,
                detail=resolution_reason_label(connection=locked.connection_id, code=reason_code),
                data={"reason_code": reason_code, "previous_state": request.previous_state},
                at=now,
                save=False,
            )
        except InvalidTransition as exc:
            raise ResolutionRefused(exc.user_message, code="invalid_transition") from exc
        locked.resolved_at = now
        locked.resolved_by = actor if getattr(actor, "is_authenticated", False) else None
        locked.resolution_reason_code = reason_code
        locked.first_shop_action_at = locked.first_shop_action_at or now
        # A new resolution starts a new watch: its expected close comes from the next
        # SLA sweep, and only what is written from now on puts it back in the queue.
        locked.watch, locked.watch_at, locked.close_expected_at = "", None, None
        locked.save(
            update_fields=[
                "state",
                "resolved_at",
                "resolved_by",
                "resolution_reason_code",
                "first_shop_action_at",
                "watch",
                "watch_at",
                "close_expected_at",
                "updated_at",
            ]
        )
        entry.save()
        request.delivery = outbox_enqueue(
            kind=OutboxKind.RESOLUTION, group_key=f"incident:{locked.pk}", now=now
        )
        request.save(force_insert=True)
    incident.state = locked.state
    incident.resolved_at = locked.resolved_at
    incident.resolved_by = locked.resolved_by
    incident.resolution_reason_code = locked.resolution_reason_code
    incident.first_shop_action_at = locked.first_shop_action_at
    return entry


def _order_requests(*, order_id: int) -> QuerySet[ResolutionRequest]:
    return (
        ResolutionRequest.objects.filter(incident__order_id=order_id)
        .select_related("delivery")
        .order_by("created_at", "pk")
    )


#: Written once per process (every incident page shows the resolution panel).
_ORDER_REQUESTS = PrecompiledQuery(_order_requests, order_id=-1_999_999_061)


def _latest_requests(*, order_id: int) -> dict[int, ResolutionRequest]:
    """The last resolution request of each incident of the order, with its delivery
    (one query; an incident has a handful at most)."""
    latest: dict[int, ResolutionRequest] = {}
    using = router.db_for_read(ResolutionRequest)
    for request in _ORDER_REQUESTS.instances(using, order_id=order_id):
        latest[request.incident_id] = request
    return latest


def resolution_panels(
    *, incident: Incident, reasons: list[tuple[str, str]] | None = None
) -> list[dict[str, Any]]:
    """The page's incident and the order's other open ones, each with its resolution
    facts: reason label, its last resolution request (sent, being sent and possibly in
    doubt, or refused by Mirakl with its message) and the reasons to choose from. Two
    queries whatever the number of incidents, fewer with what the page already read: the
    other open incidents (``order_open_incidents`` from
    :func:`incidents.selectors.incident_detail`) and the INCIDENT_CLOSE ``reasons``.
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
    latest = _latest_requests(order_id=incident.order_id)
    panels = []
    for target in targets:
        request = latest.get(target.pk)
        code = target.resolution_reason_code
        refused = request is not None and request.state == ResolutionRequest.State.REFUSED
        panels.append(
            {
                "incident": target,
                "reasons": reasons,
                "status": {
                    "reason_label": (labels.get(code) or code) if code else "",
                    "request": request,
                    "failure": {
                        "at": request.delivery.done_at or request.created_at,
                        "detail": request.error_message,
                    }
                    if refused and request is not None
                    else None,
                    "sent": request is not None and request.state == ResolutionRequest.State.SENT,
                },
            }
        )
    return panels
