"""Celery tasks of the sync: thin wrappers around the sync service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db.models import F, Min

from core.models import MarketplaceConnection
from core.sync.locks import SyncLockLost
from core.sync.runner import SyncAlreadyRunning, marketplace_sync

__all__ = ["sync_all_marketplaces_task", "sync_marketplace_task"]

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def sync_all_marketplaces_task() -> int:
    """Queue one sync per active connection (run by beat, every ``SYNC_INTERVAL_SECONDS``).

    Each connection gets its own task, so a slow or failing marketplace never delays or
    stops another one. The least recently synced go first, and a sync still queued when
    the next tick comes expires (that tick queues it again, near the front): when the
    workers fall behind, the queue stays one round long instead of growing, and no
    connection waits behind the same others tick after tick.
    """

    interval = settings.SYNC_INTERVAL_SECONDS
    ids = list(
        MarketplaceConnection.objects.filter(is_active=True)
        .annotate(last_success=Min("sync_cursors__last_success_at"))
        .order_by(F("last_success").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)
    )
    for connection_id in ids:
        sync_marketplace_task.apply_async((connection_id,), expires=interval)
    return len(ids)


@shared_task(bind=True, acks_late=True, ignore_result=True)
def sync_marketplace_task(self, connection_id: int, full: bool = False) -> None:
    """Sync one connection.

    :param connection_id: primary key of the MarketplaceConnection.
    :param full: re-read everything instead of what changed since the last run.
    """

    connection = MarketplaceConnection.objects.filter(pk=connection_id, is_active=True).first()
    if connection is None:  # deleted or disabled while queued
        return
    try:
        marketplace_sync(connection=connection, full=full)
    except SyncAlreadyRunning as exc:
        # Normal while a long sync outlasts a beat interval: its lock is alive only as
        # long as it shows progress, so a dead holder frees it within SYNC_LOCK_TTL.
        logger.info(
            "Sync of %s already running (its lock expires in %s s without progress); skipped",
            connection.code,
            "?" if exc.expires_in is None else f"{exc.expires_in:.0f}",
        )
    except SyncLockLost:
        logger.warning("Sync of %s stopped: another sync took its lock over", connection.code)
