"""The incident lifecycle: the states agents see, derived from what Mirakl tells us.

Mirakl has no NEW / IN PROGRESS / CONTESTED / RESOLVED states of its own: it only puts
a line in ``INCIDENT_OPEN`` while an incident is open. The seller guides describe the
states the shop works with; this module derives them from facts we keep:

- the line is no longer ``INCIDENT_OPEN``                      → CLOSED
- the shop marked it resolved and the operator has not objected → RESOLVED
- the operator wrote after the shop marked it resolved          → CONTESTED
- the shop has acted since it opened (message, refund)          → IN PROGRESS
- nobody has acted yet                                          → NEW

An incident already open the first time the sync sees its order (Mirakl keeps no
incident dates, and the line's last update is then its latest change) opens at the
marketplace's notice: the earliest operator message to the shop alone on the order's
threads, at or before the line's last update (never later than the line's date). On such
an incident, an operator message to the shop within two minutes of the line's last
update, later than the notice and than a shop message since, is the operator contesting
a resolution the shop made in Mirakl's back office: CONTESTED, as a later contest is.

Every state change goes through :func:`incident_transition`, which rejects impossible
transitions and writes the audit entry (the incident's history). Sync and user actions
both use it. The shop's own "mark resolved" is in ``incidents.resolution``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.bulk import insert_rows, instance_rows, update_rows
from core.expressions import in_ids
from core.freshness import inbox_changed
from incidents.audit import audit_entry
from incidents.models import AuditEntry, Incident
from incidents.signals import incidents_contested, incidents_written_after_resolved

__all__ = [
    "ALLOWED_TRANSITIONS",
    "ROLLBACK_TRANSITIONS",
    "IncidentFacts",
    "InvalidTransition",
    "derive_state",
    "incident_opened_entry",
    "incident_transition",
    "incidents_refresh",
    "Testimony",
    "Witness",
    "Witnessed",
    "register_witness",
]

logger = logging.getLogger(__name__)

State = Incident.State
Watch = Incident.Watch
CUSTOMER = Watch.CUSTOMER_WROTE
OPERATOR = Watch.OPERATOR_WROTE
#: The watches that say someone wrote after the resolution (set once per resolution).
WRITTEN = frozenset({CUSTOMER, OPERATOR})
Action = AuditEntry.Action
Source = AuditEntry.Source
Opening = Incident.OpeningSource

#: Which state may follow which. CLOSED is final: a reopened incident is a new episode.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    # To CONTESTED without RESOLVED: a resolution made in Mirakl's back office and
    # contested before the sync first saw the incident (see the module docstring).
    State.NEW: frozenset({State.IN_PROGRESS, State.RESOLVED, State.CONTESTED, State.CLOSED}),
    State.IN_PROGRESS: frozenset({State.RESOLVED, State.CONTESTED, State.CLOSED}),
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
_ACTIONS_BY_TARGET: dict[str, str] = {
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


def incident_opened_entry(
    *, incident: Incident, source: str = Source.SYNC, to_state: str | None = None
) -> AuditEntry:
    """The unsaved entry of an episode opening (``incident_reopened`` after the first),
    in the incident's state unless ``to_state`` says (an opening told late)."""
    return audit_entry(
        action=Action.INCIDENT_REOPENED if incident.episode > 1 else Action.INCIDENT_OPENED,
        source=source,
        incident=incident,
        to_state=to_state or incident.state,
        detail=incident.reason_label,
        data={"episode": incident.episode} if incident.episode > 1 else None,
        at=incident.opened_at,
    )


@dataclass(slots=True)
class Witnessed:
    """What an app saw happen on an incident's order: each the first such time, or None.

    - ``shop_acted_at``: the shop acted since the incident opened (a message, a refund):
      NEW becomes IN PROGRESS;
    - ``operator_objected_at``, ``customer_wrote_at``: the operator or the customer
      wrote since the shop marked it resolved: CONTESTED, or back in the queue (the
      watch after resolving);
    - ``opening_notice_at``: the marketplace's notice of an opening the sync did not see
      (the line already ``INCIDENT_OPEN`` the first time; ``opened_at`` is then the
      line's last update);
    - ``back_office_contest_at``: the operator contesting a resolution the shop made in
      Mirakl's back office, on such an incident.
    """

    shop_acted_at: datetime | None = None
    operator_objected_at: datetime | None = None
    customer_wrote_at: datetime | None = None
    opening_notice_at: datetime | None = None
    back_office_contest_at: datetime | None = None


#: What a witness answers for one incident: what it saw, or None.
Testimony = Callable[[Incident], Witnessed | None]

#: A function of the incidents being refreshed that reads its rows for all of them at
#: once and gives back their :data:`Testimony`. It may read each incident's
#: ``order_id``, ``line_id`` and ``line_updated_at`` (the line's last update in Mirakl)
#: when called, and ``opened_at`` and ``resolved_at`` when asked about one: a pending
#: opening moves back to its notice in between.
Witness = Callable[[Sequence[Incident]], Testimony]

#: The apps that know what happened on an incident: the messaging app registers the
#: order's messages, the refunds app the line's refunds.
_witnesses: dict[str, Witness] = {}

_WITNESSED_FIELDS = tuple(f.name for f in fields(Witnessed))


def register_witness(name: str, witness: Witness) -> None:
    """Count what ``witness`` saw on incidents (see :class:`Witnessed`)."""
    _witnesses[name] = witness


def incidents_refresh(
    *, order_ids: Iterable[int], now: datetime | None = None, settle_openings: bool = False
) -> int:
    """Re-derive the state of the open incidents of these orders from what the apps know.

    Asks every registered witness (:func:`register_witness`: messages, refunds) what it
    saw on the incidents, each in one read of its rows, then writes the incidents whose
    state changed and their history rows. Returns how many changed.

    A pending opening (already open when first synced) first moves back to the
    marketplace's notice, and the rest is read from there; with ``settle_openings``
    (after a threads run: the messages are in) its audit entry is written at that date.
    Those incidents are also read for a contest made before the sync saw them.

    Set-based on purpose: per-incident subqueries over the messages cost a plan per
    incident whose speed hangs on the tables' statistics.
    """
    order_ids = list(order_ids)
    if not order_ids:
        return 0
    now = now or timezone.now()
    with transaction.atomic():
        # Locked so that an agent's "mark resolved" in between is not overwritten.
        incidents = list(
            Incident.objects.filter(in_ids(Incident, "order_id", order_ids), closed_at__isnull=True)
            .annotate(line_updated_at=F("line__last_updated_date"))
            .select_for_update(of=("self",))
            .order_by("pk")
        )
        seen = _testimony([witness(incidents) for witness in _witnesses.values()])
        _openings_date([i for i in incidents if i.opening_source == Opening.PENDING], seen, now)
        return _refresh(incidents, seen, now, settle_openings=settle_openings)


def _testimony(testimonies: list[Testimony]) -> Callable[[Incident], Witnessed]:
    """What every witness saw on an incident: the earliest time of each kind."""

    def seen(incident: Incident) -> Witnessed:
        ours = Witnessed()
        for testimony in testimonies:
            theirs = testimony(incident)
            if theirs is None:
                continue
            for name in _WITNESSED_FIELDS:
                at = getattr(theirs, name)
                if at is not None and (getattr(ours, name) is None or at < getattr(ours, name)):
                    setattr(ours, name, at)
        return ours

    return seen


def _openings_date(
    incidents: Sequence[Incident], seen: Callable[[Incident], Witnessed], at: datetime
) -> None:
    """Move pending openings back to the marketplace's notice (never forward), in the
    database and on the instances."""
    moved: list[dict[str, Any]] = []
    for incident in incidents:
        notice = seen(incident).opening_notice_at
        if notice is not None and notice < incident.opened_at:
            incident.opened_at, incident.updated_at = notice, at
            moved.append({"id": incident.pk, "opened_at": notice, "updated_at": at})
    update_rows(Incident, moved, fields=["opened_at", "updated_at"])


def _refresh(
    incidents: Sequence[Incident],
    seen: Callable[[Incident], Witnessed],
    at: datetime,
    *,
    settle_openings: bool = False,
) -> int:
    """Derive, then write in bulk the changed incidents, their entries and notifications."""
    changed: list[dict[str, object]] = []
    entries: list[AuditEntry] = []
    contested: list[Incident] = []
    written: list[Incident] = []
    for incident in incidents:
        witnessed = seen(incident)
        settled = settle_openings and incident.opening_source == Opening.PENDING
        if settled:
            # Told now, at the date the messages gave it (the audit log is append-only).
            entries.append(incident_opened_entry(incident=incident, to_state=State.NEW))
            incident.opening_source = Opening.ESTIMATED
        acted = [
            t for t in (incident.first_shop_action_at, witnessed.shop_acted_at) if t is not None
        ]
        first_action = min(acted) if acted else None
        contested_at = incident.contested_at
        objection_at = witnessed.operator_objected_at
        if incident.resolved_at and objection_at:
            contested_at = objection_at
        back_office = (
            contested_at is None
            and incident.resolved_at is None
            and incident.opening_source in (Opening.PENDING, Opening.ESTIMATED)
        )
        if back_office:
            contested_at = witnessed.back_office_contest_at
        new_state = derive_state(
            IncidentFacts(
                line_open=True,
                first_shop_action_at=first_action,
                resolved_at=incident.resolved_at,
                contested_at=contested_at,
            )
        )
        dirty = settled or first_action != incident.first_shop_action_at
        dirty |= contested_at != incident.contested_at
        flagged = _watch_written(incident, witnessed.customer_wrote_at, objection_at)
        if flagged is not None:
            entries.append(flagged)
            if incident.watch == Watch.CUSTOMER_WROTE:
                written.append(incident)  # the operator's own: the contested alert
            dirty = True
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
            data: dict[str, Any] | None = None
            if new_state == State.CONTESTED and back_office:
                # No text: a stored detail would stay in the language of the sync.
                data = {"resolved_in": "mirakl_back_office"}
                contested.append(incident)
            elif new_state == State.CONTESTED:
                detail = str(_("The operator wrote after the incident was marked resolved."))
                contested.append(incident)
            entries.append(
                incident_transition(
                    incident=incident,
                    to=new_state,
                    source=Source.SYNC,
                    detail=detail,
                    data=data,
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
                    "opening_source": incident.opening_source,
                    "watch": incident.watch,
                    "watch_at": incident.watch_at,
                    "updated_at": at,
                }
            )
    update_rows(
        Incident,
        changed,
        fields=[
            "state",
            "first_shop_action_at",
            "contested_at",
            "opening_source",
            "watch",
            "watch_at",
            "updated_at",
        ],
    )
    insert_rows(AuditEntry, instance_rows(entries), returning=("id",))
    if contested:
        incidents_contested.send(sender=Incident, incidents=contested, now=at)
    if written:
        incidents_written_after_resolved.send(sender=Incident, incidents=written, now=at)
    return len(changed)


def _watch_written(
    incident: Incident, customer_at: datetime | None, operator_at: datetime | None
) -> AuditEntry | None:
    """Put a resolved incident back in the queue when the customer or the operator wrote
    after the resolution (once per resolution); the unsaved entry saying so, or None.

    The operator's message also makes it CONTESTED (its own alert); the customer's
    leaves it awaiting close, but back in the queue, at once.
    """
    if incident.resolved_at is None or incident.watch in WRITTEN:
        return None
    candidates = [(t, w) for t, w in ((customer_at, CUSTOMER), (operator_at, OPERATOR)) if t]
    if not candidates:
        return None
    written_at, watch = min(candidates)
    incident.watch = watch
    incident.watch_at = written_at
    return audit_entry(
        action=Action.BACK_IN_QUEUE,
        source=Source.SYNC,
        incident=incident,
        detail=str(Watch(watch).label),
        data={"watch": watch},
        at=written_at,
    )
