"""Incidents: the operator opens and contests them, the shop resolves them (OR64), they
close after the delay."""

from __future__ import annotations

from typing import Any

from mirakl.sandbox.clock import format_ms
from mirakl.sandbox.conversations import CONTEST_BODY, INCIDENT_OPENED_BODY
from mirakl.sandbox.models import (
    INCIDENT_ELIGIBLE_STATES,
    Line,
    Order,
)
from mirakl.sandbox.reasons import (
    INCIDENT_CLOSE,
    INCIDENT_OPEN,
    reason_label,
    reasons_of_type,
)
from mirakl.sandbox.seed import DatasetGenerator
from mirakl.sandbox.state.messages import ThreadsState
from mirakl.sandbox.wire import ApiError

__all__ = ["IncidentsState"]


class IncidentsState(ThreadsState):
    """The incident lifecycle on order lines, and the history the control API shows."""

    def open_incident(
        self,
        order_id: str,
        line_id: str | None = None,
        reason_code: str = "3",
        body: str | None = None,
    ) -> dict[str, Any]:
        """The operator opens an incident (OR62, operator side) and tells the shop.

        The line goes to INCIDENT_OPEN with the reason as its state reason; an operator
        message goes to the shop on the order's latest thread (or a new one). Opening an
        incident on a line whose previous incident closed is a reopening, recorded as such.
        """
        with self.lock:
            self.process_due()
            reason = reasons_of_type(INCIDENT_OPEN).get(str(reason_code))
            if reason is None:
                raise ApiError(400, f"Reason code '{reason_code}' is not an INCIDENT_OPEN reason")
            order = self.get_order(order_id)
            if line_id is not None:
                line = self.get_line(order, line_id)
                if line.state == "INCIDENT_OPEN":
                    raise ApiError(400, f"Order line '{line_id}' already has an open incident")
                if line.state not in INCIDENT_ELIGIBLE_STATES:
                    raise ApiError(
                        400,
                        f"An incident cannot be opened on order line '{line_id}' "
                        f"in state {line.state}",
                    )
            else:
                eligible = [ln for ln in order.lines if ln.state in INCIDENT_ELIGIBLE_STATES]
                if not eligible:
                    raise ApiError(
                        400, f"Order '{order_id}' has no line an incident can be opened on"
                    )
                line = eligible[0]
            now = self.now_ms()
            reopened = bool(line.incidents)
            DatasetGenerator.open_on_line(line, reason.code, now, reopened=reopened)
            self.touch_order(order, now)
            self._refresh_incident_flag(order)
            ctx = self._context(order, line, reason.code)
            thread = self._thread_for(order, "FREE_TEXT", reason.label)
            message = self.post(
                thread, "OPERATOR", ("SHOP",), body or INCIDENT_OPENED_BODY.format(**ctx)
            )
            return {
                "order_id": order.order_id,
                "line_id": line.line_id,
                "reason_code": reason.code,
                "reopened": reopened,
                "thread_id": thread.thread_id,
                "message_id": message.message_id,
            }

    def resolve_incident(self, order_id: str, line_id: str, reason_code: str | None) -> None:
        """OR64: the shop marks the incident resolved; it closes after the delay.

        OR64 is a PUT: sent again with the same reason while the incident awaits its
        close, it changes nothing (◐ MIRAKL_API.md does not say what Mirakl answers; the
        client does not rely on it, it only sends OR64 again after checking the line).
        """
        with self.lock:
            self.process_due()
            order = self.get_order(order_id)
            line = self.get_line(order, line_id)
            incident = line.open_incident
            if line.state != "INCIDENT_OPEN" or incident is None:
                raise ApiError(
                    400,
                    f"Order line '{line_id}' has no open incident (current state is {line.state})",
                )
            if reason_code is not None:
                reason = reasons_of_type(INCIDENT_CLOSE).get(reason_code)
                if reason is None or not reason.is_shop_right:
                    raise ApiError(
                        400,
                        f"Reason code '{reason_code}' is not a valid incident resolution reason "
                        f"(type {INCIDENT_CLOSE})",
                    )
            if incident.close_due_ms is not None and incident.resolve_reason == reason_code:
                return
            now = self.now_ms()
            incident.resolutions += 1
            incident.resolved_ms = now
            incident.resolve_reason = reason_code
            incident.close_due_ms = now + self.auto_close_ms
            self._schedule(line, incident)
            line.updated_ms = max(line.updated_ms, now)
            self.touch_order(order, now)
        self.process_due()  # a zero delay closes at once

    def contest_resolution(
        self, order_id: str, line_id: str, body: str | None = None
    ) -> dict[str, str]:
        """The operator rejects the shop's resolution: no auto-close, a message to the shop."""
        with self.lock:
            self.process_due()
            order = self.get_order(order_id)
            line = self.get_line(order, line_id)
            incident = line.open_incident
            if incident is None:
                raise ApiError(400, f"Order line '{line_id}' has no open incident")
            if incident.close_due_ms is None:
                raise ApiError(
                    400, f"The incident on order line '{line_id}' is not marked as resolved"
                )
            now = self.now_ms()
            incident.close_due_ms = None
            incident.contested_ms.append(now)
            line.updated_ms = max(line.updated_ms, now)
            self.touch_order(order, now)
            ctx = self._context(order, line, incident.reason_code)
            label = reason_label(INCIDENT_OPEN, incident.reason_code) or "Incidencia"
            thread = self._thread_for(order, "FREE_TEXT", label)
            message = self.post(thread, "OPERATOR", ("SHOP",), body or CONTEST_BODY.format(**ctx))
            return {
                "order_id": order.order_id,
                "line_id": line.line_id,
                "thread_id": thread.thread_id,
                "message_id": message.message_id,
            }

    def close_incidents_of(self, order: Order, closed_by: str) -> int:
        """Close every open incident of an order now (full refund)."""
        now = self.now_ms()
        closed = 0
        for line in order.lines:
            incident = line.open_incident
            if incident is not None:
                DatasetGenerator.close_on_line(line, incident, now, closed_by)
                closed += 1
        if closed:
            self.touch_order(order, now)
            self._refresh_incident_flag(order)
        return closed

    def incident_history(self, order_id: str, line_id: str | None = None) -> list[dict[str, Any]]:
        """The sandbox's internal record of incidents (not part of the Mirakl API)."""
        with self.lock:
            order = self.get_order(order_id)
            lines = [self.get_line(order, line_id)] if line_id else order.lines
            history = []
            for line in lines:
                for incident in line.incidents:
                    history.append(
                        {
                            "order_id": order.order_id,
                            "line_id": line.line_id,
                            "reason_code": incident.reason_code,
                            "status": incident.status,
                            "reopened": incident.reopened,
                            "opened_date": format_ms(incident.opened_ms),
                            "resolved_date": _fmt(incident.resolved_ms),
                            "resolve_reason": incident.resolve_reason,
                            "resolutions": incident.resolutions,
                            "close_due_date": _fmt(incident.close_due_ms),
                            "contested_dates": [format_ms(ms) for ms in incident.contested_ms],
                            "closed_date": _fmt(incident.closed_ms),
                            "closed_by": incident.closed_by,
                            "state_before": incident.state_before,
                        }
                    )
            return history

    def _context(self, order: Order, line: Line, reason: str | None) -> dict[str, str]:
        carrier = order.carrier
        return {
            "order_id": order.order_id,
            "name": order.customer.firstname,
            "product": line.product.title,
            "carrier": carrier.name if carrier else "la agencia de transporte",
            "tracking": order.tracking or "pendiente de asignar",
            "tracking2": order.tracking or "pendiente de asignar",
            "reason": (reason_label(INCIDENT_OPEN, reason) or "") if reason else "",
        }


def _fmt(ms: int | None) -> str | None:
    return None if ms is None else format_ms(ms)
