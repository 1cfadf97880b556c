"""The SLA sweep: keep one :class:`~sla.models.SlaItem` per wait, flag and record breaches.

Each run, under a Postgres advisory lock (two sweeps never overlap) and in one
transaction:

a. *Recompute* what changed since the last run: incidents whose ``updated_at`` moved,
   threads whose ``synced_at`` moved or that got messages with a higher id (and the
   incidents of their orders). The clock rules (``sla.clock``) give the waits; rows
   are created for new waits, stopped when the wait ended, and ``withdrawn`` when the
   facts no longer show them. The first run (and ``full=True``) reads everything.
b. *Flag* running items whose thresholds passed with two ``UPDATE … WHERE …
   RETURNING`` statements: nothing else is written for items that did not change.
c. *Record breaches*: one :class:`~sla.models.SlaBreach` per item, ever
   (``INSERT … SELECT … ON CONFLICT (item_id) DO NOTHING`` on a one-to-one key),
   answered when the item stops later.

d. *The queue*: the rows of the orders read again in (a) are written again
   (:mod:`sla.queue`).

A re-run with nothing new reads only the rows changed within the overlap before the
last change it saw, finds them unchanged, and writes nothing. The items
that turned nearing or breached are returned and sent with the
:data:`sla.signals.sla_state_changed` signal after the transaction (alerts hook there).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

from core.collector import collector_paused
from core.freshness import inbox_changed
from core.locks import AdvisoryLock, try_advisory_xact_lock
from core.models import MarketplaceConnection
from sla.alerts import incident_watch_notify
from sla.kpis import kpis_stamp_bump
from sla.models import Notification, SlaItem
from sla.policies import rule_for
from sla.queue import queue_entries_refresh, queue_orders_of
from sla.signals import sla_state_changed
from sla.sweep import Sweep, SweepResult
from sla.watch import close_overdue_flag

__all__ = [
    "sla_deadline_compute",
    "sla_sweep",
]

logger = logging.getLogger(__name__)

State = SlaItem.State
Kind = SlaItem.Kind


def sla_deadline_compute(*, connection: MarketplaceConnection, at: datetime) -> datetime:
    """When a message received at ``at`` must be answered, in the policy's time zone."""
    return rule_for(connection).due(at)


def sla_sweep(*, now: datetime | None = None, full: bool = False) -> SweepResult:
    """Bring the SLA items up to date at ``now`` (see the module docstring).

    :param full: recompute every incident and thread, and reschedule open items with
        the current policies (after a policy or calendar change).
    """
    # In UTC: Python compares datetimes of one zone by wall time, ignoring DST folds.
    now = (now or timezone.now()).astimezone(UTC)
    with collector_paused(), transaction.atomic():
        if not _try_lock():
            logger.info("SLA sweep already running; skipped")
            return SweepResult(skipped=True)
        result = SweepResult()
        sweep = Sweep(now=now, full=full, result=result)
        sweep.recompute()
        sweep.flag_thresholds()
        sweep.record_breaches()
        overdue = close_overdue_flag(now=now)
        result.close_overdue = len(overdue)
        incident_watch_notify(incidents=overdue, kind=Notification.Kind.CLOSE_OVERDUE, now=now)
        queued = _queue_refresh(sweep, now)
    # The review page's KPIs are kept until a sweep has run (sla.kpis.kpis_cached).
    kpis_stamp_bump()
    if result.changes:
        sla_state_changed.send(sender=SlaItem, changes=result.changes, now=now)
    counts = result.as_dict()
    quiet = not queued and not any(v for k, v in counts.items() if not k.startswith("scanned"))
    if not quiet:
        inbox_changed()
    logger.log(logging.DEBUG if quiet else logging.INFO, "SLA sweep: %s", counts)
    return result


def _queue_refresh(sweep: Sweep, now: datetime) -> int:
    """The queue's rows of the orders the sweep read again (all of them on a first or
    full sweep: the migration that made the queue asks for one). Returns how many rows
    were written."""
    if sweep.read_all:
        return queue_entries_refresh(now=now)
    orders = queue_orders_of(incident_ids=sweep.incident_ids, thread_ids=sweep.thread_ids)
    return queue_entries_refresh(order_ids=orders, now=now) if orders else 0


def _try_lock() -> bool:
    """Take the sweep's transaction-scoped advisory lock (Postgres only).

    Elsewhere (the embedded SQLite demo) the transaction's write lock serialises
    sweeps instead.
    """
    if not try_advisory_xact_lock(AdvisoryLock.SLA_SWEEP):
        return False
    if db_connection.vendor == "postgresql":
        with db_connection.cursor() as cursor:
            # The candidate queries' correlated subqueries have high cost estimates,
            # which trigger JIT compilation that takes longer than running them.
            cursor.execute("SET LOCAL jit = off")
    return True
