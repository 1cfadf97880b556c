"""The Celery application; tasks are discovered in each app's ``tasks`` module."""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("incidesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

__all__ = ["app"]


@worker_ready.connect
def _sync_on_start(sender, **kwargs) -> None:
    from django.conf import settings

    if settings.SYNC_ON_WORKER_START:
        sender.app.send_task("core.sync.tasks.sync_all_marketplaces_task")
        # Mirakl's daily figures (A01, A21): asked now if a day has passed (the gate).
        sender.app.send_task("sla.tasks.shop_health_task")
