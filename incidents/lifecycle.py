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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Case, DateTimeField, Q, Subquery, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.bulk import insert_rows, instance_rows, update_rows
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
    "register_back_office_contest",
    "register_customer_message",
    "register_opening_notice",
    "register_operator_objection",
    "register_shop_action",
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


#: When the shop first acted on an incident, as each app that knows it tells: a name
#: and a function of no argument giving a subquery over ``Incident`` (``OuterRef`` on
#: its ``order_id``, ``line_id``, ``opened_at``) of the first such action's time. The
#: messaging app registers the shop's first message, the refunds app the first refund.
_shop_actions: dict[str, Callable[[], Subquery]] = {}
#: When the operator objected after the shop marked an incident resolved (a subquery
#: over ``Incident`` using ``resolved_at``): the messaging app registers the operator's
#: first message since.
_operator_objections: dict[str, Callable[[], Subquery]] = {}
#: When the customer wrote after the shop marked an incident resolved (a subquery over
#: ``Incident`` using ``resolved_at``): the messaging app registers the customer's first
#: message since. It puts the incident back in the queue (the watch after resolving).
_customer_messages: dict[str, Callable[[], Subquery]] = {}
#: When the marketplace announced an incident whose opening the sync did not see (its
#: line already ``INCIDENT_OPEN`` the first time): a subquery over ``Incident``
#: (``order_id``, ``opened_at``, until then the line's last update) of the notice's
#: time. The messaging app registers the earliest operator message to the shop alone.
_opening_notices: dict[str, Callable[[], Subquery]] = {}
#: When the operator contested a resolution the shop made in Mirakl's back office, on
#: an incident whose opening the sync did not see: a subquery over ``Incident``
#: (``order_id``, ``opened_at``, ``line__last_updated_date``). The messaging app
#: registers the operator's message at the line's last update.
_back_office_contests: dict[str, Callable[[], Subquery]] = {}


def register_shop_action(name: str, subquery: Callable[[], Subquery]) -> None:
    """Count the action ``subquery`` times as the shop acting on an incident."""
    _shop_actions[name] = subquery


def register_operator_objection(name: str, subquery: Callable[[], Subquery]) -> None:
    """Count what ``subquery`` times as the operator contesting a resolution."""
    _operator_objections[name] = subquery


def register_customer_message(name: str, subquery: Callable[[], Subquery]) -> None:
    """Count what ``subquery`` times as the customer writing after a resolution."""
    _customer_messages[name] = subquery


def register_opening_notice(name: str, subquery: Callable[[], Subquery]) -> None:
    """Count what ``subquery`` times as the notice of an opening the sync did not see."""
    _opening_notices[name] = subquery


def register_back_office_contest(name: str, subquery: Callable[[], Subquery]) -> None:
    """Count what ``subquery`` times as the operator contesting a resolution made in
    Mirakl, on an incident whose opening the sync did not see."""
    _back_office_contests[name] = subquery


def incidents_refresh(
    *, order_ids: Iterable[int], now: datetime | None = None, settle_openings: bool = False
) -> int:
    """Re-derive the state of the open incidents of these orders from what the apps know.

    Reads, in one query, the first shop action since each incident opened (message,
    refund: see :func:`register_shop_action`) and the operator's first objection since
    the shop marked it resolved; then writes the incidents whose state changed and their
    history rows. Returns how many changed.

    A pending opening (already open when first synced) moves back to the marketplace's
    notice, read in the same query (:func:`register_opening_notice`; those that moved
    are read again); with ``settle_openings`` (after a threads run: the messages are
    in) its audit entry is written at that date. Those incidents are also read for a
    contest made before the sync saw them (:func:`register_back_office_contest`).
    """
    order_ids = list(order_ids)
    if not order_ids:
        return 0
    now = now or timezone.now()
    annotations: dict[str, Any] = {
        f"shop_{name}_at": make() for name, make in _shop_actions.items()
    }
    annotations |= {f"operator_{name}_at": make() for name, make in _operator_objections.items()}
    annotations |= {f"customer_{name}_at": make() for name, make in _customer_messages.items()}
    # Only for the few incidents they concern: Postgres skips a CASE branch not taken.
    pending = Q(opening_source=Opening.PENDING)
    unseen = Q(
        opening_source__in=(Opening.PENDING, Opening.ESTIMATED),
        contested_at__isnull=True,
        resolved_at__isnull=True,
    )
    annotations |= {f"notice_{n}_at": _when(pending, m()) for n, m in _opening_notices.items()}
    annotations |= {f"unseen_{n}_at": _when(unseen, m()) for n, m in _back_office_contests.items()}
    with transaction.atomic():
        incidents = _locked(Q(order_id__in=order_ids), annotations)
        moved = _openings_date(incidents, now)
        if moved:
            # The shop's first action and the contest are read from the opening.
            again = {i.pk: i for i in _locked(Q(pk__in=moved), annotations)}
            incidents = [again.get(incident.pk, incident) for incident in incidents]
        return _refresh(incidents, now, settle_openings=settle_openings)


def _when(condition: Q, subquery: Subquery) -> Case:
    return Case(When(condition, then=subquery), default=None, output_field=DateTimeField())


def _locked(which: Q, annotations: dict[str, Any]) -> list[Incident]:
    # Locked so that an agent's "mark resolved" in between is not overwritten.
    return list(
        Incident.objects.filter(which, closed_at__isnull=True)
        .annotate(**annotations)
        .select_for_update(of=("self",))
        .order_by("pk")
    )


def _openings_date(incidents: list[Incident], at: datetime) -> list[int]:
    """Move pending openings back to the marketplace's notice (never forward); the ids
    of those that moved."""
    names = [f"notice_{name}_at" for name in _opening_notices]
    moved: list[dict[str, Any]] = []
    for incident in incidents:
        notice = _first(incident, names) if incident.opening_source == Opening.PENDING else None
        if notice is not None and notice < incident.opened_at:
            moved.append({"id": incident.pk, "opened_at": notice, "updated_at": at})
    update_rows(Incident, moved, fields=["opened_at", "updated_at"])
    return [row["id"] for row in moved]


def _first(incident: Incident, names: Iterable[str]) -> datetime | None:
    times = [t for t in (getattr(incident, name) for name in names) if t is not None]
    return min(times) if times else None


def _refresh(incidents: list[Incident], at: datetime, *, settle_openings: bool = False) -> int:
    """Derive, then write in bulk the changed incidents, their entries and notifications."""
    changed: list[dict[str, object]] = []
    entries: list[AuditEntry] = []
    contested: list[Incident] = []
    written: list[Incident] = []
    shop_fields = [f"shop_{name}_at" for name in _shop_actions]
    operator_fields = [f"operator_{name}_at" for name in _operator_objections]
    customer_fields = [f"customer_{name}_at" for name in _customer_messages]
    unseen_fields = [f"unseen_{name}_at" for name in _back_office_contests]
    for incident in incidents:
        settled = settle_openings and incident.opening_source == Opening.PENDING
        if settled:
            # Told now, at the date the messages gave it (the audit log is append-only).
            entries.append(incident_opened_entry(incident=incident, to_state=State.NEW))
            incident.opening_source = Opening.ESTIMATED
        acted = [
            t
            for t in (incident.first_shop_action_at, _first(incident, shop_fields))
            if t is not None
        ]
        first_action = min(acted) if acted else None
        contested_at = incident.contested_at
        objection_at = _first(incident, operator_fields)
        if incident.resolved_at and objection_at:
            contested_at = objection_at
        back_office = contested_at is None and incident.resolved_at is None
        if back_office:
            contested_at = _first(incident, unseen_fields)
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
        flagged = _watch_written(incident, _first(incident, customer_fields), objection_at)
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
