"""Orders: OR11's selections and pages, and orders that arrive after seeding."""

from __future__ import annotations

import json
from typing import Any

from mirakl.sandbox.conversations import INCIDENT_SCRIPTS
from mirakl.sandbox.models import (
    Order,
)
from mirakl.sandbox.seed import DAY, HOUR
from mirakl.sandbox.state.incidents import IncidentsState
from mirakl.sandbox.wire import ApiError

__all__ = ["OrdersState"]

_SELECTION_CACHE_SIZE = 8
_CREATABLE_STATES = frozenset({"SHIPPING", "SHIPPED", "RECEIVED", "WAITING_ACCEPTANCE"})


class OrdersState(IncidentsState):
    """New orders (optionally with an incident) and OR11's reads."""

    def create_order(
        self,
        *,
        with_incident: bool = False,
        reason_code: str = "3",
        state: str = "RECEIVED",
    ) -> dict[str, Any]:
        """A new order (received a day or so ago, updated now), optionally with an incident.

        With an incident, the customer first writes about the problem, then the operator's
        incident notice follows, as in the seeded data.
        """
        with self.lock:
            self.process_due()
            if state not in _CREATABLE_STATES:
                raise ApiError(400, f"Cannot create an order in state {state}")
            gen = self.generator
            now = self.now_ms()
            timeline = gen.timeline(state, now - gen.rng.randint(HOUR, DAY))
            timeline.last = now
            order = gen.make_order(state, timeline)
            order.touch(now)
            self._register_order(order)  # indexed with its final last_updated_date
            result: dict[str, Any] = {
                "order_id": order.order_id,
                "order_state": order.state,
                "line_ids": [line.line_id for line in order.lines],
            }
            if with_incident:
                script = INCIDENT_SCRIPTS.get(str(reason_code))
                if script is None:
                    raise ApiError(
                        400, f"Reason code '{reason_code}' is not an INCIDENT_OPEN reason"
                    )
                line = order.lines[0]
                ctx = self._context(order, line, str(reason_code))
                thread = gen.new_thread(order, script.topic_type, script.topic_value, now)
                self.register_thread(thread)
                party, to, template, _ = script.steps[0]
                self.post(thread, party, to, template.format(**ctx))
                result["incident"] = self.open_incident(
                    order.order_id, line.line_id, str(reason_code)
                )
            return result

    def order_page(
        self,
        *,
        order_ids: list[str] | None = None,
        states: set[str] | None = None,
        has_incident: bool | None = None,
        created_from: int | None = None,
        created_to: int | None = None,
        updated_from: int | None = None,
        updated_to: int | None = None,
        descending: bool = False,
        offset: int = 0,
        size: int | None = None,
    ) -> tuple[int, list[Order]]:
        """One OR11 page: (total matching, ``size`` orders from ``offset``). Caller holds lock.

        Orders are in (created, order_id) order, reversed with ``descending``; ``size=None``
        returns every match. Creation and update ranges, alone or with
        ``has_incident=true``, are answered by the order sequences without touching the
        other orders (see orderindex); other filters (ids, states, has_incident=false)
        build the full selection once and keep it until an order changes.
        """
        if order_ids is None and states is None and has_incident is not False:
            sequence = self.incident_seq if has_incident else self.order_seq
            return sequence.window(
                created_from=created_from,
                created_to=created_to,
                updated_from=updated_from,
                updated_to=updated_to,
                offset=offset,
                size=size,
                descending=descending,
            )
        selection = self._selection(
            order_ids, states, has_incident, created_from, created_to, updated_from, updated_to
        )
        total = len(selection)
        if size is None:
            page = selection[::-1] if descending else selection[:]
        elif descending:
            page = selection[max(0, total - offset - size) : max(0, total - offset)][::-1]
        else:
            page = selection[offset : offset + size]
        return total, page

    def select_orders(self, *, descending: bool = False, **filters: Any) -> list[Order]:
        """Every order matching OR11's filters (see ``order_page``). Caller holds lock."""
        return self.order_page(descending=descending, **filters)[1]

    def _selection(
        self,
        order_ids: list[str] | None,
        states: set[str] | None,
        has_incident: bool | None,
        created_from: int | None,
        created_to: int | None,
        updated_from: int | None,
        updated_to: int | None,
    ) -> list[Order]:
        """The orders matching filters the sequences do not answer alone, ascending."""
        if order_ids is not None:
            found = {self.orders[i] for i in order_ids if i in self.orders}
            candidates = sorted(found, key=lambda o: (o.created_ms, o.order_id))
            return [
                order
                for order in candidates
                if (states is None or order.state in states)
                and (
                    has_incident is None or (order.order_id in self.incident_orders) == has_incident
                )
                and _within(order.created_ms, created_from, created_to)
                and _within(order.updated_ms, updated_from, updated_to)
            ]
        if self._selections_version != self.order_version:
            self._selections.clear()
            self._selections_version = self.order_version
        key = (
            None if states is None else frozenset(states),
            has_incident,
            created_from,
            created_to,
            updated_from,
            updated_to,
        )
        cached = self._selections.get(key)
        if cached is not None:
            return cached
        sequence = self.incident_seq if has_incident else self.order_seq
        _, candidates = sequence.window(
            created_from=created_from,
            created_to=created_to,
            updated_from=updated_from,
            updated_to=updated_to,
        )
        incident_orders = self.incident_orders
        selection = [
            order
            for order in candidates
            if (states is None or order.state in states)
            and (has_incident is not False or order.order_id not in incident_orders)
        ]
        if len(self._selections) >= _SELECTION_CACHE_SIZE:
            del self._selections[next(iter(self._selections))]
        self._selections[key] = selection
        return selection

    def order_payload(self, order_id: str) -> dict[str, Any]:
        with self.lock:
            self.process_due()
            payload: dict[str, Any] = json.loads(self.renderer.order_json(self.get_order(order_id)))
            return payload

    def open_incidents(self) -> list[tuple[str, str]]:
        """(order_id, line_id) of every INCIDENT_OPEN line, in order creation order."""
        with self.lock:
            self.process_due()
            return [
                (order.order_id, line.line_id)
                for order in self.select_orders(has_incident=True)
                for line in order.lines
                if line.state == "INCIDENT_OPEN"
            ]


def _within(value: int, low: int | None, high: int | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)
