"""Celery tasks of the bottom floor (Django's task discovery reads this module)."""

from core.outbox.tasks import outbox_deliver_pending_task, outbox_deliver_task
from core.sync.tasks import sync_all_marketplaces_task, sync_marketplace_task

__all__ = [
    "outbox_deliver_pending_task",
    "outbox_deliver_task",
    "sync_all_marketplaces_task",
    "sync_marketplace_task",
]
