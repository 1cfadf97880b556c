"""The sandbox's mutable world: orders, incidents, refunds, threads, one lock.

``SandboxState`` owns every record and the indexes the endpoints need (orders by creation
with their update dates, and the same for orders with an open incident, in ``orderindex``
sequences; threads by (date_updated, id); lines by id; pending auto-closes), and renders
payloads ahead of the clients (``warm``). All reads and writes go through ``lock``
(re-entrant); the HTTP layer holds it while it builds a response, and the public methods
below take it too, so tests can drive the other parties directly::

    state.open_incident("59123456-A", reason_code="3")
    state.post_message("59123456-A", party="CUSTOMER", body="¿Alguna novedad?")
    state.advance(301)  # resolved incidents whose delay passed are closed

Due auto-closes are processed lazily on every call and request (and by ``tick``).
"""

from __future__ import annotations

from typing import Any

from mirakl.sandbox.clock import format_ms
from mirakl.sandbox.state.core import DEFAULT_ORDER_COUNT
from mirakl.sandbox.state.messages import MAX_THREAD_MESSAGES
from mirakl.sandbox.state.orders import OrdersState
from mirakl.sandbox.state.warmup import WarmUp

__all__ = ["DEFAULT_ORDER_COUNT", "MAX_THREAD_MESSAGES", "SandboxState"]


class SandboxState(OrdersState, WarmUp):
    """Everything the fake marketplace knows, guarded by one re-entrant lock.

    By resource: the records and their indexes, the clock and what falls due
    (``core``), threads and messages (``messages``), incidents (``incidents``), orders
    and OR11's reads (``orders``), and the warm-up (``warmup``).
    """

    def snapshot(self) -> dict[str, Any]:
        """Counts for /_sandbox/state and for tests."""
        with self.lock:
            self.process_due()
            open_lines = 0
            pending = 0
            contested = 0
            for order_id in self.incident_orders:
                for line in self.orders[order_id].lines:
                    incident = line.open_incident
                    if incident is None:
                        continue
                    open_lines += 1
                    if incident.close_due_ms is not None:
                        pending += 1
                    elif incident.contested_ms:
                        contested += 1
            return {
                "now": format_ms(self.now_ms()),
                "shop": {"id": self.shop.shop_id, "name": self.shop.name},
                "orders": len(self.orders),
                "orders_with_incident": len(self.incident_orders),
                "open_incidents": open_lines,
                "resolved_awaiting_close": pending,
                "contested_incidents": contested,
                "threads": len(self.threads),
                "threads_needing_reply": sum(
                    1 for t in self.threads.values() if t.shop_reply_needed_since is not None
                ),
                "messages": self.message_count,
                "attachments": len(self.attachments),
                "payable_balance": float(self.payable_balance),
                "shop_state": self.account.state,
                "documents_uploaded": self.documents.uploaded,
                "documents_deleted": self.documents.deleted,
                "auto_close_seconds": self.auto_close_ms / 1000,
                "faults": self.faults.spec.as_dict(),
                "late_writes": len(self._late),
                "requests": dict(self.stats),
            }

    # -------------------------------------------------- convenience for tests
