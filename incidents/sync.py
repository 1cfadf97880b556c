"""What the incidents app keeps of the sync: episodes from OR11 pages, states after runs.

Registered with the sync engine (:mod:`core.sync.registry`) by the app's
``AppConfig.ready``: every OR11 page opens an episode for each line newly in
``INCIDENT_OPEN`` and closes those that left it; after each run of orders or
threads, the open incidents of the orders it touched get their state re-derived
(:func:`incidents.lifecycle.incidents_refresh`). An incident already open on an order
new to us waits for the threads run to be dated from its messages (its opening is
``pending`` until then).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Max

from core.bulk import insert_rows, instance_rows
from core.constants import INCIDENT_LINE_STATE, SYNC_RESOURCE_ORDERS, SYNC_RESOURCE_THREADS
from core.models import MarketplaceConnection
from core.sync.registry import StoredOrder
from core.sync.results import Skipped
from incidents.lifecycle import incident_opened_entry, incident_transition, incidents_refresh
from incidents.models import AuditEntry, Incident
from mirakl.schemas import OrderRecord as MiraklOrder

__all__ = ["IncidentEpisodes", "incidents_after_run"]

Source = Incident.OpeningSource


class IncidentEpisodes:
    """The OR11 page handler of the incidents app."""

    name = "incidents"

    def prepare(self, order: MiraklOrder, skipped: list[Skipped]) -> Any:
        return None  # the lines' states are all it needs, and the engine keeps them

    def store(
        self,
        *,
        connection: MarketplaceConnection,
        orders: list[StoredOrder],
        known: set[str],
        now: datetime,
    ) -> None:
        """Open an episode for each line newly in INCIDENT_OPEN; close those that left it.

        Lines of orders we did not hold before cannot have incidents yet, so only the
        lines of ``known`` orders are looked up. An incident on one of those is already
        open when first seen: its opening is ``pending``, written to the audit log once
        the threads date it.
        """
        lines = [(o.order, line, o.pk, line_pk) for o in orders for line, line_pk in o.lines]
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
            # Already open on an order new to us: the line's last update may be a later
            # change (a resolution, a contest); the order's threads date it (lifecycle).
            source = Source.OBSERVED if order.order_id in known else Source.PENDING
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
                    opening_source=source,
                    created_at=now,
                    updated_at=now,
                )
            )
        if opened:
            stored = insert_rows(
                Incident, instance_rows(opened), returning=("id", "line_id", "episode")
            )
            pks = {(line_id, episode): pk for pk, line_id, episode in stored}
            for new in opened:
                new.pk = pks[(new.line_id, new.episode)]
                new._state.adding = False
                new._state.db = Incident.objects.db
        # A pending opening is told once dated (the audit log is append-only).
        events = [
            incident_opened_entry(incident=incident)
            for incident in opened
            if incident.opening_source == Source.OBSERVED
        ]

        closed: list[Incident] = []
        for order, line, _order_pk, line_pk in lines:
            incident = open_by_line.get(line_pk)
            if incident is None or line.order_line_state == INCIDENT_LINE_STATE:
                continue
            closed_at = max(line.last_updated_date or order.last_updated_date, incident.opened_at)
            if incident.opening_source == Source.PENDING:
                # Closed before its threads were synced: told at the line's date after all.
                events.append(incident_opened_entry(incident=incident, to_state=Incident.State.NEW))
                incident.opening_source = Source.ESTIMATED
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
            Incident.objects.bulk_update(
                closed, ["state", "closed_at", "opening_source", "updated_at"]
            )
        if events:
            insert_rows(AuditEntry, instance_rows(events), returning=("id",))


def incidents_after_run(
    connection: MarketplaceConnection, resource: str, touched: set[int], resumed: bool
) -> None:
    """Re-derive the state of the open incidents of the orders a run touched.

    A resumed run does not know what its crashed predecessor touched, so it
    re-derives every open incident of the connection. After a threads run the pending
    openings are settled, touched or not: the messages that date them are in.
    """
    if resource not in (SYNC_RESOURCE_ORDERS, SYNC_RESOURCE_THREADS):
        return
    if resumed:
        touched = set(
            Incident.objects.filter(connection=connection, closed_at__isnull=True).values_list(
                "order_id", flat=True
            )
        )
    threads = resource == SYNC_RESOURCE_THREADS
    if threads:
        touched = touched | set(
            Incident.objects.filter(
                connection=connection, opening_source=Source.PENDING
            ).values_list("order_id", flat=True)
        )
    incidents_refresh(order_ids=touched, settle_openings=threads)
