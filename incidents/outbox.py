"""The outbox adapter of the incidents app: a resolution sent with OR64.

The engine (:mod:`core.outbox.engine`) claims and retries the
:class:`~incidents.models.ResolutionRequest` rows (one group per incident); the pending
sweep sends one whose task was lost. OR64 is a PUT: Mirakl keeps no trace of it the
shop can read back except the line leaving ``INCIDENT_OPEN``, so the check after an
unknown outcome looks at the line's state: closed means there is nothing left to send;
still open means it cannot tell, and OR64 is sent again (harmless for a PUT).

A refusal by Mirakl (4xx), or the outbox giving up after its attempts, puts the
incident back where the request found it, through the state machine, and records
``resolve_failed`` with Mirakl's message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from core.clients import MiraklAdapter
from core.models import MarketplaceConnection
from core.outbox.adapters import Check, DeliveryRefused, DeliveryTransient, register
from core.outbox.engine import Attempt
from core.outbox.kinds import OutboxKind
from core.outbox.models import OutboxEntry
from incidents.audit import audit_log
from incidents.lifecycle import incident_transition
from incidents.models import AuditEntry, Incident, ResolutionRequest

__all__ = ["ResolutionAdapter"]

Action = AuditEntry.Action
Source = AuditEntry.Source
State = ResolutionRequest.State

#: OR64 attempts before the resolution is given up and rolled back (about five minutes
#: of backoff), so the agent sees it and can try again.
RESOLVE_MAX_ATTEMPTS = 6

_RESTORED = (
    "state",
    "resolved_at",
    "resolved_by",
    "resolution_reason_code",
    "first_shop_action_at",
    "updated_at",
)


@register
class ResolutionAdapter(MiraklAdapter):
    """OR64 for one resolution request; OR11's line state to check when in doubt."""

    kind = OutboxKind.RESOLUTION
    call = "OR64"
    max_attempts = RESOLVE_MAX_ATTEMPTS

    def load(self, entry: OutboxEntry) -> ResolutionRequest | None:
        return (
            ResolutionRequest.objects.select_related(
                "incident__order", "incident__line", "incident__connection"
            )
            .filter(delivery=entry)
            .first()
        )

    def connection(self, row: ResolutionRequest) -> MarketplaceConnection:
        return row.incident.connection

    def moot(self, row: ResolutionRequest) -> bool:
        # Closed, contested or rolled back meanwhile: no longer awaiting close.
        incident = row.incident
        return incident.state != Incident.State.RESOLVED or incident.closed_at is not None

    def send(self, attempt: Attempt) -> None:
        request: ResolutionRequest = attempt.row
        incident = request.incident
        attempt.client.resolve_incident(
            incident.order.mirakl_id, incident.line.mirakl_id, reason_code=request.reason_code
        )

    def find(self, attempt: Attempt) -> Check:
        incident = attempt.row.incident
        page = attempt.client.list_orders(order_ids=[incident.order.mirakl_id], max=1)
        order = next((o for o in page.orders if o.order_id == incident.order.mirakl_id), None)
        line = None
        if order is not None:
            line = next(
                (ln for ln in order.order_lines if ln.order_line_id == incident.line.mirakl_id),
                None,
            )
        state = line.order_line_state if line is not None else ""
        if state and state != "INCIDENT_OPEN":
            # Closed (by the operator, the auto-close or a full refund): nothing to send.
            return Check(
                True,
                {
                    "call": "OR11",
                    "found": state,
                    "found_text": _("the incident is no longer open (line %(state)s)")
                    % {"state": state},
                },
            )
        return Check(None, {"call": "OR11", "line_state": state or "?"})

    # ------------------------------------------------------------------ recording

    @staticmethod
    def _save(request: ResolutionRequest, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(request, name, value)
        request.save(update_fields=list(fields))

    def on_claimed(self, row: ResolutionRequest, entry: OutboxEntry, now: datetime) -> None:
        self._save(row, state=State.SENDING)

    def on_sent(self, row: ResolutionRequest, entry: OutboxEntry, result: Any, *, found: bool):
        self._save(row, state=State.SENT, sent_at=entry.done_at, error_message="")
        audit_log(
            action=Action.RESOLVE_SENT,
            source=Source.SYSTEM,
            incident=row.incident,
            detail=row.reason_code,
            data={
                "call": "OR64",
                "line": row.incident.line.mirakl_id,
                "outcome": "found" if found else "sent",
                "resolution_request": row.pk,
            },
            at=entry.done_at,
        )

    def on_retry(self, row: ResolutionRequest, entry: OutboxEntry, error: DeliveryTransient):
        self._save(row, state=State.QUEUED)

    def on_refused(self, row: ResolutionRequest, entry: OutboxEntry, error: DeliveryRefused):
        self._roll_back(row, entry, error)

    def on_failed(self, row: ResolutionRequest, entry: OutboxEntry, error: DeliveryTransient):
        self._roll_back(row, entry, error)

    def on_skipped(self, row: ResolutionRequest, entry: OutboxEntry) -> None:
        self._save(row, state=State.SKIPPED)

    def _roll_back(
        self,
        row: ResolutionRequest,
        entry: OutboxEntry,
        error: DeliveryRefused | DeliveryTransient,
    ) -> None:
        """Record the refusal and put the incident back as the request found it."""
        detail = error.message
        data = {
            "call": error.call or "OR64",
            "status": error.status,
            "message": error.message,
            "resolution_request": row.pk,
        }
        self._save(row, state=State.REFUSED, error_message=detail)
        incident = Incident.objects.select_for_update(of=("self",)).get(pk=row.incident_id)
        if incident.state != Incident.State.RESOLVED:
            # Closed or contested meanwhile: nothing to undo, only the record.
            audit_log(
                action=Action.RESOLVE_FAILED,
                source=Source.SYSTEM,
                incident=incident,
                detail=detail,
                data=data,
                at=entry.done_at,
            )
            return
        incident.resolved_at = row.previous_resolved_at
        incident.resolved_by_id = row.previous_resolved_by_id
        incident.resolution_reason_code = row.previous_resolution_reason_code
        incident.first_shop_action_at = row.previous_first_shop_action_at
        incident_transition(
            incident=incident,
            to=row.previous_state,
            source=Source.SYSTEM,
            action=Action.RESOLVE_FAILED,
            detail=detail,
            data=data,
            at=entry.done_at,
            rollback=True,
            save=False,
        ).save()
        incident.save(update_fields=list(_RESTORED))
