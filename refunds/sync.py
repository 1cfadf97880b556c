"""What the refunds app keeps of each OR11 page: the refunds on its lines.

Registered with the sync engine (:mod:`core.sync.registry`) by the app's
``AppConfig.ready``. A refund that cannot be stored makes its whole order
unstorable (it is skipped and named, as a malformed order field would be); a refund
id that repeats on one line is left out (the first is kept) and named. Refunds asked
for from Incidesk are confirmed once OR11 shows them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from core.bulk import upsert
from core.models import MarketplaceConnection
from core.sync.models import SkippedRecord
from core.sync.orders import money, taxes_rows
from core.sync.registry import StoredOrder
from core.sync.results import Skipped
from core.sync.storable import RowCleaner, excerpt
from mirakl.schemas import LineRefundRecord as LineRefund
from mirakl.schemas import OrderRecord as MiraklOrder
from refunds.delivery import refund_requests_confirm
from refunds.models import Refund

__all__ = ["LineRefunds"]

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
        # Refunds asked for from Incidesk are confirmed once OR11 shows them (one query).
        refund_requests_confirm(
            connection=connection, mirakl_refund_ids={r["mirakl_id"] for r in refund_rows}, now=now
        )
