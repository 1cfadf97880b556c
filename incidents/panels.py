"""The incident app's panels of the incident page: details, assignment, notes, history,
resolution.

Asked for by the page (:mod:`desk.pages.incident`) and by this app's views when they
re-render a panel.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from core.models import Order, OrderLine
from incidents import selectors
from incidents.forms import AssignForm, NoteForm, ResolveForm
from incidents.models import Incident
from incidents.quality import days_since as quality_days_since
from incidents.quality import delivered_at, quality_advice, shipped_at
from incidents.resolution import resolution_panels

__all__ = [
    "ACTIONABLE_STATES",
    "incident_panels_context",
    "quality_context",
    "resolve_context",
    "shipping_context",
]


def incident_panels_context(request: HttpRequest, incident: Incident) -> dict[str, Any]:
    """History, notes, and the assignment and note forms the viewer may use."""
    user = request.user
    return {
        "history": selectors.incident_history(incident=incident),
        "notes": selectors.incident_notes(incident=incident),
        "assign_form": AssignForm(
            initial={"assignee": getattr(getattr(incident, "assignment", None), "assignee", None)}
        )
        if user.has_perm("incidents.assign_incident")
        else None,
        "note_form": NoteForm() if user.has_perm("incidents.reply_incident") else None,
    }


def resolve_context(
    request: HttpRequest,
    incident: Incident,
    *,
    errors: dict[int, str] | None = None,
    reasons: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """The resolution panel: one "mark resolved" form per open incident of the order
    (``reasons``: see :func:`incidents.resolution.resolution_panels`)."""
    can_resolve = request.user.has_perm("incidents.resolve_incident")
    panels = resolution_panels(incident=incident, reasons=reasons)
    for panel in panels:
        target = panel["incident"]
        panel["form"] = (
            ResolveForm(choices=panel["reasons"], auto_id=f"id_resolve_{target.pk}_%s")
            if can_resolve and target.state in ACTIONABLE_STATES
            else None
        )
        panel["error"] = (errors or {}).get(target.pk)
    return {"resolve_panels": panels, "resolution": panels[0]["status"]}


#: States an agent may mark resolved from (the state machine decides the rest).
ACTIONABLE_STATES = (Incident.State.NEW, Incident.State.IN_PROGRESS, Incident.State.CONTESTED)


def shipping_context(
    *, order: Order, lines: Sequence[OrderLine], now: datetime | None = None
) -> dict[str, Any]:
    """The shipping panel ("Envío"): carrier, tracking, the shipping deadline, when the
    order left and arrived (the lines' dates) and the days since it arrived."""
    now = now or timezone.now()
    delivered = delivered_at(lines)
    shipped = shipped_at(lines)
    deadline = order.shipping_deadline
    if deadline is None:
        late = False
    elif shipped is not None:
        late = shipped > deadline
    else:
        late = order.state in _TO_SHIP_STATES and now > deadline
    return {
        "shipping": {
            "shipped_at": shipped,
            "delivered_at": delivered,
            "days_since_delivery": (
                None if delivered is None else quality_days_since(delivered, now)
            ),
            "deadline": deadline,
            "late": late,
        }
    }


def quality_context(
    *, incident: Incident, lines: Sequence[OrderLine], now: datetime | None = None
) -> dict[str, Any]:
    """The guides' rules on this incident (:mod:`incidents.quality`)."""
    return {
        "quality": quality_advice(
            reason_label=incident.reason_label,
            lines=lines,
            line_id=incident.line_id,
            opened_at=incident.opened_at,
            now=now or timezone.now(),
        )
    }


#: Order states of an order still to be shipped: past its deadline, it is late.
_TO_SHIP_STATES = ("WAITING_ACCEPTANCE", "WAITING_DEBIT", "WAITING_DEBIT_PAYMENT", "SHIPPING")
