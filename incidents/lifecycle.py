"""The incident lifecycle: the states agents see, derived from what Mirakl tells us.

Mirakl has no NEW / IN PROGRESS / CONTESTED / RESOLVED states of its own: it only puts
a line in ``INCIDENT_OPEN`` while an incident is open. The seller guides describe the
states the shop works with; this module derives them from facts we keep:

- the line is no longer ``INCIDENT_OPEN``                      → CLOSED
- the shop marked it resolved and the operator has not objected → RESOLVED
- the operator wrote after the shop marked it resolved          → CONTESTED
- the shop has acted since it opened (message, refund)          → IN PROGRESS
- nobody has acted yet                                          → NEW

Every state change goes through :func:`incident_transition`, which rejects impossible
transitions and writes the audit entry (the incident's history). Sync and user actions
both use it. The shop's own "mark resolved" is in ``incidents.resolution``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Min, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from incidents.audit import audit_entry
from incidents.bulk import update_rows
from incidents.freshness import inbox_changed
from incidents.models import AuditEntry, Incident

__all__ = [
    "ALLOWED_TRANSITIONS",
    "ROLLBACK_TRANSITIONS",
    "IncidentFacts",
    "InvalidTransition",
    "derive_state",
    "incident_opened_entry",
    "incident_transition",
    "incidents_refresh",
]

logger = logging.getLogger(__name__)

State = Incident.State
Action = AuditEntry.Action
Source = AuditEntry.Source

#: Which state may follow which. CLOSED is final: a reopened incident is a new episode.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    State.NEW: frozenset({State.IN_PROGRESS, State.RESOLVED, State.CLOSED}),
    State.IN_PROGRESS: frozenset({State.RESOLVED, State.CLOSED}),
    State.RESOLVED: frozenset({State.CONTESTED, State.CLOSED}),
    State.CONTESTED: frozenset({State.RESOLVED, State.CLOSED}),
    State.CLOSED: frozenset(),
}

#: Undoing a resolution Mirakl refused (OR64 answered 4xx): back to the state it left.
#: Only :func:`incident_transition` with ``rollback=True`` may take these.
ROLLBACK_TRANSITIONS: dict[str, frozenset[str]] = {
    State.RESOLVED: frozenset({State.NEW, State.IN_PROGRESS, State.CONTESTED}),
}

#: The audit action of a transition, by target state (others: ``state_changed``).
_ACTIONS_BY_TARGET = {
    State.CLOSED: Action.INCIDENT_CLOSED,
    State.CONTESTED: Action.CONTESTED,
}


class InvalidTransition(Exception):
    """An incident was asked to move to a state it cannot reach from its current one."""

    def __init__(self, incident: Incident, to: str) -> None:
        super().__init__(f"Incident {incident.pk}: {incident.state} → {to} is not allowed")
        self.incident = incident
        self.from_state = incident.state
        self.to = to

    @property
    def user_message(self) -> str:
        """What to tell the agent, in the active language."""
        return str(
            _("This incident cannot go from “%(from)s” to “%(to)s”.")
            % {"from": State(self.from_state).label, "to": State(self.to).label}
        )


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    """What the derived state depends on."""

    line_open: bool
    first_shop_action_at: datetime | None = None
    resolved_at: datetime | None = None
    contested_at: datetime | None = None


def derive_state(facts: IncidentFacts) -> str:
    """The state an incident is in, given the facts (see the module docstring)."""
    if not facts.line_open:
        return State.CLOSED
    if facts.resolved_at is not None:
        if facts.contested_at is not None and facts.contested_at >= facts.resolved_at:
            return State.CONTESTED
        return State.RESOLVED
    if facts.contested_at is not None:
        return State.CONTESTED
    if facts.first_shop_action_at is not None:
        return State.IN_PROGRESS
    return State.NEW


def incident_transition(
    *,
    incident: Incident,
    to: str,
    source: str,
    actor: Any = None,
    detail: str = "",
    action: str | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
    rollback: bool = False,
    save: bool = True,
) -> AuditEntry:
    """Move ``incident`` to ``to`` and record who, when and why in the audit log.

    Raises :class:`InvalidTransition` (and changes nothing) when ``to`` cannot follow
    the current state. ``action`` defaults to ``incident_closed`` / ``contested`` /
    ``state_changed`` by target; ``rollback`` also allows undoing a resolution.
    With ``save=False`` neither the incident nor the entry is written: bulk callers
    (the sync) collect both and write them in one statement each.
    """
    allowed = ALLOWED_TRANSITIONS[incident.state]
    if rollback:
        allowed = allowed | ROLLBACK_TRANSITIONS.get(incident.state, frozenset())
    if to not in allowed:
        raise InvalidTransition(incident, to)
    at = at or timezone.now()
    entry = audit_entry(
        action=action or _ACTIONS_BY_TARGET.get(to, Action.STATE_CHANGED),
        source=source,
        actor=actor,
        incident=incident,
        from_state=incident.state,
        to_state=to,
        detail=detail,
        data=data,
        at=at,
    )
    incident.state = to
    inbox_changed()
    if save:
        incident.save(update_fields=["state", "updated_at"])
        entry.save()
    return entry


def incident_opened_entry(*, incident: Incident, source: str = Source.SYNC) -> AuditEntry:
    """The unsaved entry of an episode opening (``incident_reopened`` after the first)."""
    return audit_entry(
        action=Action.INCIDENT_REOPENED if incident.episode > 1 else Action.INCIDENT_OPENED,
        source=source,
        incident=incident,
        to_state=incident.state,
        detail=incident.reason_label,
        data={"episode": incident.episode} if incident.episode > 1 else None,
        at=incident.opened_at,
    )


def incidents_refresh(*, order_ids: Iterable[int], now: datetime | None = None) -> int:
    """Re-derive the state of the open incidents of these orders from their threads.

    Reads, in one query, the first shop message and refund since each incident opened
    and the last operator message since the shop marked it resolved; then writes the
    incidents whose state changed and their history rows. Returns how many changed.
    """
    from messaging.models import Message, Party
    from refunds.models import Refund

    order_ids = list(order_ids)
    if not order_ids:
        return 0
    first_shop_message = (
        Message.objects.filter(
            thread__order_id=OuterRef("order_id"),
            author_type=Party.SHOP,
            date_created__gte=OuterRef("opened_at"),
        )
        .order_by()
        .values("thread__order_id")
        .annotate(first=Min("date_created"))
        .values("first")
    )
    first_refund = (
        Refund.objects.filter(line_id=OuterRef("line_id"), created_date__gte=OuterRef("opened_at"))
        .order_by()
        .values("line_id")
        .annotate(first=Min("created_date"))
        .values("first")
    )
    first_operator_after_resolution = (
        Message.objects.filter(
            thread__order_id=OuterRef("order_id"),
            author_type=Party.OPERATOR,
            date_created__gt=OuterRef("resolved_at"),
        )
        .order_by()
        .values("thread__order_id")
        .annotate(first=Min("date_created"))
        .values("first")
    )
    with transaction.atomic():
        # Locked so that an agent's "mark resolved" in between is not overwritten.
        incidents = list(
            Incident.objects.filter(order_id__in=order_ids, closed_at__isnull=True)
            .annotate(
                shop_message_at=Subquery(first_shop_message),
                refund_at=Subquery(first_refund),
                operator_after_resolution_at=Subquery(first_operator_after_resolution),
            )
            .select_for_update(of=("self",))
            .order_by("pk")
        )
        return _refresh(incidents, now or timezone.now())


def _refresh(incidents: list[Incident], at: datetime) -> int:
    """Derive, then write in bulk the changed incidents, their entries and notifications."""
    changed: list[dict[str, object]] = []
    entries: list[AuditEntry] = []
    contested: list[Incident] = []
    for incident in incidents:
        acted = [
            t
            for t in (incident.first_shop_action_at, incident.shop_message_at, incident.refund_at)
            if t is not None
        ]
        first_action = min(acted) if acted else None
        contested_at = incident.contested_at
        if incident.resolved_at and incident.operator_after_resolution_at:
            contested_at = incident.operator_after_resolution_at
        new_state = derive_state(
            IncidentFacts(
                line_open=True,
                first_shop_action_at=first_action,
                resolved_at=incident.resolved_at,
                contested_at=contested_at,
            )
        )
        dirty = first_action != incident.first_shop_action_at
        dirty |= contested_at != incident.contested_at
        if new_state != incident.state and new_state not in ALLOWED_TRANSITIONS[incident.state]:
            # The facts disagree with the state (e.g. a shop message deleted in Mirakl):
            # the state machine wins, but someone should know why the page disagrees.
            logger.warning(
                "Incident %s: the sync derived %s from %s, a transition the state machine "
                "does not allow; the incident stays %s",
                incident.pk,
                new_state,
                incident.state,
                incident.state,
                extra={
                    "incident_id": incident.pk,
                    "from_state": str(incident.state),
                    "to_state": str(new_state),
                },
            )
        elif new_state != incident.state:
            detail = ""
            if new_state == State.CONTESTED:
                detail = str(_("The operator wrote after the incident was marked resolved."))
                contested.append(incident)
            entries.append(
                incident_transition(
                    incident=incident,
                    to=new_state,
                    source=Source.SYNC,
                    detail=detail,
                    at=contested_at if new_state == State.CONTESTED and contested_at else at,
                    save=False,
                )
            )
            dirty = True
        if dirty:
            changed.append(
                {
                    "id": incident.pk,
                    "state": incident.state,
                    "first_shop_action_at": first_action,
                    "contested_at": contested_at,
                    "updated_at": at,
                }
            )
    update_rows(
        Incident, changed, fields=["state", "first_shop_action_at", "contested_at", "updated_at"]
    )
    AuditEntry.objects.bulk_create(entries)
    if contested:
        from sla.alerts import incident_contested_notify

        incident_contested_notify(incidents=contested, now=at)
    return len(changed)
