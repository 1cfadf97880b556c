"""Celery tasks of the SLA app: thin wrappers around the services."""

from __future__ import annotations

import requests
from celery import shared_task

__all__ = [
    "sla_alert_email_task",
    "sla_alert_webhook_task",
    "sla_alerts_digest_task",
    "sla_alerts_task",
    "sla_sweep_task",
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


@shared_task(
    bind=True,
    ignore_result=True,
    acks_late=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=60,
    time_limit=75,
)
def sla_alert_email_task(self, delivery_id: int) -> None:
    """Send one e-mail alert (SMTP errors are ``OSError``s and retried).

    :param delivery_id: the :class:`~sla.models.AlertDelivery` to send; nothing
        happens when it was sent already or deleted.
    """
    from sla.alerts import alert_email_send

    alert_email_send(delivery_id=delivery_id)


@shared_task(
    bind=True,
    ignore_result=True,
    acks_late=True,
    autoretry_for=(requests.RequestException,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=60,
    time_limit=75,
)
def sla_alert_webhook_task(self, delivery_id: int) -> None:
    """POST one alert to the marketplace's webhook, retried with backoff on failure.

    :param delivery_id: the :class:`~sla.models.AlertDelivery` to send; nothing
        happens when it was sent already or deleted.
    """
    from sla.alerts import alert_webhook_post

    alert_webhook_post(delivery_id=delivery_id)


@shared_task(ignore_result=True, soft_time_limit=300, time_limit=330)
def sla_alerts_digest_task() -> int:
    """E-mail account managers the daily digest of nearing and breached items (beat)."""
    from sla.alerts import alerts_digest_send

    return alerts_digest_send()
