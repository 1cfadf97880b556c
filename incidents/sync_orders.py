"""Writing OR11 order pages into Postgres: orders, lines, refunds and incident episodes.

One page is written in a handful of bulk statements whatever its size. Orders whose
``last_updated_date`` has not moved since the last sync are not written again, which
is what makes a re-run with nothing new cheap, and running the same page twice
changes nothing. Each order to write is first made storable with its lines and refunds
(:mod:`incidents.storable`): one that cannot be is skipped and named, never allowed
to fail the page.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone

from incidents.bulk import upsert
from incidents.constants import INCIDENT_LINE_STATE
from incidents.freshness import inbox_changed
from incidents.lifecycle import incident_opened_entry, incident_transition
from incidents.models import (
    AuditEntry,
    Incident,
    MarketplaceConnection,
    Order,
    OrderLine,
    SkippedRecord,
)
from incidents.search import order_search_documents_refresh
from incidents.storable import RowCleaner, Unstorable, excerpt
from incidents.sync_results import PageResult, Skipped
from mirakl.schemas import Address, LineRefund, OrderPage, Tax
from mirakl.schemas import Order as MiraklOrder
from mirakl.schemas import OrderLine as MiraklLine
from refunds.models import Refund
from refunds.services import refund_requests_confirm

__all__ = ["orders_page_store", "orphan_threads_link"]

logger = logging.getLogger(__name__)

_MAX_AMOUNT = Decimal("9999999999.99")

ORDER_FIELDS = [
    "commercial_id",
    "state",
    "state_reason_code",
    "state_reason_label",
    "currency",
    "price",
    "shipping_price",
    "total_price",
    "has_incident",
    "has_customer_message",
    "fully_refunded",
    "customer_mirakl_id",
    "customer_first_name",
    "customer_last_name",
    "customer_locale",
    "customer_email",
    "billing_address",
    "shipping_address",
    "shipping_company",
    "shipping_tracking",
    "shipping_tracking_url",
    "shipping_type",
    "created_date",
    "last_updated_date",
    "synced_at",
]
LINE_FIELDS = [
    "index",
    "state",
    "state_reason_code",
    "state_reason_label",
    "offer_sku",
    "product_sku",
    "product_title",
    "category_label",
    "quantity",
    "price_unit",
    "price",
    "shipping_price",
    "total_price",
    "taxes",
    "shipping_taxes",
    "cancelations",
    "can_refund",
    "created_date",
    "last_updated_date",
    "shipped_date",
    "received_date",
]
REFUND_FIELDS = [
    "amount",
    "shipping_amount",
    "quantity",
    "reason_code",
    "state",
    "taxes",
    "shipping_taxes",
    "created_date",
]


def _money(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    if not value.is_finite() or abs(value) > _MAX_AMOUNT:
        raise Unstorable(f"amount out of range: {value}")
    return value.quantize(Decimal("0.01"))


def _taxes(taxes: Sequence[Tax]) -> list[dict[str, Any]]:
    return [{"code": t.code, "amount": str(t.amount)} for t in taxes]


def _address(address: Address | None) -> dict[str, Any]:
    if address is None:
        return {}
    return address.model_dump(exclude_none=True)


def _order_row(connection_id: int, order: MiraklOrder, now: datetime) -> dict[str, Any]:
    customer = order.customer
    return dict(
        connection_id=connection_id,
        mirakl_id=order.order_id,
        commercial_id=order.commercial_id or "",
        state=order.order_state,
        state_reason_code=order.order_state_reason_code or "",
        state_reason_label=order.order_state_reason_label or "",
        currency=order.currency_iso_code or "EUR",
        price=_money(order.price),
        shipping_price=_money(order.shipping_price),
        total_price=_money(order.total_price),
        has_incident=bool(order.has_incident),
        has_customer_message=bool(order.has_customer_message),
        fully_refunded=bool(order.fully_refunded),
        customer_mirakl_id=(customer.customer_id or "") if customer else "",
        customer_first_name=(customer.firstname or "") if customer else "",
        customer_last_name=(customer.lastname or "") if customer else "",
        customer_locale=(customer.locale or "") if customer else "",
        customer_email=order.customer_notification_email or "",
        billing_address=_address(customer.billing_address if customer else None),
        shipping_address=_address(customer.shipping_address if customer else None),
        shipping_company=order.shipping_company or "",
        shipping_tracking=order.shipping_tracking or "",
        shipping_tracking_url=order.shipping_tracking_url or "",
        shipping_type=order.shipping_type_label or "",
        created_date=order.created_date,
        last_updated_date=order.last_updated_date,
        synced_at=now,
    )


def _line_row(line: MiraklLine) -> dict[str, Any]:
    """The line's row; ``order_id`` is set once the order has its key."""
    return dict(
        order_id=None,
        mirakl_id=line.order_line_id,
        index=line.order_line_index,
        state=line.order_line_state,
        state_reason_code=line.order_line_state_reason_code or "",
        state_reason_label=line.order_line_state_reason_label or "",
        offer_sku=line.offer_sku or "",
        product_sku=line.product_sku or "",
        product_title=line.product_title or "",
        category_label=line.category_label or "",
        quantity=max(line.quantity or 0, 0),
        price_unit=_money(line.price_unit),
        price=_money(line.price) or Decimal("0.00"),
        shipping_price=_money(line.shipping_price) or Decimal("0.00"),
        total_price=_money(line.total_price),
        taxes=_taxes(line.taxes),
        shipping_taxes=_taxes(line.shipping_taxes),
        cancelations=[c.model_dump(mode="json", exclude_none=True) for c in line.cancelations],
        can_refund=line.can_refund,
        created_date=line.created_date,
        last_updated_date=line.last_updated_date,
        shipped_date=line.shipped_date,
        received_date=line.received_date,
    )


@dataclass(slots=True)
class _Prepared:
    """One order's rows, storable, before the page's statements give them their keys."""

    order: MiraklOrder
    row: dict[str, Any]
    #: The order's lines, each line id once, with the line's row and its refunds' rows.
    lines: list[tuple[MiraklLine, dict[str, Any], list[dict[str, Any]]]]


_ORDER_ROWS = RowCleaner(Order)
_LINE_ROWS = RowCleaner(OrderLine)
_REFUND_ROWS = RowCleaner(Refund)


def _prepare(
    connection_id: int, order: MiraklOrder, now: datetime, skipped: list[Skipped]
) -> _Prepared:
    """The order's rows, made storable; raises :class:`Unstorable` for an order that
    cannot be stored. A line or refund whose id repeats within the order is left out
    (the first is kept) and named in ``skipped``."""
    row = _ORDER_ROWS.clean(_order_row(connection_id, order, now))
    lines = []
    seen_lines: set[str] = set()
    for line in order.order_lines:
        line_key = f"{order.order_id}/{line.order_line_id}"
        if line.order_line_id in seen_lines:
            skipped.append(
                Skipped(
                    kind=SkippedRecord.Kind.LINE,
                    mirakl_id=line_key,
                    reason=SkippedRecord.Reason.DUPLICATE,
                    detail=f"order line {line.order_line_id} appears twice in order "
                    f"{order.order_id}; the first one was stored",
                    excerpt=excerpt(line),
                )
            )
            continue
        seen_lines.add(line.order_line_id)
        refunds = []
        seen_refunds: set[str] = set()
        for refund in line.refunds:
            if refund.id in seen_refunds:
                skipped.append(
                    Skipped(
                        kind=SkippedRecord.Kind.REFUND,
                        mirakl_id=f"{line_key}/{refund.id}",
                        reason=SkippedRecord.Reason.DUPLICATE,
                        detail=f"refund {refund.id} appears twice on order line {line_key}; "
                        "the first one was stored",
                        excerpt=excerpt(refund),
                    )
                )
                continue
            seen_refunds.add(refund.id)
            refunds.append(_REFUND_ROWS.clean(_refund_row(refund)))
        lines.append((line, _LINE_ROWS.clean(_line_row(line)), refunds))
    return _Prepared(order=order, row=row, lines=lines)


def _refund_row(refund: LineRefund) -> dict[str, Any]:
    """The refund's row; ``line_id`` is set once the line has its key."""
    return dict(
        line_id=None,
        mirakl_id=refund.id,
        amount=_money(refund.amount) or Decimal("0.00"),
        shipping_amount=_money(refund.shipping_amount) or Decimal("0.00"),
        quantity=refund.quantity if refund.quantity and refund.quantity > 0 else None,
        reason_code=refund.reason_code or "",
        state=refund.current_state or "",
        taxes=_taxes(refund.taxes),
        shipping_taxes=_taxes(refund.shipping_taxes),
        created_date=refund.created_date,
    )


def orders_page_store(
    *,
    connection: MarketplaceConnection,
    page: OrderPage,
    force: bool = False,
    now: datetime | None = None,
) -> PageResult:
    """Write one OR11 page. Must run inside a transaction (the caller's).

    Every order is made storable first (:mod:`incidents.storable`); one that cannot be
    is skipped and named in the result, and the others are written.

    :param force: rewrite orders even when Mirakl's update date has not moved
        (a full sync does, so that a change of mapping reaches old rows).
    """
    now = now or timezone.now()
    inbox_changed()
    result = PageResult()
    for invalid in page.invalid:
        logger.warning(
            "Skipped a malformed order from %s: id=%s error=%s",
            connection.code,
            invalid.id,
            invalid.error,
        )
        result.skipped.append(
            Skipped(
                kind=SkippedRecord.Kind.ORDER,
                mirakl_id=invalid.id,
                reason=SkippedRecord.Reason.UNREADABLE,
                detail=invalid.error,
                excerpt=excerpt(invalid.raw),
            )
        )

    # A repeated order id keeps its last occurrence (the later state).
    by_id: dict[str, MiraklOrder] = {order.order_id: order for order in page.orders}
    if not by_id:
        return result

    known = dict(
        Order.objects.filter(connection=connection, mirakl_id__in=by_id).values_list(
            "mirakl_id", "last_updated_date"
        )
    )
    to_write: list[_Prepared] = []
    for mirakl_id, order in by_id.items():
        if not force and known.get(mirakl_id) == order.last_updated_date:
            result.unchanged += 1
            continue
        try:
            to_write.append(_prepare(connection.pk, order, now, result.skipped))
        except Unstorable as exc:
            logger.warning("Skipped order %s from %s: %s", mirakl_id, connection.code, exc)
            result.skipped.append(
                Skipped(
                    kind=SkippedRecord.Kind.ORDER,
                    mirakl_id=mirakl_id,
                    reason=exc.reason,
                    detail=str(exc),
                    excerpt=excerpt(order),
                )
            )
            continue
        if mirakl_id in known:
            result.updated += 1
        else:
            result.created += 1
    if not to_write:
        return result

    rows = upsert(
        Order,
        [prepared.row for prepared in to_write],
        unique_fields=["connection", "mirakl_id"],
        update_fields=ORDER_FIELDS,
        returning=("id", "mirakl_id"),
    )
    order_pks = {mirakl_id: pk for pk, mirakl_id in rows}

    line_rows = []
    for prepared in to_write:
        order_pk = order_pks[prepared.order.order_id]
        for _line, line_row, _refunds in prepared.lines:
            line_row["order_id"] = order_pk
            line_rows.append(line_row)
    stored_lines = upsert(
        OrderLine,
        line_rows,
        unique_fields=["order", "mirakl_id"],
        update_fields=LINE_FIELDS,
        returning=("id", "order_id", "mirakl_id"),
    )
    line_pks = {(order_pk, mirakl_id): pk for pk, order_pk, mirakl_id in stored_lines}

    refund_rows = []
    for prepared in to_write:
        order_pk = order_pks[prepared.order.order_id]
        for line, _line_row, refunds in prepared.lines:
            line_pk = line_pks[(order_pk, line.order_line_id)]
            for refund_row in refunds:
                refund_row["line_id"] = line_pk
                refund_rows.append(refund_row)
    upsert(
        Refund,
        refund_rows,
        unique_fields=["line", "mirakl_id"],
        update_fields=REFUND_FIELDS,
    )
    if refund_rows:
        # Refunds asked for from Incidesk are confirmed once OR11 shows them (one query).
        refund_requests_confirm(
            connection=connection, mirakl_refund_ids={r["mirakl_id"] for r in refund_rows}, now=now
        )

    _store_incidents(connection, to_write, order_pks, line_pks, set(known), now)
    result.touched_orders.update(order_pks.values())
    return result


def orphan_threads_link(*, connection: MarketplaceConnection) -> int:
    """Attach threads synced before their order arrived; returns how many.

    The orders that gain threads get their search document rebuilt with their messages.
    """
    from messaging.models import Thread

    orphans = Thread.objects.filter(
        connection=connection, order__isnull=True, entity_type="MMP_ORDER"
    ).filter(entity_id__in=Order.objects.filter(connection=connection).values("mirakl_id"))
    thread_ids = list(orphans.values_list("pk", flat=True))
    if not thread_ids:
        return 0
    linked = Thread.objects.filter(pk__in=thread_ids, order__isnull=True).update(
        order=Subquery(
            Order.objects.filter(connection=connection, mirakl_id=OuterRef("entity_id")).values(
                "pk"
            )[:1]
        )
    )
    order_search_documents_refresh(
        order_ids=Thread.objects.filter(pk__in=thread_ids).values_list("order_id", flat=True)
    )
    return linked


def _store_incidents(
    connection: MarketplaceConnection,
    orders: list[_Prepared],
    order_pks: dict[str, int],
    line_pks: dict[tuple[int, str], int],
    known: set[str],
    now: datetime,
) -> None:
    """Open an episode for each line newly in INCIDENT_OPEN; close those that left it.

    Lines of orders we did not hold before cannot have incidents yet, so only the
    lines of ``known`` orders are looked up.
    """
    lines = [
        (
            p.order,
            line,
            order_pks[p.order.order_id],
            line_pks[(order_pks[p.order.order_id], line.order_line_id)],
        )
        for p in orders
        for line, _row, _refunds in p.lines
    ]
    known_line_ids = [entry[3] for entry in lines if entry[0].order_id in known]
    open_by_line = (
        {
            incident.line_id: incident
            for incident in Incident.objects.filter(
                line_id__in=known_line_ids, closed_at__isnull=True
            )
        }
        if known_line_ids
        else {}
    )
    needs_open = [
        entry
        for entry in lines
        if entry[1].order_line_state == INCIDENT_LINE_STATE and entry[3] not in open_by_line
    ]
    last_episode: dict[int, int] = {}
    if any(entry[0].order_id in known for entry in needs_open):
        last_episode = dict(
            Incident.objects.filter(line_id__in=[entry[3] for entry in needs_open])
            .values("line_id")
            .annotate(last=Max("episode"))
            .values_list("line_id", "last")
        )

    opened: list[Incident] = []
    for order, line, order_pk, line_pk in needs_open:
        opened.append(
            Incident(
                connection=connection,
                order_id=order_pk,
                line_id=line_pk,
                episode=last_episode.get(line_pk, 0) + 1,
                state=Incident.State.NEW,
                reason_code=line.order_line_state_reason_code or "",
                reason_label=line.order_line_state_reason_label or "",
                opened_at=line.last_updated_date or order.last_updated_date,
                created_at=now,
                updated_at=now,
            )
        )
    if opened:
        Incident.objects.bulk_create(opened)
    events = [incident_opened_entry(incident=incident) for incident in opened]

    closed: list[Incident] = []
    for order, line, _order_pk, line_pk in lines:
        incident = open_by_line.get(line_pk)
        if incident is None or line.order_line_state == INCIDENT_LINE_STATE:
            continue
        closed_at = max(line.last_updated_date or order.last_updated_date, incident.opened_at)
        events.append(
            incident_transition(
                incident=incident,
                to=Incident.State.CLOSED,
                source=AuditEntry.Source.SYNC,
                detail=line.order_line_state,
                at=closed_at,
                save=False,
            )
        )
        incident.closed_at = closed_at
        incident.updated_at = now
        closed.append(incident)
    if closed:
        Incident.objects.bulk_update(closed, ["state", "closed_at", "updated_at"])
    if events:
        AuditEntry.objects.bulk_create(events)
