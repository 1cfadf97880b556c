"""The skipped records table: what the sync could not store, named for an admin.

The sync writes the records a page skipped in that page's transaction
(:func:`skipped_records_save`), and marks them ``resolved`` once a later page stores the
same record (:func:`skipped_records_resolve`). ``SyncCursor.skipped_open`` keeps the count
of unresolved ones per resource, so a run with nothing skipped never reads this table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from django.db.models import Q

from core.constants import (
    SYNC_RESOURCE_ORDERS,
    SYNC_RESOURCE_REASONS,
    SYNC_RESOURCE_THREADS,
)
from core.models import MarketplaceConnection
from core.sync.models import SkippedRecord
from core.sync.results import Skipped
from core.sync.storable import RowCleaner

__all__ = [
    "RecordKey",
    "record_keys",
    "skipped_open_count",
    "skipped_open_keys",
    "skipped_records_resolve",
    "skipped_records_save",
]

#: (kind, Mirakl id) of a record, as :class:`~core.sync.models.SkippedRecord` names it.
RecordKey = tuple[str, str]

_ROWS = RowCleaner(SkippedRecord, keys=(), deep=True)
Kind = SkippedRecord.Kind


def _key(skipped: Skipped) -> RecordKey:
    if skipped.mirakl_id:
        return skipped.kind, skipped.mirakl_id
    # No id to name it by: what was received names it.
    digest = hashlib.sha1(  # noqa: S324 - a name, not a secret
        f"{skipped.detail}\n{skipped.excerpt}".encode("utf-8", "replace")
    ).hexdigest()[:12]
    return skipped.kind, f"#{digest}"


def skipped_records_save(
    *,
    connection: MarketplaceConnection,
    resource: str,
    skipped: Sequence[Skipped],
    now: datetime,
) -> set[RecordKey]:
    """Record (or record again) what a page skipped; returns their keys."""
    rows: dict[RecordKey, SkippedRecord] = {}
    for item in skipped:
        kind, mirakl_id = _key(item)
        row = _ROWS.clean(
            {
                "kind": kind,
                "mirakl_id": mirakl_id,
                "reason": item.reason,
                "detail": item.detail,
                "excerpt": item.excerpt,
            }
        )
        rows[(kind, mirakl_id)] = SkippedRecord(
            connection=connection,
            resource=resource,
            first_seen_at=now,
            seen_at=now,
            **row,
        )
    SkippedRecord.objects.bulk_create(
        rows.values(),
        update_conflicts=True,
        unique_fields=["connection", "resource", "kind", "mirakl_id"],
        update_fields=["reason", "detail", "excerpt", "seen_at", "resolved_at"],
    )
    return {(r.kind, r.mirakl_id) for r in rows.values()}


def skipped_open_keys(*, connection: MarketplaceConnection, resource: str) -> set[RecordKey]:
    """Keys of the records of this resource skipped and not stored since."""
    return set(
        SkippedRecord.objects.filter(
            connection=connection, resource=resource, resolved_at__isnull=True
        ).values_list("kind", "mirakl_id")
    )


def skipped_open_count(*, connection: MarketplaceConnection, resource: str) -> int:
    """How many records of this resource were skipped and not stored since."""
    return SkippedRecord.objects.filter(
        connection=connection, resource=resource, resolved_at__isnull=True
    ).count()


def skipped_records_resolve(
    *,
    connection: MarketplaceConnection,
    resource: str,
    keys: Iterable[RecordKey],
    now: datetime,
) -> int:
    """Mark these records stored at ``now``; returns how many were open."""
    condition = Q()
    for kind, mirakl_id in keys:
        condition |= Q(kind=kind, mirakl_id=mirakl_id)
    if not condition:
        return 0
    return SkippedRecord.objects.filter(
        condition, connection=connection, resource=resource, resolved_at__isnull=True
    ).update(resolved_at=now)


def record_keys(resource: str, payload: object) -> Iterator[RecordKey]:
    """The keys of every record of a page, as a skipped one of them would be named."""
    if resource == SYNC_RESOURCE_ORDERS:
        for order in payload.orders:  # type: ignore[attr-defined]
            yield Kind.ORDER, order.order_id
            for line in order.order_lines:
                line_key = f"{order.order_id}/{line.order_line_id}"
                yield Kind.LINE, line_key
                for refund in line.refunds:
                    yield Kind.REFUND, f"{line_key}/{refund.id}"
    elif resource == SYNC_RESOURCE_THREADS:
        for thread in payload.data:  # type: ignore[attr-defined]
            yield Kind.THREAD, thread.id
            for message in thread.messages:
                yield Kind.MESSAGE, f"{thread.id}/{message.id}"
    elif resource == SYNC_RESOURCE_REASONS:
        for reason in payload:  # type: ignore[attr-defined]
            yield Kind.REASON, f"{reason.type}/{reason.code}"
