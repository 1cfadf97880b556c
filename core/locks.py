"""Postgres advisory locks: one registry of keys, one way to take them (Saleor's
``core/db/locks.py``).

Keys are database-wide: two jobs that must never overlap share a key, and a key is
never reused for another job nor renumbered (a worker of the previous release may
still hold it during a deploy). Add new keys at the end with a new number.

Elsewhere than Postgres (the embedded SQLite demo) there are no advisory locks: the
transaction's own write lock serialises the jobs instead, and these functions let
them through.
"""

from __future__ import annotations

from enum import IntEnum, unique

from django.db import connection

__all__ = ["AdvisoryLock", "advisory_xact_lock", "try_advisory_xact_lock"]


@unique
class AdvisoryLock(IntEnum):
    """Every advisory lock key of the product. Never reuse or renumber a value."""

    #: The SLA sweep (``sla.services.sla_sweep``): two sweeps never overlap.
    SLA_SWEEP = 1743827167
    #: Recording SLA alerts (``sla.alerts.alerts_dispatch``): each alert once.
    SLA_ALERTS = 690914572
    #: Opening and closing sync alert episodes (``sla.sync_alerts.sync_alerts_dispatch``).
    SYNC_ALERTS = 287130649
    #: The shop health watchdog (``sla.health.watchdog.health_watch``): each crossing once.
    SHOP_HEALTH = 3921532300


def advisory_xact_lock(key: AdvisoryLock) -> None:
    """Wait for ``key`` and hold it until the current transaction ends."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int(key)])


def try_advisory_xact_lock(key: AdvisoryLock) -> bool:
    """Take ``key`` until the current transaction ends if nobody holds it; False if
    another transaction does."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [int(key)])
        (locked,) = cursor.fetchone()
    return bool(locked)
