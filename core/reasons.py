"""The marketplace's reasons (Mirakl RE01): synced, cached, and read by every app.

Resolution reasons (incidents), message topics (messaging) and refund reasons
(refunds) all come from the same list, synced as the first resource of every run.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta

from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.cache_ahead import cache_get
from core.constants import SYNC_RESOURCE_REASONS
from core.freshness import inbox_filters_changed
from core.models import MarketplaceConnection, MarketplaceReason
from core.sync.models import SkippedRecord, SyncCursor
from core.sync.registry import Page, RecordSplit, Resource
from core.sync.results import PageResult, Skipped
from core.sync.storable import RowCleaner, Unstorable, excerpt
from mirakl.client import MiraklClient
from mirakl.schemas import Reason

__all__ = [
    "REASONS",
    "connection_reasons",
    "connection_reasons_cache_key",
    "connection_reasons_forget",
    "reason_label",
    "order_reasons",
    "reasons_page_store",
]

#: A safety net only: the reasons sync empties the cache at once.
REASONS_CACHE_SECONDS = 600


def _shop_reasons(connection_id: int) -> QuerySet:
    """The connection's reasons the shop may use (RE01 ``is_shop_right``, or not said)."""
    return MarketplaceReason.objects.filter(connection_id=connection_id).exclude(
        is_shop_right=False
    )


def order_reasons(*, connection_id: int, reason_type: str) -> list[tuple[str, str]]:
    """(code, label) of the reasons of one type the shop may use, read now (services
    check codes against it; pages use the cached :func:`connection_reasons`)."""
    return list(
        _shop_reasons(connection_id)
        .filter(type=reason_type)
        .order_by("code")
        .values_list("code", "label")
    )


def _reasons_cache_key(connection_id: int) -> str:
    return f"incidents:reasons:v1:{connection_id}"


def connection_reasons_cache_key(*, connection_id: int) -> str:
    """The cache entry :func:`connection_reasons` reads (a page reads it ahead)."""
    return _reasons_cache_key(connection_id)


def connection_reasons(*, connection_id: int) -> dict[str, list[tuple[str, str]]]:
    """(code, label) of every reason the shop may use (RE01 ``is_shop_right``), by type:
    what :func:`order_reasons` gives for one type, for all of them in one query.

    Kept in Django's cache (every incident page shows them, only the reasons sync
    changes them: it calls :func:`connection_reasons_forget`)."""
    key = _reasons_cache_key(connection_id)
    cached = cache_get(key)
    if cached is None:
        cached = _connection_reasons(connection_id)
        cache.set(key, cached, REASONS_CACHE_SECONDS)
    return cached


def connection_reasons_forget(*, connection_id: int) -> None:
    """Empty the caches of :func:`connection_reasons` and :func:`reason_label` for one
    connection."""
    cache.delete_many([_reasons_cache_key(connection_id), _labels_cache_key(connection_id)])


def _labels_cache_key(connection_id: int) -> str:
    return f"incidents:reason-labels:v1:{connection_id}"


#: Where a code's label is looked for first: a code may name reasons of several types.
_LABEL_TYPE_ORDER = ("ORDER_MESSAGING", "INCIDENT_CLOSE", "INCIDENT_OPEN", "REFUND")


def reason_label(*, connection_id: int | None, code: str, reason_type: str = "") -> str:
    """The label of a reason ``code`` of the connection, the customer's reasons included
    (a thread the customer opened on RE01 code ``22`` reads "Informar de un problema…");
    ``reason_type`` first when given, then messaging, closing, opening and refund
    reasons. The code itself when the marketplace's list does not have it. Cached with
    :func:`connection_reasons`."""
    if not code or connection_id is None:
        return code or ""
    key = _labels_cache_key(connection_id)
    labels = cache.get(key)
    if labels is None:
        labels = {}
        for reason_type_, reason_code, label in MarketplaceReason.objects.filter(
            connection_id=connection_id
        ).values_list("type", "code", "label"):
            labels[f"{reason_type_}:{reason_code}"] = label
        cache.set(key, labels, REASONS_CACHE_SECONDS)
    for type_ in (reason_type, *_LABEL_TYPE_ORDER) if reason_type else _LABEL_TYPE_ORDER:
        label = labels.get(f"{type_}:{code}")
        if label:
            return label
    other = next((v for k, v in labels.items() if k.endswith(f":{code}") and v), "")
    return other or code


def _connection_reasons(connection_id: int) -> dict[str, list[tuple[str, str]]]:
    reasons: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for reason_type, code, label in (
        _shop_reasons(connection_id).order_by("type", "code").values_list("type", "code", "label")
    ):
        reasons[reason_type].append((code, label))
    return dict(reasons)


_REASON_ROWS = RowCleaner(MarketplaceReason, keys=("type", "code"), deep=True)


def _pages(client: MiraklClient, cursor: SyncCursor) -> Iterator[Page]:
    yield Page(client.list_reasons())


def _records(payload: list[Reason]) -> RecordSplit:
    for reason in payload:
        yield SkippedRecord.Kind.REASON, f"{reason.type}/{reason.code}", [reason], reason


def reasons_page_store(
    connection: MarketplaceConnection, client: MiraklClient, reasons: list[Reason], force: bool
) -> PageResult:
    """Upsert the connection's reasons and empty the caches that list them."""
    result = PageResult()
    known = set(MarketplaceReason.objects.filter(connection=connection).values_list("type", "code"))
    now = timezone.now()
    rows: dict[tuple[str, str], MarketplaceReason] = {}
    for reason in reasons:
        try:
            row = _REASON_ROWS.clean(
                {
                    "type": reason.type,
                    "code": reason.code,
                    "label": reason.label or "",
                    "is_shop_right": reason.is_shop_right,
                }
            )
        except Unstorable as exc:
            result.skipped.append(
                Skipped(
                    kind=SkippedRecord.Kind.REASON,
                    mirakl_id=f"{reason.type}/{reason.code}",
                    reason=exc.reason,
                    detail=str(exc),
                    excerpt=excerpt(reason),
                )
            )
            continue
        rows[(row["type"], row["code"])] = MarketplaceReason(
            connection=connection, synced_at=now, **row
        )
    MarketplaceReason.objects.bulk_create(
        rows.values(),
        update_conflicts=True,
        unique_fields=["connection", "type", "code"],
        update_fields=["label", "is_shop_right", "synced_at"],
    )
    result.created = len(rows.keys() - known)
    result.updated = len(rows) - result.created
    forget = functools.partial(connection_reasons_forget, connection_id=connection.pk)
    forget()
    transaction.on_commit(forget)
    transaction.on_commit(inbox_filters_changed)  # the inbox filters on incident reasons
    return result


def _store(
    connection: MarketplaceConnection,
    client: MiraklClient,
    reasons: list[Reason],
    force: bool,
    prepared: None,
) -> PageResult:
    return reasons_page_store(connection, client, reasons, force)


#: Reason lists change rarely; an incremental run re-reads them at most this often.
REASONS = Resource(
    name=SYNC_RESOURCE_REASONS,
    position=10,
    pages=_pages,
    store=_store,
    records=_records,
    max_age=timedelta(hours=1),
)
