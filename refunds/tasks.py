"""Celery tasks of the refunds app: thin wrappers around the delivery services."""

from __future__ import annotations

import random

from celery import shared_task

from mirakl.errors import MiraklRateLimited, MiraklTransientError
from refunds.constants import DELIVERY_MAX_RETRIES

__all__ = ["deliver_pending_refund_requests_task", "deliver_refund_request_task"]

#: Backoff of the delivery retries: 10 s doubling, capped at 15 minutes, with jitter.
_BACKOFF_BASE = 10
_BACKOFF_MAX = 900


def _countdown(retries: int, exc: MiraklTransientError) -> float:
    if isinstance(exc, MiraklRateLimited) and exc.retry_after:
        return exc.retry_after
    step = min(_BACKOFF_MAX, _BACKOFF_BASE * 2**retries)
    return step / 2 + random.uniform(0, step / 2)  # noqa: S311 - jitter, not security


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=DELIVERY_MAX_RETRIES)
def deliver_refund_request_task(self, refund_request_id: int) -> str:
    """Send one refund request to Mirakl (OR28); retried with backoff on transient errors.

    Idempotent: a sent request is skipped, and one whose last attempt may have reached
    Mirakl is looked up there before anything is sent again. When the retries run out
    the request stays queued or in doubt, and the periodic sweep takes it over.

    :param refund_request_id: primary key of the RefundRequest.
    """
    from refunds.services import refund_request_deliver

    try:
        return refund_request_deliver(refund_request_id=refund_request_id).outcome
    except MiraklTransientError as exc:
        if self.request.retries >= self.max_retries:
            return "retry_later"
        raise self.retry(exc=exc, countdown=_countdown(self.request.retries, exc)) from exc


@shared_task(acks_late=True, ignore_result=True)
def deliver_pending_refund_requests_task() -> int:
    """Send refund requests left queued or in doubt for over a minute, oldest first.

    Meant for beat, every minute. Returns how many reached Mirakl.
    """
    from refunds.services import refund_requests_deliver_pending

    return refund_requests_deliver_pending().delivered
