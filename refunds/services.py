"""Writes of the refunds app: asking Mirakl for refunds (OR28), exactly once.

1. :func:`refund_request_create` validates the request against what is left to refund
   on each line (:func:`refund_remainders`: synced refunds plus the requests made here
   that Mirakl has not refused), with the order row locked so that two requests on the
   same line cannot both pass, and stores it before anything is sent. The same
   idempotency key returns the same request. A request that takes its author above
   their limit on the order (:func:`refund_approval_check`) waits for a second user
   (:func:`refund_request_approve` / :func:`refund_request_reject`).
2. The request's outbox entry (:mod:`core.outbox`) sends all its lines in one OR28 call
   once the transaction commits (:mod:`refunds.outbox`). A timeout or 5xx leaves it
   ``in_doubt``: the next attempt first looks for its refunds in Mirakl's order (OR11)
   and only sends again if they are not there. A refusal (4xx) leaves it ``refused``
   with Mirakl's message; it then counts for nothing.
3. :func:`refund_requests_confirm` (called by the order sync) marks ``confirmed`` the
   requests whose refunds OR11 now shows.

Amounts are ``Decimal`` with two places, tax included like the line prices of OR11.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.models import Order
from core.outbox.engine import outbox_enqueue
from core.outbox.kinds import OutboxKind
from core.outbox.models import OutboxEntry
from incidents.audit import audit_log
from incidents.models import AuditEntry, Incident
from refunds.approvals import refund_approval_check, refund_approval_limit
from refunds.balance import refund_balance_check
from refunds.constants import ZERO
from refunds.models import RefundRequest, RefundRequestLine
from refunds.rules import (
    RefundApprovalError,
    RefundIdempotencyError,
    RefundLineInput,
    RefundValidationError,
    can_refund,
    canonical_lines,
    money_text,
    quantize_cents,
    refund_amounts_data,
    refund_remainders,
    refund_request_data,
    validate_lines,
)
from refunds.signals import refund_awaiting_approval

__all__ = [
    "refund_request_approve",
    "refund_request_create",
    "refund_request_reject",
    "refund_request_validate",
]


State = RefundRequest.State
Kind = RefundRequest.Kind
Action = AuditEntry.Action
Source = AuditEntry.Source


# --------------------------------------------------------------------------- types


# --------------------------------------------------------------------------- helpers


# --------------------------------------------------------------------------- reads


# --------------------------------------------------------------------------- validation


def _fingerprint(
    *, order: Order, lines: Sequence[RefundLineInput], kind: str, reason_code: str
) -> str:
    payload = {
        "order": order.pk,
        "kind": kind,
        "reason_code": reason_code,
        "lines": canonical_lines(lines),
    }
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, default=str).encode("utf-8")
    ).hexdigest()


# --------------------------------------------------------------------------- create


def _delivery(order: Order, now: datetime) -> OutboxEntry:
    """The outbox entry that sends a request (OR28) once its transaction commits; the
    requests of one order go out in the order they entered the outbox."""
    return outbox_enqueue(kind=OutboxKind.REFUND, group_key=f"order:{order.pk}", now=now)


def _replay(existing: RefundRequest, fingerprint: str) -> tuple[RefundRequest, bool]:
    if existing.fingerprint != fingerprint:
        raise RefundIdempotencyError(
            {
                (None, "__all__"): [
                    _("This idempotency key was already used for a different refund.")
                ]
            }
        )
    return existing, False


def _open_incident(order: Order) -> Incident | None:
    return (
        Incident.objects.filter(order=order, closed_at__isnull=True)
        .order_by("opened_at", "pk")
        .first()
    )


def refund_request_validate(
    *, order: Order, lines: Sequence[RefundLineInput], kind: str, reason_code: str
) -> list[RefundLineInput]:
    """Check a refund as :func:`refund_request_create` will, without storing or locking.

    The review step of the forms calls it so that errors show before the summary; the
    create call checks again under the order lock, since things may change meanwhile.

    :raises RefundValidationError: every problem found, keyed by (line pk, field).
    """
    clean, _label = validate_lines(
        order=order,
        lines=lines,
        kind=kind,
        reason_code=reason_code,
        remainders=refund_remainders(order=order),
    )
    return clean


@transaction.atomic
def refund_request_create(
    *,
    order: Order,
    lines: list[RefundLineInput],
    reason_code: str,
    actor: Any,
    idempotency_key: str,
    kind: str,
    incident: Incident | None = None,
    source: str = Source.USER,
    now: datetime | None = None,
) -> tuple[RefundRequest, bool]:
    """Validate and store a refund request; it is sent after commit unless it needs approval.

    ``kind`` full refunds everything left (``lines`` may be empty; if given they must be
    exactly :func:`refund_full_lines`). Lines whose every number is zero are ignored.
    Returns ``(request, created)``: the same ``idempotency_key`` on the same marketplace
    returns the first request with ``created=False``.

    :raises PermissionDenied: ``actor`` may not refund.
    :raises RefundIdempotencyError: the key was used for another refund.
    :raises RefundValidationError: every problem found, keyed by (line pk, field).
    """
    if not can_refund(actor):
        raise PermissionDenied(_("You are not allowed to refund orders."))
    key = (idempotency_key or "").strip()
    if not key or len(key) > 255:
        raise RefundValidationError(
            {(None, "__all__"): [_("An idempotency key of 1 to 255 characters is required.")]}
        )
    fingerprint = _fingerprint(order=order, lines=lines, kind=kind, reason_code=reason_code)
    existing = RefundRequest.objects.filter(
        connection_id=order.connection_id, idempotency_key=key
    ).first()
    if existing is not None:
        return _replay(existing, fingerprint)

    # The order row is the lock of its lines' remainders: a second request on the same
    # order waits here until the first has committed, then sees its lines.
    locked = (
        Order.objects.select_for_update(of=("self",)).select_related("connection").get(pk=order.pk)
    )
    existing = RefundRequest.objects.filter(
        connection_id=order.connection_id, idempotency_key=key
    ).first()
    if existing is not None:
        return _replay(existing, fingerprint)

    remainders = refund_remainders(order=locked)
    clean, reason_label = validate_lines(
        order=locked, lines=lines, kind=kind, reason_code=reason_code, remainders=remainders
    )
    total = quantize_cents(sum((line.amount + line.shipping_amount for line in clean), ZERO))
    # Read under the order lock: two requests of one user cannot both slip under it.
    approval = refund_approval_check(user=actor, order=locked, total=total)
    limit = approval.limit
    needs_approval = approval.needs_approval
    now = now or timezone.now()
    # Only a warning (the agent was shown it and chose to send): Mirakl decides.
    balance = refund_balance_check(connection=locked.connection, total=total, now=now)
    if incident is None:
        incident = _open_incident(locked)
    try:
        with transaction.atomic():
            request = RefundRequest.objects.create(
                connection_id=locked.connection_id,
                order=locked,
                incident=incident,
                kind=kind,
                reason_code=reason_code,
                reason_label=reason_label,
                idempotency_key=key,
                fingerprint=fingerprint,
                state=State.AWAITING_APPROVAL if needs_approval else State.QUEUED,
                total=total,
                source=source,
                requested_by=actor if getattr(actor, "is_authenticated", False) else None,
                created_at=now,
                delivery=None if needs_approval else _delivery(locked, now),
            )
            RefundRequestLine.objects.bulk_create(
                RefundRequestLine(
                    request=request,
                    line_id=line.line_id,
                    quantity=line.quantity,
                    amount=line.amount,
                    shipping_amount=line.shipping_amount,
                    taxes={code: str(a) for code, a in line.taxes.items()},
                    shipping_taxes={code: str(a) for code, a in line.shipping_taxes.items()},
                )
                for line in clean
            )
    except IntegrityError:
        # The same key on another order of this marketplace, committed meanwhile.
        existing = RefundRequest.objects.filter(
            connection_id=order.connection_id, idempotency_key=key
        ).first()
        if existing is None:
            raise
        return _replay(existing, fingerprint)

    audit_log(
        action=Action.REFUND_REQUESTED,
        source=source,
        actor=actor,
        incident=incident,
        order=locked,
        detail=_("%(kind)s of %(total)s EUR (%(reason)s)")
        % {"kind": request.get_kind_display(), "total": money_text(total), "reason": reason_label},
        data=refund_request_data(
            request,
            state=request.state,
            limit=None if limit is None else str(limit),
            requested_before=str(approval.already),
            lines=refund_amounts_data(clean),
            payable_balance=None if balance.payable is None else str(balance.payable),
            payable_balance_at=balance.as_of.isoformat() if balance.as_of else None,
            above_payable_balance=balance.exceeds,
        ),
        at=now,
    )
    if needs_approval:
        # Once committed: the approvers are told in the app (the SLA app listens).
        transaction.on_commit(
            partial(
                refund_awaiting_approval.send, sender=RefundRequest, refund_request=request, now=now
            )
        )
    return request, True


# --------------------------------------------------------------------------- approval


def _lock_request(refund_request: RefundRequest) -> RefundRequest:
    return (
        RefundRequest.objects.select_for_update(of=("self",))
        .select_related("order", "incident")
        .get(pk=refund_request.pk)
    )


def _copy_decision(source: RefundRequest, target: RefundRequest) -> None:
    """Keep the caller's instance in step with the locked copy that was saved."""
    for name in ("state", "approved_by_id", "approved_at", "rejection_reason", "delivery_id"):
        setattr(target, name, getattr(source, name))


@transaction.atomic
def refund_request_approve(
    *, refund_request: RefundRequest, approver: Any, now: datetime | None = None
) -> RefundRequest:
    """A second user approves a request above its author's limit; it is then sent.

    :raises RefundApprovalError: not awaiting approval, the author approving, no refund
        permission, or a total above the approver's own limit.
    """
    request = _lock_request(refund_request)
    if request.state != State.AWAITING_APPROVAL:
        raise RefundApprovalError(_("This refund is not awaiting approval."))
    if not can_refund(approver):
        raise RefundApprovalError(_("You are not allowed to approve refunds."), code="permission")
    if request.requested_by_id is not None and request.requested_by_id == approver.pk:
        raise RefundApprovalError(
            _("Another user must approve your own refund."), code="self_approval"
        )
    limit = refund_approval_limit(approver)
    if limit is not None and request.total > limit:
        raise RefundApprovalError(
            _("This refund of %(total)s EUR is above your own limit of %(limit)s EUR.")
            % {"total": money_text(request.total), "limit": money_text(limit)},
            code="limit",
        )
    now = now or timezone.now()
    request.state = State.QUEUED
    request.approved_by = approver
    request.approved_at = now
    request.delivery = _delivery(request.order, now)
    request.save(update_fields=["state", "approved_by", "approved_at", "delivery"])
    audit_log(
        action=Action.REFUND_APPROVED,
        actor=approver,
        incident=request.incident,
        order=request.order,
        detail=_("%(total)s EUR") % {"total": money_text(request.total)},
        data=refund_request_data(request, limit=None if limit is None else str(limit)),
        at=now,
    )
    _copy_decision(request, refund_request)
    return request


@transaction.atomic
def refund_request_reject(
    *, refund_request: RefundRequest, approver: Any, reason: str, now: datetime | None = None
) -> RefundRequest:
    """Reject a request awaiting approval: nothing is sent and its amounts are freed.

    The author may withdraw their own request this way.
    """
    request = _lock_request(refund_request)
    if request.state != State.AWAITING_APPROVAL:
        raise RefundApprovalError(_("This refund is not awaiting approval."))
    if not can_refund(approver):
        raise RefundApprovalError(_("You are not allowed to approve refunds."), code="permission")
    now = now or timezone.now()
    request.state = State.REJECTED
    request.approved_by = approver
    request.approved_at = now
    request.rejection_reason = reason
    request.save(update_fields=["state", "approved_by", "approved_at", "rejection_reason"])
    audit_log(
        action=Action.REFUND_REJECTED,
        actor=approver,
        incident=request.incident,
        order=request.order,
        detail=reason,
        data=refund_request_data(request, reason=reason),
        at=now,
    )
    _copy_decision(request, refund_request)
    return request


# --------------------------------------------------------------------------- reconciliation
