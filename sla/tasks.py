"""Celery tasks of the SLA app: thin wrappers around the services.

Each task imports its service inside it: the services queue these tasks
(``sla.alerts``, ``sla.health.sync``, the admin), so they import this module, and it
cannot import them back at the top.
"""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)

__all__ = [
    "shop_health_sync_task",
    "shop_health_task",
    "sla_alerts_digest_task",
    "sla_alerts_task",
    "sla_sweep_task",
    "sync_alerts_task",
]


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=55)
def sla_sweep_task(full: bool = False) -> dict[str, int | bool]:
    """Run the SLA sweep (beat, every minute; the entry expires after 60 s).

    Idempotent and guarded by an advisory lock, so a late or duplicate run is harmless.

    :param full: recompute everything and reschedule open items with current policies.
    """
    from sla.services import sla_sweep

    return sla_sweep(full=full).as_dict()


@shared_task(ignore_result=True, acks_late=True, soft_time_limit=120, time_limit=150)
def sla_alerts_task(changes: list[list]) -> None:
    """Record and queue the alerts of items that turned nearing or breached.

    Idempotent (one delivery per item, state, channel and recipient), so a redelivery
    is harmless.

    :param changes: ``[item_id, state]`` pairs from the sweep's signal.
    """
    from sla.alerts import alerts_dispatch

    alerts_dispatch(changes=[(item_id, state) for item_id, state in changes])


@shared_task(ignore_result=True, soft_time_limit=300, time_limit=330)
def sla_alerts_digest_task() -> int:
    """E-mail account managers the daily digest of nearing and breached items (beat)."""
    from sla.alerts import alerts_digest_send

    return alerts_digest_send()


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=55)
def sync_alerts_task() -> int:
    """Alert admins of marketplaces that stopped syncing, and of their recovery (beat,
    every minute; the entry expires after 60 s). Idempotent: one alert per episode.

    :returns: the in-app notifications created.
    """
    from sla.sync_alerts import sync_alerts_dispatch

    return sync_alerts_dispatch().notifications


@shared_task(ignore_result=True, soft_time_limit=300, time_limit=330)
def shop_health_task() -> int:
    """Ask Mirakl the daily figures each active marketplace is due (the gate lets A01 and
    A21 through once a day each), then run the watchdog (beat, every
    ``HEALTH_INTERVAL_SECONDS``). One marketplace failing never stops another.

    :returns: how many crossings were announced.
    """
    from core.models import MarketplaceConnection
    from sla.health.sync import shop_health_sync
    from sla.health.watchdog import health_watch

    for connection in MarketplaceConnection.objects.filter(is_active=True).order_by("pk"):
        try:
            shop_health_sync(connection=connection)
        except Exception:  # a bug for one marketplace must not silence the others
            logger.exception("Shop health sync of %s failed", connection.code)
    return len(health_watch().events)


@shared_task(ignore_result=True, soft_time_limit=120, time_limit=150)
def shop_health_sync_task(connection_id: int) -> None:
    """An admin's "refresh now": ask Mirakl what the gate allows for one marketplace, then
    run the watchdog on it.

    :param connection_id: the marketplace connection.
    """
    from core.models import MarketplaceConnection
    from sla.health.sync import shop_health_sync
    from sla.health.watchdog import health_watch

    connection = MarketplaceConnection.objects.filter(pk=connection_id, is_active=True).first()
    if connection is None:  # deleted or disabled while queued
        return
    shop_health_sync(connection=connection)
    health_watch(connections=[connection])
