"""What the two outboxes (replies, refunds) share: delivering leftovers in order.

Each outbox stores a write before it is sent and has its own ``deliver`` service for one
row. After an outage the periodic task hands the leftovers, oldest first, to
:func:`deliver_in_order`, which keeps one Mirakl client per marketplace and keeps the
order within a group (a thread's replies, an order's refunds): once a row of a group
fails for now, the group's later rows wait for the next run.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from django.utils import timezone

from mirakl.client import MiraklClient
from mirakl.errors import MiraklTransientError

__all__ = ["ClientFactory", "PendingResult", "deliver_in_order"]

ClientFactory = Callable[[Any], MiraklClient]


class _Delivery(Protocol):
    outcome: str


@dataclass(slots=True)
class PendingResult:
    """What a run over the leftovers did: how many rows ended in each outcome."""

    outcomes: dict[str, int] = field(default_factory=dict)
    errors: int = 0

    @property
    def delivered(self) -> int:
        return self.outcomes.get("sent", 0) + self.outcomes.get("found", 0)


def deliver_in_order(
    candidates: Iterable[tuple[int, int | None]],
    deliver: Callable[[int, ClientFactory, datetime], _Delivery],
    *,
    client_factory: ClientFactory | None = None,
    stop_group_on: Collection[str] = (),
) -> PendingResult:
    """Deliver ``(pk, group)`` rows in the given order with ``deliver(pk, factory, now)``.

    A transient Mirakl error, or an outcome in ``stop_group_on``, holds back the later
    rows of that group (``None``: a group of its own) for this run, not the others.
    """
    result = PendingResult()
    stopped: set[int] = set()
    clients: dict[int, MiraklClient] = {}

    def factory(connection: Any) -> MiraklClient:
        if connection.pk not in clients:
            from incidents.clients import client_for

            clients[connection.pk] = (client_factory or client_for)(connection)
        return clients[connection.pk]

    try:
        for pk, group in candidates:
            if group is not None and group in stopped:
                continue
            try:
                delivery = deliver(pk, factory, timezone.now())
            except MiraklTransientError:
                result.errors += 1
                if group is not None:
                    stopped.add(group)
                continue
            result.outcomes[delivery.outcome] = result.outcomes.get(delivery.outcome, 0) + 1
            if delivery.outcome in stop_group_on and group is not None:
                stopped.add(group)
    finally:
        for client in clients.values():
            client.close()
    return result
