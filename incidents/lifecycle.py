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
transitions and writes the history row. Sync and user actions both use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Min, OuterRef, Subquery
from django.utils import timezone

from incidents.bulk import update_rows
from incidents.models import Incident, IncidentEvent

__all__ = [
    "ALLOWED_TRANSITIONS",
    "IncidentFacts",
    "InvalidTransition",
    "derive_state",
    "incident_transition",
    "incidents_refresh",
]

State = Incident.State

#: Which state may follow which. CLOSED is final: a reopened incident is a new episode.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    State.NEW: frozenset({State.IN_PROGRESS, State.RESOLVED, State.CLOSED}),
    State.IN_PROGRESS: frozenset({State.RESOLVED, State.CLOSED}),
    State.RESOLVED: frozenset({State.CONTESTED, State.CLOSED}),
    State.CONTESTED: frozenset({State.RESOLVED, State.CLOSED}),
    State.CLOSED: frozenset(),
}


class InvalidTransition(Exception):
    """An incident was asked to move to a state it cannot reach from its current one."""

    def __init__(self, incident: Incident, to: str) -> None:
        super().__init__(f"Incident {incident.pk}: {incident.state} → {to} is not allowed")
        self.incident = incident
        self.to = to


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
    actor=None,
    note: str = "",
    at: datetime | None = None,
    save: bool = True,
) -> IncidentEvent:
    """Move ``incident`` to ``to`` and record who, when and why.

    With ``save=False`` neither the incident nor the event is written: bulk callers
    (the sync) collect both and write them in one statement each.
    """
    if to not in ALLOWED_TRANSITIONS[incident.state]:
        raise InvalidTransition(incident, to)
    at = at or timezone.now()
    kind = IncidentEvent.Kind.CLOSED if to == State.CLOSED else IncidentEvent.Kind.STATE_CHANGED
    event = IncidentEvent(
        incident=incident,
        kind=kind,
        from_state=incident.state,
        to_state=to,
        source=source,
        actor=actor,
        note=note,
        at=at,
    )
    incident.state = to
    if save:
        incident.save(update_fields=["state", "updated_at"])
        event.save()
    return event


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
    incidents = list(
        Incident.objects.filter(order_id__in=order_ids, closed_at__isnull=True).annotate(
            shop_message_at=Subquery(first_shop_message),
            refund_at=Subquery(first_refund),
            operator_after_resolution_at=Subquery(first_operator_after_resolution),
        )
    )
    changed: list[dict[str, object]] = []
    events: list[IncidentEvent] = []
    at = now or timezone.now()
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
        if new_state != incident.state and new_state in ALLOWED_TRANSITIONS[incident.state]:
            events.append(
                incident_transition(
                    incident=incident,
                    to=new_state,
                    source=IncidentEvent.Source.SYNC,
                    at=at,
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
    IncidentEvent.objects.bulk_create(events)
    return len(changed)
