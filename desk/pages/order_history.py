"""The order's history ("Historial"): its life in Mirakl merged with our audit log.

PcComponentes' guide: "Historial: podéis ver todos los cambios relacionados con el
pedido. Desde que se creó hasta su entrega, y todas las incidencias que el cliente
pudiera abrir." Mirakl's dates come from the sync (created, accepted, each line shipped
and received, each incident episode opened and closed, each refund); what was done from
Incidesk (replies, refunds asked, resolutions, uploads, assignments…) from the audit
log. An incident the audit log already tells (the sync records openings and closings)
is not told twice. Composed here, above the apps whose rows it reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from core.models import Order, OrderLine
from core.templatetags.incidesk import eur
from incidents.models import AuditEntry, Incident
from refunds.models import Refund

__all__ = ["OrderEvent", "order_history", "order_history_context"]

Action = AuditEntry.Action


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One line of the order's history. ``kind``: ``order`` (Mirakl's dates), ``incident``,
    ``refund`` or ``audit``; ``source``: who says so (Mirakl, or our audit's source)."""

    at: datetime
    kind: str
    label: str
    detail: str = ""
    actor: str = ""
    source: str = ""
    badge: str = ""


def _line_name(line: OrderLine) -> str:
    return line.product_title or line.offer_sku or line.mirakl_id


def _grouped(lines: Sequence[OrderLine], field: str, label: str, several: bool) -> list[OrderEvent]:
    """One event per distinct date of ``field`` across the lines (naming the lines when
    the order has several)."""
    by_date: dict[datetime, list[str]] = {}
    for line in lines:
        value = getattr(line, field)
        if value is not None:
            by_date.setdefault(value, []).append(_line_name(line))
    return [
        OrderEvent(
            at=at,
            kind="order",
            label=label,
            detail=", ".join(names) if several else "",
            source="Mirakl",
        )
        for at, names in by_date.items()
    ]


def order_history(*, order: Order, lines: Sequence[OrderLine]) -> list[OrderEvent]:
    """Every event of the order, newest first (three queries: incidents, refunds, audit)."""
    several = len(lines) > 1
    events: list[OrderEvent] = [
        OrderEvent(at=order.created_date, kind="order", label=_("Order placed"), source="Mirakl")
    ]
    if order.acceptance_decision_date is not None:
        events.append(
            OrderEvent(
                at=order.acceptance_decision_date,
                kind="order",
                label=_("Order accepted"),
                source="Mirakl",
            )
        )
    events += _grouped(lines, "shipped_date", _("Shipped"), several)
    events += _grouped(lines, "received_date", _("Delivered"), several)

    names = {line.pk: _line_name(line) for line in lines}
    audit = list(
        AuditEntry.objects.filter(order=order)
        .exclude(action=Action.EXPORTED)
        .select_related("actor")
        .order_by("at", "pk")
    )
    told = {(entry.incident_id, entry.action) for entry in audit if entry.incident_id}
    for incident in Incident.objects.filter(order=order).order_by("opened_at", "pk"):
        opened = Action.INCIDENT_REOPENED if incident.episode > 1 else Action.INCIDENT_OPENED
        if (incident.pk, opened) not in told:
            events.append(
                OrderEvent(
                    at=incident.opened_at,
                    kind="incident",
                    label=_("Incident opened"),
                    detail=" · ".join(
                        part
                        for part in (incident.reason_label, names.get(incident.line_id, ""))
                        if part
                    ),
                    source="Mirakl",
                    badge="warn",
                )
            )
        if incident.closed_at is not None and (incident.pk, Action.INCIDENT_CLOSED) not in told:
            events.append(
                OrderEvent(
                    at=incident.closed_at,
                    kind="incident",
                    label=_("Incident closed"),
                    detail=names.get(incident.line_id, ""),
                    source="Mirakl",
                    badge="ok",
                )
            )
    for refund in Refund.objects.filter(line__order=order).order_by("created_date", "pk"):
        if refund.created_date is None:
            continue
        state = str(dict(Refund.State.choices).get(refund.state, ""))
        events.append(
            OrderEvent(
                at=refund.created_date,
                kind="refund",
                label=_("Refund of %(amount)s")
                % {"amount": eur(refund.amount + refund.shipping_amount)},
                detail=" · ".join(part for part in (names.get(refund.line_id, ""), state) if part),
                source="Mirakl",
                badge=Refund.State.badge_of(refund.state),
            )
        )
    for entry in audit:
        events.append(
            OrderEvent(
                at=entry.at,
                kind="audit",
                label=str(entry.get_action_display()),
                detail=(
                    f"{entry.get_from_state_display()} → {entry.get_to_state_display()}"
                    if entry.from_state and entry.to_state
                    else entry.detail
                ),
                actor=(entry.actor.get_full_name() or entry.actor.get_username())
                if entry.actor
                else entry.actor_name,
                source=str(entry.get_source_display()),
            )
        )
    events.sort(key=lambda event: event.at, reverse=True)
    return events


def order_history_context(*, order: Order, lines: Sequence[OrderLine]) -> dict[str, Any]:
    """What ``desk/partials/_order_history.html`` needs."""
    return {"order_events": order_history(order=order, lines=lines)}
