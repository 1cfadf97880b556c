"""Reads of the refunds UI: the incident page's refunds panel and the approvals queue."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import router
from django.db.models import Prefetch, QuerySet

from core.expressions import in_ids
from core.models import MarketplaceConnection, Order, OrderLine
from core.precompiled import PrecompiledQuery
from incidents.lifecycle import Testimony, Witnessed
from incidents.models import Incident
from refunds.constants import REFUNDABLE_LINE_STATES
from refunds.models import Refund, RefundRequest, RefundRequestLine
from refunds.rules import LineRemainder, RefundLineInput, refund_remainders_compute

__all__ = [
    "LineRefunds",
    "RefundPanel",
    "RefundSummary",
    "SummaryRow",
    "refund_panel",
    "refund_request_by_key",
    "refund_requests_awaiting_approval",
    "refund_summary",
    "refunds_witnessed",
    "remainder_refundable",
]

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class LineRefunds:
    """One order line in the refunds panel: what was refunded, what is asked, what is left."""

    line: OrderLine
    remainder: LineRemainder | None
    refunds: list[Refund]
    request_lines: list[RefundRequestLine]


@dataclass(frozen=True, slots=True)
class RefundPanel:
    """What the incident page's refunds panel shows."""

    lines: list[LineRefunds]
    requests: list[RefundRequest]
    #: A request still waits for approval or for Mirakl: the panel polls.
    pending: bool
    #: Something is left to refund on some line.
    refundable: bool
    #: A request waits for a second person.
    awaiting_approval: bool
    #: Changes whenever a state or a synced refund changes; the poll compares it.
    version: str


def _request_lines_prefetch() -> Prefetch:
    return Prefetch("lines", queryset=RefundRequestLine.objects.select_related("line"))


def _order_lines(*, order_id: int) -> QuerySet[OrderLine]:
    return OrderLine.objects.filter(order_id=order_id).order_by("index", "mirakl_id", "pk")


def _order_refunds(*, order_id: int) -> QuerySet[Refund]:
    return Refund.objects.filter(line__order_id=order_id).order_by("created_date", "pk")


def _order_request_lines(*, order_id: int) -> QuerySet[RefundRequestLine]:
    return (
        RefundRequestLine.objects.filter(request__order_id=order_id)
        .select_related("request__requested_by", "request__approved_by", "request__delivery")
        .order_by("request_id", "pk")
    )


#: The panel's three reads, written once per process: every order and incident page
#: shows the panel, and compiling them cost more CPU than Postgres takes to answer.
_LINES = PrecompiledQuery(_order_lines, order_id=-1_999_999_031)
_REFUNDS = PrecompiledQuery(_order_refunds, order_id=-1_999_999_032)
_REQUEST_LINES = PrecompiledQuery(_order_request_lines, order_id=-1_999_999_033)


def refund_panel(*, order: Order) -> RefundPanel:
    """The refunds of the order, line by line, with the requests made here.

    Three queries whatever the data: the order's lines, its synced refunds, the lines of
    its requests with the requests; what is left on each line is computed from
    those rows (:func:`refunds.rules.refund_remainders_compute`).
    """
    using = router.db_for_read(OrderLine)
    lines: list[OrderLine] = _LINES.instances(using, order_id=order.pk)
    synced: dict[int, list[Refund]] = defaultdict(list)
    synced_rows = []
    for refund in _REFUNDS.instances(using, order_id=order.pk):
        synced[refund.line_id].append(refund)
        synced_rows.append(
            (
                refund.line_id,
                refund.mirakl_id,
                refund.amount,
                refund.shipping_amount,
                refund.quantity,
                refund.taxes,
                refund.shipping_taxes,
            )
        )
    # Every request is made with its lines (one transaction): the lines bring them.
    by_pk = {line.pk: line for line in lines}
    requests_by_pk: dict[int, RefundRequest] = {}
    items: dict[int, list[RefundRequestLine]] = defaultdict(list)
    for request_line in _REQUEST_LINES.instances(using, order_id=order.pk):
        request = requests_by_pk.setdefault(request_line.request_id, request_line.request)
        request_line.request = request
        items[request.pk].append(request_line)
        if request_line.line_id in by_pk:
            request_line.line = by_pk[request_line.line_id]
    requests = sorted(requests_by_pk.values(), key=lambda r: (r.created_at, r.pk), reverse=True)
    for request in requests:
        request.line_items = items[request.pk]
    by_line: dict[int, list[RefundRequestLine]] = defaultdict(list)
    requested_rows = []
    for request in requests:
        counted = request.state not in (*RefundRequest.VOID_STATES, RefundRequest.State.CONFIRMED)
        for request_line in request.line_items:
            request_line.refund_request = request
            by_line[request_line.line_id].append(request_line)
            if counted:
                requested_rows.append(
                    (
                        request_line.line_id,
                        request_line.mirakl_refund_id,
                        request_line.amount,
                        request_line.shipping_amount,
                        request_line.quantity,
                        request_line.taxes,
                        request_line.shipping_taxes,
                        request.state,
                    )
                )
    remainders = refund_remainders_compute(
        lines=lines, synced=synced_rows, requested=requested_rows
    )
    rows = [
        LineRefunds(
            line=line,
            remainder=remainders.get(line.pk),
            refunds=synced.get(line.pk, []),
            request_lines=by_line.get(line.pk, []),
        )
        for line in lines
    ]
    signature = "|".join(
        [f"r{r.pk}:{r.state}:{r.delivery.attempts if r.delivery else 0}" for r in requests]
        + [f"m{x.pk}:{x.state}" for row in rows for x in row.refunds]
    )
    return RefundPanel(
        lines=rows,
        requests=requests,
        pending=any(r.is_pending for r in requests),
        awaiting_approval=any(r.needs_approval for r in requests),
        refundable=any(remainder_refundable(r) for r in remainders.values()),
        version=hashlib.sha256(signature.encode()).hexdigest()[:16],
    )


def remainder_refundable(remainder: LineRemainder) -> bool:
    """Something is left on the line and Mirakl accepts a refund of it (its state)."""
    line = remainder.line
    return (
        not remainder.is_empty
        and line.state in REFUNDABLE_LINE_STATES
        and line.can_refund is not False
    )


def refund_requests_awaiting_approval() -> QuerySet[RefundRequest]:
    """Every request waiting for a second person, oldest first."""
    return (
        RefundRequest.objects.filter(state=RefundRequest.State.AWAITING_APPROVAL)
        .select_related("connection", "order", "incident", "requested_by")
        .prefetch_related(_request_lines_prefetch())
        .order_by("created_at", "pk")
    )


def refund_request_by_key(
    *, connection: MarketplaceConnection, idempotency_key: str
) -> RefundRequest | None:
    """The request already made with this key (a resubmitted form), if any."""
    return RefundRequest.objects.filter(
        connection=connection, idempotency_key=idempotency_key
    ).first()


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """One line of a refund about to be confirmed."""

    line: OrderLine
    input: RefundLineInput
    total: Decimal


@dataclass(frozen=True, slots=True)
class RefundSummary:
    rows: list[SummaryRow]
    total: Decimal


def refund_summary(*, order: Order, lines: list[RefundLineInput]) -> RefundSummary:
    """The lines of a refund with their order lines and the exact total to confirm."""
    order_lines = OrderLine.objects.filter(order=order).in_bulk([i.line_id for i in lines])
    rows = []
    for item in lines:
        rows.append(SummaryRow(line=order_lines[item.line_id], input=item, total=_line_total(item)))
    return RefundSummary(rows=rows, total=sum((r.total for r in rows), ZERO))


def _line_total(item: RefundLineInput) -> Decimal:
    # Amounts are tax included (like OR11's prices): the taxes are part of them, the
    # total is what the service records (``RefundRequest.total``).
    return item.amount + item.shipping_amount


def refunds_witnessed(incidents: Sequence[Incident]) -> Testimony:
    """The first refund on each incident's line since it opened: the shop acted (a
    witness of :mod:`incidents.lifecycle`), read in one query over the lines' refunds."""
    dates: dict[int, list[datetime]] = defaultdict(list)
    rows = Refund.objects.filter(
        in_ids(Refund, "line_id", {i.line_id for i in incidents})
    ).values_list("line_id", "created_date")
    for line_id, created in rows:
        if created is not None:
            dates[line_id].append(created)

    def witnessed(incident: Incident) -> Witnessed | None:
        since = [at for at in dates.get(incident.line_id, ()) if at >= incident.opened_at]
        return Witnessed(shop_acted_at=min(since)) if since else None

    return witnessed
