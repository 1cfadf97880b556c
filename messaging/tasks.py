"""Celery tasks of the messaging app: thin wrappers around the outbox services."""

from __future__ import annotations

import random

from celery import shared_task

from messaging.constants import DELIVERY_MAX_RETRIES
from mirakl.errors import MiraklRateLimited, MiraklTransientError

__all__ = ["deliver_outbound_message_task", "deliver_pending_outbound_messages_task"]

#: Backoff of the delivery retries: 10 s doubling, capped at 15 minutes, with jitter.
_BACKOFF_BASE = 10
_BACKOFF_MAX = 900


def _countdown(retries: int, exc: MiraklTransientError) -> float:
    if isinstance(exc, MiraklRateLimited) and exc.retry_after:
        return exc.retry_after
    step = min(_BACKOFF_MAX, _BACKOFF_BASE * 2**retries)
    return step / 2 + random.uniform(0, step / 2)


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=DELIVERY_MAX_RETRIES)
def deliver_outbound_message_task(self, outbound_id: int) -> str:
    """Post one outbox message to Mirakl; retried with backoff on transient errors.

    Idempotent: a sent message is skipped, and one whose last attempt may have reached
    Mirakl is looked up there before being posted again.

    :param outbound_id: primary key of the OutboundMessage.
    """
    from messaging.services import outbound_message_deliver

    try:
        return outbound_message_deliver(
            outbound_id=outbound_id, give_up=self.request.retries >= self.max_retries
        ).outcome
    except MiraklTransientError as exc:
        if self.request.retries >= self.max_retries:
            return "failed"
        raise self.retry(exc=exc, countdown=_countdown(self.request.retries, exc)) from exc


@shared_task(acks_late=True, ignore_result=True)
def deliver_pending_outbound_messages_task() -> int:
    """Send what is still queued (after an outage, a lost task), oldest first.

    Meant for beat, every minute. Returns how many messages went out.
    """
    from messaging.services import outbound_messages_deliver_pending

    return outbound_messages_deliver_pending().delivered
