"""Approval limits: a refund request above its author's limit on an order waits for a
second user whose own limit covers it (``RefundLimit`` per user, ``REFUND_APPROVAL_LIMIT``
by default)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Q, Sum

from core.models import Order
from refunds.constants import ZERO
from refunds.models import RefundLimit, RefundRequest
from refunds.rules import REFUND_PERMISSION, quantize_cents

__all__ = [
    "ApprovalCheck",
    "refund_approval_check",
    "refund_approval_limit",
    "refund_approvers",
    "refund_requested_total",
]

State = RefundRequest.State


def refund_approval_limit(user: Any) -> Decimal | None:
    """The most ``user`` may refund on one order without approval; None = no limit."""
    if getattr(user, "is_superuser", False):
        return None
    row = RefundLimit.objects.filter(user_id=getattr(user, "pk", None)).first()
    if row is not None:
        return row.limit
    return Decimal(str(settings.REFUND_APPROVAL_LIMIT))


def refund_approvers(refund_request: RefundRequest) -> list[Any]:
    """Who may approve ``refund_request``: active users allowed to refund, other than its
    author, whose own limit covers its total (a superuser has none)."""
    app_label, codename = REFUND_PERMISSION.split(".", 1)
    permission = Permission.objects.filter(
        content_type__app_label=app_label, codename=codename
    ).first()
    allowed = Q(is_superuser=True)
    if permission is not None:
        allowed |= Q(user_permissions=permission) | Q(groups__permissions=permission)
    users = (
        get_user_model()
        .objects.filter(allowed, is_active=True)
        .exclude(pk=refund_request.requested_by_id)
        .distinct()
        .order_by("pk")
    )
    approvers = []
    for user in users:
        limit = refund_approval_limit(user)
        if limit is None or refund_request.total <= limit:
            approvers.append(user)
    return approvers


@dataclass(frozen=True, slots=True)
class ApprovalCheck:
    """Whether a refund of ``total`` needs a second approver, and why.

    ``already``: what the user has asked to refund on the same order before (requests
    neither refused nor rejected, whatever their state); ``limit`` None = no limit.
    """

    limit: Decimal | None
    already: Decimal
    total: Decimal

    @property
    def needs_approval(self) -> bool:
        return self.limit is not None and self.already + self.total > self.limit


def refund_requested_total(*, user: Any, order: Order) -> Decimal:
    """What ``user`` has asked to refund on ``order`` through Incidesk, not refused or
    rejected (awaiting approval, queued, sent, confirmed…)."""
    if getattr(user, "pk", None) is None:
        return ZERO
    total = (
        RefundRequest.objects.filter(order_id=order.pk, requested_by_id=user.pk)
        .exclude(state__in=RefundRequest.VOID_STATES)
        .aggregate(total=Sum("total"))["total"]
    )
    return quantize_cents(total or ZERO)


def refund_approval_check(*, user: Any, order: Order, total: Decimal) -> ApprovalCheck:
    """Whether ``user`` asking for ``total`` more on ``order`` needs a second approver.

    The limit applies to everything the user asks to refund on one order, not to each
    request: splitting a refund into small requests does not avoid the approver.
    """
    limit = refund_approval_limit(user)
    already = ZERO if limit is None else refund_requested_total(user=user, order=order)
    return ApprovalCheck(limit=limit, already=already, total=quantize_cents(total))
