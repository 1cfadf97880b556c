"""Reads of the incidents app."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count

from incidents.models import Incident, MarketplaceConnection, Order, SyncCursor

__all__ = ["ConnectionOverview", "connections_overview"]


@dataclass(slots=True)
class ConnectionOverview:
    """What the overview shows of one connection."""

    connection: MarketplaceConnection
    orders: int = 0
    open_incidents: dict[str, int] = field(default_factory=dict)
    threads_waiting: int = 0
    cursors: list[SyncCursor] = field(default_factory=list)

    @property
    def open_total(self) -> int:
        return sum(self.open_incidents.values())

    @property
    def state_counts(self) -> list[tuple[str, str, int]]:
        """(state, label, count) for every state an open incident can be in."""
        return [
            (state, str(label), self.open_incidents.get(state, 0))
            for state, label in Incident.State.choices
            if state != Incident.State.CLOSED
        ]

    @property
    def last_synced_at(self) -> datetime | None:
        times = [c.last_success_at for c in self.cursors if c.last_success_at]
        return min(times) if times else None

    @property
    def errors(self) -> list[SyncCursor]:
        return [c for c in self.cursors if c.last_error]


def connections_overview() -> list[ConnectionOverview]:
    """Every active connection with its counts, in five queries whatever the data size."""
    from messaging.models import Thread

    overviews = {
        c.pk: ConnectionOverview(connection=c)
        for c in MarketplaceConnection.objects.filter(is_active=True).order_by("name")
    }
    for row in (
        Order.objects.filter(connection__in=overviews)
        .values("connection")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        overviews[row["connection"]].orders = row["n"]
    by_state: dict[int, dict[str, int]] = defaultdict(dict)
    for row in (
        Incident.objects.filter(connection__in=overviews, closed_at__isnull=True)
        .values("connection", "state")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        by_state[row["connection"]][row["state"]] = row["n"]
    for pk, states in by_state.items():
        overviews[pk].open_incidents = states
    for row in (
        Thread.objects.filter(connection__in=overviews, shop_reply_needed_since__isnull=False)
        .values("connection")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        overviews[row["connection"]].threads_waiting = row["n"]
    for cursor in SyncCursor.objects.filter(connection__in=overviews).order_by("resource"):
        overviews[cursor.connection_id].cursors.append(cursor)
    return list(overviews.values())
