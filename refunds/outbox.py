"""The outbox adapter of the refunds app: a refund request sent with OR28, exactly once.

The engine (:mod:`core.outbox.engine`) claims, retries and orders the requests of one
order (group ``order:<pk>``); this adapter sends all the lines of a request in one OR28
call, stores Mirakl's refund ids per line, and, after an attempt whose outcome is
unknown, looks for the refunds in Mirakl's order (OR11) before sending anything again.
Requests are never given up: one Mirakl has not answered stays queued or in doubt, on
screen, until it is known.

A refund in Mirakl is ours only if it is on the same line, with the same amount,
shipping amount and reason (and quantity and taxes where Mirakl reports them), created
after the request (less the clock skew), and not already claimed by another request.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from core.clients import MiraklAdapter
from core.outbox.adapters import Check, DeliveryRefused, DeliveryTransient, register
from core.outbox.engine import Attempt, error_text
from core.outbox.kinds import OutboxKind
from core.outbox.models import OutboxEntry
from incidents.audit import audit_log
from incidents.models import AuditEntry
from mirakl.errors import MiraklError
from mirakl.schemas import LineRefund, RefundLineRequest, TaxAmount
from refunds.delivery import refund_requests_confirm_synced
from refunds.models import RefundRequest, RefundRequestLine
from refunds.rules import refund_amounts_data, refund_request_data, refund_tax_sums

__all__ = ["RefundAdapter"]

logger = logging.getLogger(__name__)

State = RefundRequest.State
Action = AuditEntry.Action
Source = AuditEntry.Source


def _lines(request: RefundRequest) -> list[RefundRequestLine]:
    return list(request.lines.select_related("line").order_by("pk"))


@dataclass(frozen=True, slots=True)
class _Refunded:
    """Mirakl's refund id per request line (by pk), and the lines as read to send them."""

    ids: dict[int, str]
    lines: list[RefundRequestLine]


def _line_requests(request: RefundRequest, lines: Sequence[RefundRequestLine]) -> list[Any]:
    return [
        RefundLineRequest(
            order_line_id=line.line.mirakl_id,
            amount=line.amount,
            shipping_amount=line.shipping_amount,
            quantity=line.quantity or None,
            reason_code=request.reason_code,
            taxes=[TaxAmount(code=c, amount=Decimal(a)) for c, a in line.taxes.items()],
            shipping_taxes=[
                TaxAmount(code=c, amount=Decimal(a)) for c, a in line.shipping_taxes.items()
            ],
        )
        for line in lines
    ]


def _same_taxes(sent: dict[str, Any], reported: list[Any]) -> bool:
    """Our taxes, where we sent some and Mirakl reports them (without them in the request,
    Mirakl works them out itself)."""
    ours = {code: Decimal(str(amount)) for code, amount in sent.items() if Decimal(str(amount))}
    if not ours or not reported:
        return True
    theirs = refund_tax_sums([{"code": t.code, "amount": t.amount} for t in reported])
    return {code: amount for code, amount in theirs.items() if amount} == ours


def _matches(refund: LineRefund, request: RefundRequest, line: RefundRequestLine) -> bool:
    return (
        refund.amount == line.amount
        and refund.shipping_amount == line.shipping_amount
        and (refund.reason_code or "") == request.reason_code
        and (not line.quantity or refund.quantity is None or refund.quantity == line.quantity)
        and _same_taxes(line.taxes, refund.taxes)
        and _same_taxes(line.shipping_taxes, refund.shipping_taxes)
    )


def _find(
    attempt: Attempt, request: RefundRequest, lines: Sequence[RefundRequestLine]
) -> tuple[dict[int, str] | None, int]:
    """Mirakl's refund id per request line if an earlier attempt was applied, else None;
    and how many refunds of the order's lines were compared.

    OR28 applies all lines or none: when only some are found, :class:`MiraklError` is
    raised so that nothing is sent again until someone looks.
    """
    page = attempt.client.list_orders(order_ids=[request.order.mirakl_id], max=1)
    order = next((o for o in page.orders if o.order_id == request.order.mirakl_id), None)
    if order is None:
        return None, 0
    taken = set(
        RefundRequestLine.objects.filter(line__order_id=request.order_id)
        .exclude(request=request)
        .exclude(mirakl_refund_id="")
        .values_list("mirakl_refund_id", flat=True)
    )
    since = attempt.since
    by_line = {line.order_line_id: line for line in order.order_lines}
    recent = {
        line_id: [
            r for r in mirakl_line.refunds if r.created_date is None or r.created_date >= since
        ]
        for line_id, mirakl_line in by_line.items()
    }
    seen = sum(len(refunds) for refunds in recent.values())
    found: dict[int, str] = {}
    for line in lines:
        candidates = sorted(
            (
                refund
                for refund in recent.get(line.line.mirakl_id, [])
                if refund.id not in taken and _matches(refund, request, line)
            ),
            key=lambda r: (r.created_date is None, r.created_date),
        )
        if candidates:
            found[line.pk] = str(candidates[0].id)
            taken.add(str(candidates[0].id))
    if not found:
        return None, seen
    if len(found) != len(lines):
        raise MiraklError(
            _("Only some lines of this refund were found in Mirakl: check it in the back office."),
            call="OR11",
        )
    return found, seen


@register
class RefundAdapter(MiraklAdapter):
    """OR28 for one refund request; OR11 to find it when in doubt."""

    kind = OutboxKind.REFUND
    call = "OR28"

    def load(self, entry: OutboxEntry) -> RefundRequest | None:
        return (
            RefundRequest.objects.select_related("connection", "order", "incident")
            .filter(delivery=entry)
            .first()
        )

    def moot(self, row: RefundRequest) -> bool:
        # Only an approved or directly queued request has a delivery; a request sent or
        # confirmed meanwhile (by an earlier entry) must not be sent again.
        return row.state not in (State.QUEUED, State.SENDING, State.IN_DOUBT)

    def send(self, attempt: Attempt) -> _Refunded:
        request: RefundRequest = attempt.row
        lines = _lines(request)
        result = attempt.client.refund(_line_requests(request, lines))
        by_mirakl_line = {r.order_line_id: str(r.refund_id) for r in result.refunds}
        ids = {
            line.pk: by_mirakl_line[line.line.mirakl_id]
            for line in lines
            if line.line.mirakl_id in by_mirakl_line
        }
        if len(ids) < len(lines):
            # Without its ids a sent request could not be matched with the synced
            # refunds and would count twice: read them from OR11 (best effort, the
            # refund is accepted whatever this finds).
            try:
                found, _seen = _find(attempt, request, lines)
            except MiraklError as exc:
                logger.warning("Refund request %s: refund ids not found (%s)", request.pk, exc)
            else:
                ids = {**(found or {}), **ids}
            if len(ids) != len(lines):
                logger.warning("Refund request %s: OR28 returned no id for some lines", request.pk)
        return _Refunded(ids, lines)

    def find(self, attempt: Attempt) -> Check:
        request: RefundRequest = attempt.row
        lines = _lines(request)
        found, seen = _find(attempt, request, lines)
        if found is not None:
            return Check(
                _Refunded(found, lines),
                {
                    "call": "OR11",
                    "found": ", ".join(found.values()),
                    "found_text": _("refunds %(ids)s") % {"ids": ", ".join(found.values())},
                },
            )
        return Check(
            None,
            {"call": "OR11", "seen": seen, "unit": "refunds", "since": attempt.since.isoformat()},
        )

    # ------------------------------------------------------------------ recording

    @staticmethod
    def _save(request: RefundRequest, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(request, name, value)
        request.save(update_fields=list(fields))

    @staticmethod
    def _audit(request: RefundRequest, entry: OutboxEntry, action: str, detail: str, **data: Any):
        audit_log(
            action=action,
            source=Source.SYSTEM,
            incident=request.incident,
            order=request.order,
            detail=detail,
            data=refund_request_data(request, attempt=entry.attempts, **data),
        )

    def on_claimed(self, row: RefundRequest, entry: OutboxEntry, now: datetime) -> None:
        self._save(row, state=State.SENDING)

    def on_sent(
        self, row: RefundRequest, entry: OutboxEntry, result: _Refunded, *, found: bool
    ) -> None:
        lines, ids = result.lines, result.ids
        for line in lines:
            if ids.get(line.pk):
                line.mirakl_refund_id = ids[line.pk]
                line.save(update_fields=["mirakl_refund_id"])
        self._save(row, state=State.SENT, error_message="", sent_at=entry.done_at)
        self._audit(
            row,
            entry,
            Action.REFUND_SENT,
            _("Refund ids: %(ids)s") % {"ids": ", ".join(ids.values()) or "-"},
            outcome="found" if found else "sent",
            mirakl_refund_ids={str(pk): rid for pk, rid in ids.items()},
            lines=refund_amounts_data(lines),
        )
        # The sync may have read the order before the ids were saved: match them now.
        refund_requests_confirm_synced(
            now=entry.done_at, requests=RefundRequest.objects.filter(pk=row.pk)
        )

    def on_retry(self, row: RefundRequest, entry: OutboxEntry, error: DeliveryTransient) -> None:
        was_in_doubt = row.state == State.IN_DOUBT
        self._save(
            row,
            state=State.IN_DOUBT if entry.in_doubt else State.QUEUED,
            error_message=error.message[:2000],
        )
        if entry.in_doubt and not was_in_doubt:
            self._audit(
                row,
                entry,
                Action.REFUND_IN_DOUBT,
                error.message[:2000],
                error=error_text(error),
                status=error.status,
            )

    def on_refused(self, row: RefundRequest, entry: OutboxEntry, error: DeliveryRefused) -> None:
        self._save(row, state=State.REFUSED, error_message=error.message[:2000])
        self._audit(
            row,
            entry,
            Action.REFUND_REFUSED,
            error.message[:2000],
            error=error.message[:2000],
            status=error.status,
        )

    def before_sweep(self, now: datetime) -> None:
        # A sync can read the order between Mirakl's answer and the moment the ids are
        # saved: that sync had nothing to match, so match here.
        refund_requests_confirm_synced(now=now)
