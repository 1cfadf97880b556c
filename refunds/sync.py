"""What the refunds app keeps of each OR11 page: the refunds on its lines.

Registered with the sync engine (:mod:`core.sync.registry`) by the app's
``AppConfig.ready``. A refund that cannot be stored makes its whole order
unstorable (it is skipped and named, as a malformed order field would be); a refund
id that repeats on one line is left out (the first is kept) and named. Refunds asked
for from Incidesk are confirmed once OR11 shows them: a run of the orders reads once
which refund ids its connection's sent requests await (:func:`refunds_awaited_once`),
and a page confirms requests only when it holds one of them. A request sent while the
run goes on is confirmed by the outbox (it matches the refunds synced meanwhile as it
saves the ids, and again before each of its sweeps).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from decimal import Decimal
from typing import Any

from core.bulk import upsert
from core.constants import SYNC_RESOURCE_ORDERS
from core.models import MarketplaceConnection
from core.sync.models import SkippedRecord
from core.sync.orders import money, taxes_rows
from core.sync.registry import StoredOrder
from core.sync.results import Skipped
from core.sync.storable import RowCleaner, excerpt
from mirakl.schemas import LineRefundRecord as LineRefund
from mirakl.schemas import OrderRecord as MiraklOrder
from refunds.delivery import refund_ids_awaited, refund_requests_confirm
from refunds.models import Refund

__all__ = ["LineRefunds", "refunds_awaited_once"]

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

_REFUND_ROWS = RowCleaner(Refund)


def _refund_row(refund: LineRefund) -> dict[str, Any]:
    """The refund's row; ``line_id`` is set once the line has its key."""
    return dict(
        line_id=None,
        mirakl_id=refund.id,
        amount=money(refund.amount) or Decimal("0.00"),
        shipping_amount=money(refund.shipping_amount) or Decimal("0.00"),
        quantity=refund.quantity if refund.quantity and refund.quantity > 0 else None,
        reason_code=refund.reason_code or "",
        state=refund.current_state or "",
        taxes=taxes_rows(refund.taxes),
        shipping_taxes=taxes_rows(refund.shipping_taxes),
        created_date=refund.created_date,
    )


class _Awaited:
    """The refund ids a connection's sent requests await, read at most once per run."""

    def __init__(self, connection_id: int) -> None:
        self.connection_id = connection_id
        self.ids: frozenset[str] | None = None

    def get(self, connection: MarketplaceConnection) -> frozenset[str]:
        if self.ids is None:
            self.ids = refund_ids_awaited(connection=connection)
        return self.ids


#: During a run of the orders, what its connection's requests await.
_awaited: ContextVar[_Awaited | None] = ContextVar("refunds_awaited", default=None)


@contextmanager
def refunds_awaited_once(connection: MarketplaceConnection, resource: str) -> Iterator[None]:
    """A run scope (:func:`core.sync.registry.register_run_scope`): a run of the orders
    reads the refund ids its connection awaits once, at its first page with refunds,
    rather than every such page asking (a run that writes none asks nothing)."""
    if resource != SYNC_RESOURCE_ORDERS:
        yield
        return
    token = _awaited.set(_Awaited(connection.pk))
    try:
        yield
    finally:
        _awaited.reset(token)


class LineRefunds:
    """The OR11 page handler of the refunds app."""

    name = "refunds"

    def prepare(self, order: MiraklOrder, skipped: list[Skipped]) -> dict[str, list[dict]]:
        """The refunds' rows of each line (first occurrence of a line id), storable."""
        rows: dict[str, list[dict[str, Any]]] = {}
        lines: set[str] = set()
        for line in order.order_lines:
            if line.order_line_id in lines:
                continue  # a repeated line: the engine keeps the first and names it
            lines.add(line.order_line_id)
            if not line.refunds:
                continue  # most lines: nothing to keep (``store`` reads a missing line as [])
            line_key = f"{order.order_id}/{line.order_line_id}"
            seen: set[str] = set()
            refunds = rows[line.order_line_id] = []
            for refund in line.refunds:
                if refund.id in seen:
                    skipped.append(
                        Skipped(
                            kind=SkippedRecord.Kind.REFUND,
                            mirakl_id=f"{line_key}/{refund.id}",
                            reason=SkippedRecord.Reason.DUPLICATE,
                            detail=f"refund {refund.id} appears twice on order line "
                            f"{line_key}; the first one was stored",
                            excerpt=excerpt(refund),
                        )
                    )
                    continue
                seen.add(refund.id)
                refunds.append(_REFUND_ROWS.clean(_refund_row(refund)))
        return rows

    def store(
        self,
        *,
        connection: MarketplaceConnection,
        orders: list[StoredOrder],
        known: set[str],
        now: datetime,
    ) -> None:
        refund_rows = []
        for stored in orders:
            prepared = stored.prepared[self.name]
            for line, line_pk in stored.lines:
                for row in prepared.get(line.order_line_id, []):
                    row["line_id"] = line_pk
                    refund_rows.append(row)
        if not refund_rows:
            return
        upsert(
            Refund, refund_rows, unique_fields=["line", "mirakl_id"], update_fields=REFUND_FIELDS
        )
        # Refunds asked for from Incidesk are confirmed once OR11 shows them: within a
        # run, only a page holding an awaited id asks; outside one, one query.
        ids = {r["mirakl_id"] for r in refund_rows}
        awaited = _awaited.get()
        if (
            awaited is not None
            and awaited.connection_id == connection.pk
            and ids.isdisjoint(awaited.get(connection))
        ):
            return
        refund_requests_confirm(connection=connection, mirakl_refund_ids=ids, now=now)
