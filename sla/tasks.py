"""Celery tasks of the SLA app: thin wrappers around the services."""

from __future__ import annotations

from celery import shared_task

__all__ = ["sla_sweep_task"]


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=55)
def sla_sweep_task(full: bool = False) -> dict[str, int | bool]:
    """Run the SLA sweep (beat, every minute; the entry expires after 60 s).

    Idempotent and guarded by an advisory lock, so a late or duplicate run is harmless.

    :param full: recompute everything and reschedule open items with current policies.
    """
    from sla.services import sla_sweep

    return sla_sweep(full=full).as_dict()
