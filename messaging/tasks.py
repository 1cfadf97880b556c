"""Celery tasks of the messaging app: thin wrappers around its services."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task

from messaging.search import order_search_documents_catch_up

__all__ = ["order_search_documents_task"]


@shared_task(acks_late=True, ignore_result=True)
def order_search_documents_task(connection_id: int, since: str | None = None) -> int:
    """Rebuild the search documents of the orders whose threads a sync run wrote.

    Queued by the threads sync when a run wrote many orders' threads; idempotent.

    :param connection_id: primary key of the MarketplaceConnection.
    :param since: the run's start (ISO 8601): threads written since then; None for all.
    """
    return order_search_documents_catch_up(
        connection_id=connection_id,
        since=datetime.fromisoformat(since) if since else None,
    )
