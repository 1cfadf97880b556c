"""Writing OR11 order pages into Postgres: orders and lines, then each app's share.

One page is written in a handful of bulk statements whatever its size. Orders whose
``last_updated_date`` has not moved since the last sync are not written again, which
is what makes a re-run with nothing new cheap, and running the same page twice
changes nothing. Each order to write is first made storable with its lines and what
every registered handler keeps of it (:mod:`core.sync.storable`,
:mod:`core.sync.registry`): one that cannot be is skipped and named, never allowed
to fail the page. The handlers then write their share (the incidents app its
episodes, the refunds app the refunds on the lines) in the page's transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection as db_connection
from django.utils import timezone

from core.bulk import upsert, values_by_keys
from core.constants import SYNC_RESOURCE_ORDERS
from core.freshness import inbox_changed
from core.models import MarketplaceConnection, Order, OrderLine
from core.sync.models import SkippedRecord, SyncCursor
from core.sync.registry import Page, RecordSplit, Resource, StoredOrder, order_page_handlers
from core.sync.results import PageResult, Skipped
from core.sync.storable import RowCleaner, Unstorable, excerpt
from mirakl.client import MiraklClient
from mirakl.schemas import AddressRecord, OrderRecordPage, TaxRecord, record_json
from mirakl.schemas import OrderLineRecord as MiraklLine
from mirakl.schemas import OrderRecord as MiraklOrder

__all__ = [
    "ORDERS",
    "PreparedOrders",
    "money",
    "orders_page_prepare",
    "orders_page_store",
    "taxes_rows",
]

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
    "acceptance_decision_date",
    "shipping_deadline",
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


def money(value: Decimal | None) -> Decimal | None:
    """An amount from Mirakl as Postgres keeps it (two decimals), or :class:`Unstorable`."""
    if value is None:
        return None
    if not value.is_finite() or abs(value) > _MAX_AMOUNT:
        raise Unstorable(f"amount out of range: {value}")
    return value.quantize(Decimal("0.01"))


def taxes_rows(taxes: Sequence[TaxRecord]) -> list[dict[str, Any]]:
    """Mirakl's taxes as the JSON the rows keep."""
    return [{"code": t.code, "amount": str(t.amount)} for t in taxes]


def _address(address: AddressRecord | None) -> AddressRecord | dict[str, Any]:
    """The address as the row keeps it: the record itself, encoded without its missing
    fields (:class:`~mirakl.schemas.AddressRecord`), or ``{}``."""
    return {} if address is None else address


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
        price=money(order.price),
        shipping_price=money(order.shipping_price),
        total_price=money(order.total_price),
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
        acceptance_decision_date=order.acceptance_decision_date,
        shipping_deadline=order.shipping_deadline,
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
        price_unit=money(line.price_unit),
        price=money(line.price) or Decimal("0.00"),
        shipping_price=money(line.shipping_price) or Decimal("0.00"),
        total_price=money(line.total_price),
        taxes=taxes_rows(line.taxes),
        shipping_taxes=taxes_rows(line.shipping_taxes),
        cancelations=[record_json(c) for c in line.cancelations],
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
    #: The order's lines, each line id once, with the line's row.
    lines: list[tuple[MiraklLine, dict[str, Any]]]
    #: What each order page handler prepared for the order, by handler name.
    shares: dict[str, Any]


_ORDER_ROWS = RowCleaner(Order)
_LINE_ROWS = RowCleaner(OrderLine)


def _prepare(
    connection_id: int, order: MiraklOrder, now: datetime, skipped: list[Skipped]
) -> _Prepared:
    """The order's rows, made storable, and each handler's share of it; raises
    :class:`Unstorable` for an order that cannot be stored. A line whose id repeats
    within the order is left out (the first is kept) and named in ``skipped``."""
    row = _ORDER_ROWS.clean(_order_row(connection_id, order, now))
    lines = []
    seen_lines: set[str] = set()
    for line in order.order_lines:
        if line.order_line_id in seen_lines:
            skipped.append(
                Skipped(
                    kind=SkippedRecord.Kind.LINE,
                    mirakl_id=f"{order.order_id}/{line.order_line_id}",
                    reason=SkippedRecord.Reason.DUPLICATE,
                    detail=f"order line {line.order_line_id} appears twice in order "
                    f"{order.order_id}; the first one was stored",
                    excerpt=excerpt(line),
                )
            )
            continue
        seen_lines.add(line.order_line_id)
        lines.append((line, _LINE_ROWS.clean(_line_row(line))))
    shares = {handler.name: handler.prepare(order, skipped) for handler in order_page_handlers()}
    return _Prepared(order=order, row=row, lines=lines, shares=shares)


@dataclass(slots=True)
class _Outcome:
    """What preparing one order gave: its rows, or why it cannot be stored; and what it
    named as skipped meanwhile (a repeated line, a repeated refund)."""

    order: MiraklOrder
    prepared: _Prepared | Unstorable
    skipped: list[Skipped]


@dataclass(slots=True)
class PreparedOrders:
    """An OR11 page's orders made storable ahead of the write (:func:`orders_page_prepare`),
    by Mirakl id, and the instant their rows say they were synced."""

    now: datetime
    orders: dict[str, _Outcome]


def _outcome(connection_id: int, order: MiraklOrder, now: datetime) -> _Outcome:
    skipped: list[Skipped] = []
    try:
        return _Outcome(order, _prepare(connection_id, order, now, skipped), skipped)
    except Unstorable as exc:
        return _Outcome(order, exc, skipped)


def orders_page_prepare(
    connection_id: int, page: OrderRecordPage, now: datetime | None = None
) -> PreparedOrders:
    """Every order of an OR11 page made storable, as :func:`orders_page_store` would,
    without the database: the sync does it while the page before is being written.

    Every order is prepared, even those the write will find unchanged; it costs the
    reading thread, and only on the pages an incremental run reads again.
    """
    now = now or timezone.now()
    by_id = {order.order_id: order for order in page.orders}
    return PreparedOrders(
        now=now,
        orders={
            mirakl_id: _outcome(connection_id, order, now) for mirakl_id, order in by_id.items()
        },
    )


def orders_page_store(
    *,
    connection: MarketplaceConnection,
    page: OrderRecordPage,
    force: bool = False,
    now: datetime | None = None,
    prepared: PreparedOrders | None = None,
) -> PageResult:
    """Write one OR11 page. Must run inside a transaction (the caller's).

    Every order is made storable first (:mod:`core.sync.storable`); one that cannot be
    is skipped and named in the result, and the others are written.

    :param force: rewrite orders even when Mirakl's update date has not moved
        (a full sync does, so that a change of mapping reaches old rows).
    :param prepared: the page's orders made storable already
        (:func:`orders_page_prepare`); their rows say they were synced when that ran.
    """
    now = now or (prepared.now if prepared is not None else timezone.now())
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

    # A full sync writes every order: which ones were held already is told by the upsert
    # itself (Postgres), rather than by one more statement per page.
    told = force and db_connection.vendor == "postgresql"
    known: dict[str, datetime | None] = (
        {}
        if told
        else dict(
            values_by_keys(
                Order,
                ("mirakl_id", "last_updated_date"),
                key="mirakl_id",
                keys=list(by_id),
                scope={"connection_id": connection.pk},
            )
        )
    )
    ready = prepared.orders if prepared is not None else {}
    to_write: list[_Prepared] = []
    for mirakl_id, order in by_id.items():
        if not force and known.get(mirakl_id) == order.last_updated_date:
            result.unchanged += 1
            continue
        outcome = ready.get(mirakl_id)
        if outcome is None or outcome.order is not order:
            outcome = _outcome(connection.pk, order, now)
        result.skipped.extend(outcome.skipped)
        if isinstance(outcome.prepared, Unstorable):
            exc = outcome.prepared
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
        to_write.append(outcome.prepared)
        if not told:
            if mirakl_id in known:
                result.updated += 1
            else:
                result.created += 1
    if not to_write:
        return result

    # Told once the page commits, and only when it writes something: a page read again
    # unchanged (the overlap of every incremental run) leaves the inbox's refresh alone.
    inbox_changed()
    rows = upsert(
        Order,
        [written.row for written in to_write],
        unique_fields=["connection", "mirakl_id"],
        update_fields=ORDER_FIELDS,
        returning=("id", "mirakl_id"),
        inserted=told,
    )
    if told:
        order_pks = {}
        for pk, mirakl_id, inserted in rows:
            order_pks[mirakl_id] = pk
            if inserted:
                result.created += 1
            else:
                result.updated += 1
                known[mirakl_id] = None
    else:
        order_pks = {mirakl_id: pk for pk, mirakl_id in rows}

    line_rows = []
    for written in to_write:
        order_pk = order_pks[written.order.order_id]
        for _line, line_row in written.lines:
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

    stored = [
        StoredOrder(
            order=written.order,
            pk=order_pks[written.order.order_id],
            lines=[
                (line, line_pks[(order_pks[written.order.order_id], line.order_line_id)])
                for line, _row in written.lines
            ],
            prepared=written.shares,
        )
        for written in to_write
    ]
    for handler in order_page_handlers():
        handler.store(connection=connection, orders=stored, known=set(known), now=now)
    result.touched_orders.update(order_pks.values())
    return result


def _pages(client: MiraklClient, cursor: SyncCursor) -> Iterator[Page]:
    for page in client.iter_order_record_pages(
        updated_since=cursor.run_since, start_offset=cursor.run_offset
    ):
        next_offset = page.next_offset
        if next_offset is None:
            next_offset = page.offset + len(page.orders) + len(page.invalid)
        yield Page(page, offset=next_offset)


def _records(payload: OrderRecordPage) -> RecordSplit:
    """The page's unreadable orders first, in a page of their own, then each order."""
    Kind = SkippedRecord.Kind
    yield Kind.ORDER, "", OrderRecordPage(invalid=payload.invalid), None
    for order in payload.orders:
        yield Kind.ORDER, order.order_id, OrderRecordPage(orders=[order]), order


def _store(
    connection: MarketplaceConnection,
    client: MiraklClient,
    page: OrderRecordPage,
    force: bool,
    prepared: PreparedOrders | None,
) -> PageResult:
    return orders_page_store(connection=connection, page=page, force=force, prepared=prepared)


ORDERS = Resource(
    name=SYNC_RESOURCE_ORDERS,
    position=20,
    pages=_pages,
    store=_store,
    records=_records,
    prepare=orders_page_prepare,
)
