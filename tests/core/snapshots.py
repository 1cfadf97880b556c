"""A comparable picture of everything the sync writes, for idempotency tests."""

from __future__ import annotations

from typing import Any

from core.models import MarketplaceReason, Order, OrderLine
from incidents.models import Incident
from messaging.models import Message, Thread
from refunds.models import Refund


def db_snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every synced row, keyed by Mirakl ids, without our own timestamps."""
    return {
        "orders": sorted(
            Order.objects.values_list(
                "connection__code",
                "mirakl_id",
                "state",
                "total_price",
                "has_incident",
                "fully_refunded",
                "last_updated_date",
            )
        ),
        "lines": sorted(
            OrderLine.objects.values_list(
                "order__mirakl_id", "mirakl_id", "state", "price", "shipping_price", "can_refund"
            )
        ),
        "refunds": sorted(
            Refund.objects.values_list(
                "line__order__mirakl_id", "line__mirakl_id", "mirakl_id", "amount", "state"
            )
        ),
        "incidents": sorted(
            Incident.objects.values_list(
                "order__mirakl_id",
                "line__mirakl_id",
                "episode",
                "state",
                "reason_code",
                "opened_at",
                "closed_at",
            )
        ),
        "threads": sorted(
            Thread.objects.values_list(
                "mirakl_id",
                "order__mirakl_id",
                "date_updated",
                "shop_reply_needed_since",
                "message_count",
            )
        ),
        "messages": sorted(
            Message.objects.values_list(
                "thread__mirakl_id", "mirakl_id", "author_type", "body", "date_created"
            )
        ),
        "reasons": sorted(MarketplaceReason.objects.values_list("type", "code", "label")),
    }


def audit_log_truncate() -> None:
    """Empty the append-only audit log (TRUNCATE fires no row trigger), so a test can
    delete the synced rows it protects and sync again into an empty database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE incidents_auditentry")
