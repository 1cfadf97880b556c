"""The outbox's two Celery tasks: deliver one row, deliver every due row."""

from __future__ import annotations

from celery import shared_task

from core.outbox.engine import BACKOFF_MAX_SECONDS, outbox_deliver, outbox_deliver_pending
from core.outbox.kinds import OutboxKind

__all__ = ["outbox_deliver_pending_task", "outbox_deliver_task"]


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=120, time_limit=150)
def outbox_deliver_task(entry_id: int) -> str:
    """Deliver one outbox row; when it cannot go now, queue itself for its next attempt.

    Idempotent: a row already delivered, held by another worker or not due yet is left
    alone, and one whose last attempt may have arrived is looked up before anything is
    sent again. Waits longer than the backoff cap are left to the periodic task.

    :param entry_id: primary key of the OutboxEntry.
    """

    result = outbox_deliver(entry_id=entry_id)
    if result.retry_in is not None and result.retry_in <= BACKOFF_MAX_SECONDS:
        outbox_deliver_task.apply_async((entry_id,), countdown=result.retry_in)
    return result.outcome


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=540, time_limit=600)
def outbox_deliver_pending_task(kind: int | None = None) -> int:
    """Deliver every due outbox row, oldest first (beat, every minute).

    Catches lost tasks (broker down at commit, worker killed), retries and expired
    leases. Returns how many rows were delivered.

    :param kind: only this :class:`~core.outbox.kinds.OutboxKind` (default: all).
    """

    return outbox_deliver_pending(kind=None if kind is None else OutboxKind(kind)).delivered
