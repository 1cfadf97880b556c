"""Writing M11 thread pages into Postgres: threads and their messages.

M11 with ``with_messages=true`` carries only the last 100 messages of a thread; when
a thread has more than we hold and than the page carries, the whole thread is read
with M10. Messages are never rewritten: Mirakl does not edit them, so a message id
we already hold is left alone. Threads and messages are made storable first
(:mod:`core.sync.storable`): one that cannot be is skipped and named, and a message that
could not be read costs that message only. The search documents of the orders a run
wrote are rebuilt once the run ends (:func:`threads_after_run`), not page by page.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.utils import timezone

from core.bulk import by_keys_sql, upsert, values_by_keys
from core.constants import SYNC_RESOURCE_ORDERS, SYNC_RESOURCE_THREADS
from core.freshness import inbox_changed
from core.models import MarketplaceConnection, Order
from core.sync.models import SkippedRecord, SyncCursor
from core.sync.registry import Page, RecordSplit, Resource
from core.sync.results import PageResult, Skipped
from core.sync.storable import RowCleaner, Unstorable, excerpt
from messaging.models import Message, Thread
from messaging.search import INLINE_REFRESH_MAX, order_search_documents_refresh
from messaging.tasks import order_search_documents_task
from mirakl.client import MiraklClient
from mirakl.schemas import MessageRecord as MiraklMessage
from mirakl.schemas import ThreadRecord as MiraklThread
from mirakl.schemas import ThreadRecordPage, record_json

__all__ = [
    "THREADS",
    "PreparedThreads",
    "orphan_threads_link",
    "search_documents_follow",
    "threads_after_run",
    "threads_page_prepare",
    "threads_page_store",
]

logger = logging.getLogger(__name__)

ORDER_ENTITY = "MMP_ORDER"

THREAD_FIELDS = [
    "order",
    "entity_type",
    "entity_id",
    "topic_type",
    "topic_value",
    "date_created",
    "date_updated",
    "authorized_participants",
    "current_participants",
    "last_message_at",
    "message_count",
    "shop_reply_needed_since",
    "last_sender_type",
    "last_sender_name",
    "no_store_reply_needed",
    "synced_at",
]


_THREAD_ROWS = RowCleaner(Thread)
_MESSAGE_ROWS = RowCleaner(Message)


def _thread_row(
    connection_id: int,
    thread: MiraklThread,
    order_pk: int | None,
    now: datetime,
) -> dict[str, Any]:
    entity = next((e for e in thread.entities if e.type == ORDER_ENTITY), None)
    entity = entity or (thread.entities[0] if thread.entities else None)
    meta = thread.metadata
    last_sender = meta.last_sender if meta else None
    return dict(
        connection_id=connection_id,
        mirakl_id=thread.id,
        order_id=order_pk,
        entity_type=entity.type if entity else "",
        entity_id=entity.id if entity else "",
        topic_type=thread.topic.type if thread.topic else "",
        topic_value=thread.topic.value if thread.topic else "",
        date_created=thread.date_created,
        date_updated=thread.date_updated,
        # Participants and attachments are kept as they are: encoded without their
        # missing fields (ParticipantRecord, AttachmentRecord).
        authorized_participants=thread.authorized_participants,
        current_participants=thread.current_participants,
        last_message_at=meta.last_message_date if meta else None,
        message_count=(meta.total_count or 0) if meta else len(thread.messages),
        shop_reply_needed_since=meta.shop_reply_needed_since if meta else None,
        last_sender_type=last_sender.party if last_sender else "",
        last_sender_name=(last_sender.display_name or "") if last_sender else "",
        no_store_reply_needed=[record_json(n) for n in thread.no_store_reply_needed],
        synced_at=now,
    )


def _message_row(thread_pk: int | None, message: MiraklMessage) -> dict[str, Any]:
    return dict(
        thread_id=thread_pk,
        mirakl_id=message.id,
        author_type=message.from_.party,
        author_role=message.from_.type,
        author_name=message.from_.display_name or "",
        recipients=message.to,
        body=message.body or "",
        date_created=message.date_created,
        attachments=message.attachments,
    )


@dataclass(slots=True)
class _Rows:
    """A thread's row and its messages' rows, made storable (or why not), their keys
    (the thread's, its order's) still to be set."""

    thread: MiraklThread
    row: dict[str, Any] | Unstorable
    messages: list[tuple[MiraklMessage, dict[str, Any] | Unstorable]]


@dataclass(slots=True)
class PreparedThreads:
    """An M11 page's threads made storable ahead of the write (:func:`threads_page_prepare`),
    by Mirakl id, and the instant their rows say they were synced."""

    now: datetime
    threads: dict[str, _Rows]


def _clean(cleaner: RowCleaner, row: dict[str, Any]) -> dict[str, Any] | Unstorable:
    try:
        return cleaner.clean(row)
    except Unstorable as exc:
        return exc


def _rows(connection_id: int, thread: MiraklThread, now: datetime) -> _Rows:
    return _Rows(
        thread=thread,
        row=_clean(_THREAD_ROWS, _thread_row(connection_id, thread, None, now)),
        messages=[
            (message, _clean(_MESSAGE_ROWS, _message_row(None, message)))
            for message in thread.messages
        ],
    )


def threads_page_prepare(
    connection_id: int, page: ThreadRecordPage, now: datetime | None = None
) -> PreparedThreads:
    """Every thread of an M11 page and its messages made storable, as
    :func:`threads_page_store` would, without the database: the sync does it while the
    page before is being written (a thread read again in full with M10 is prepared then).
    """
    now = now or timezone.now()
    by_id = {thread.id: thread for thread in page.data}
    return PreparedThreads(
        now=now,
        threads={
            mirakl_id: _rows(connection_id, thread, now) for mirakl_id, thread in by_id.items()
        },
    )


def threads_page_store(
    *,
    connection: MarketplaceConnection,
    page: ThreadRecordPage,
    client: MiraklClient,
    force: bool = False,
    now: datetime | None = None,
    prepared: PreparedThreads | None = None,
) -> PageResult:
    """Write one M11 page (reading long threads in full with M10). Run it in a transaction.

    Every thread and message is made storable first (:mod:`core.sync.storable`); one
    that cannot be is skipped and named in the result, and the others are written. A
    message that could not be read costs only that message.

    :param prepared: the page's threads made storable already
        (:func:`threads_page_prepare`); their rows say they were synced when that ran.
    """
    now = now or (prepared.now if prepared is not None else timezone.now())
    result = PageResult()
    for invalid in page.invalid:
        logger.warning(
            "Skipped a malformed thread from %s: id=%s error=%s",
            connection.code,
            invalid.id,
            invalid.error,
        )
        result.skipped.append(
            Skipped(
                kind=SkippedRecord.Kind.THREAD,
                mirakl_id=invalid.id,
                reason=SkippedRecord.Reason.UNREADABLE,
                detail=invalid.error,
                excerpt=excerpt(invalid.raw),
            )
        )

    # A repeated thread id keeps its last occurrence (the later state).
    by_id = {thread.id: thread for thread in page.data}
    if not by_id:
        return result
    known, order_pks, asked = _page_keys(connection, list(by_id.values()))
    to_write: list[MiraklThread] = []
    for mirakl_id, thread in by_id.items():
        if not force and mirakl_id in known and known[mirakl_id][1] == thread.date_updated:
            result.unchanged += 1
            continue
        to_write.append(thread)
    if not to_write:
        return result

    held = dict(
        Message.objects.filter(thread_id__in=[known[t.id][0] for t in to_write if t.id in known])
        .values("thread_id")
        .annotate(n=Count("pk"))
        .values_list("thread_id", "n")
    )
    for index, thread in enumerate(to_write):
        total = thread.metadata.total_count if thread.metadata else None
        carried = len(thread.messages) + len(thread.invalid_messages)
        have = held.get(known[thread.id][0], 0) if thread.id in known else 0
        if total and total > carried and total - have > carried:
            to_write[index] = client.get_thread_record(thread.id)

    order_ids = {t.order_id for t in to_write if t.order_id}
    if order_ids - asked:  # a thread read again with M10 is about another order now
        order_pks |= dict(_order_keys(connection, order_ids - asked))
    order_pks = {mirakl_id: order_pks[mirakl_id] for mirakl_id in order_ids & set(order_pks)}
    ready = prepared.threads if prepared is not None else {}
    rows: list[dict[str, Any]] = []
    storable: list[_Rows] = []
    for thread in to_write:
        prepared_rows = ready.get(thread.id)
        if prepared_rows is None or prepared_rows.thread is not thread:
            prepared_rows = _rows(connection.pk, thread, now)
        row = prepared_rows.row
        if isinstance(row, Unstorable):
            exc = row
            logger.warning("Skipped thread %s from %s: %s", thread.id, connection.code, exc)
            result.skipped.append(
                Skipped(
                    kind=SkippedRecord.Kind.THREAD,
                    mirakl_id=thread.id,
                    reason=exc.reason,
                    detail=str(exc),
                    excerpt=excerpt(thread),
                )
            )
            continue
        # The order's key, known now, is in range: the row stays storable.
        row["order_id"] = order_pks.get(thread.order_id or "")
        rows.append(row)
        storable.append(prepared_rows)
        if thread.id in known:
            result.updated += 1
        else:
            result.created += 1
    if not storable:
        return result
    inbox_changed()  # once committed; not for a page read again unchanged
    stored = upsert(
        Thread,
        rows,
        unique_fields=["connection", "mirakl_id"],
        update_fields=THREAD_FIELDS,
        returning=("id", "mirakl_id"),
    )
    thread_pks = {mirakl_id: pk for pk, mirakl_id in stored}

    # Messages are immutable in Mirakl: insert the ones we do not hold, leave the rest.
    messages: dict[tuple[int, str], dict[str, Any]] = {}
    for prepared_rows in storable:
        thread = prepared_rows.thread
        thread_pk = thread_pks[thread.id]
        for invalid in thread.invalid_messages:
            result.skipped.append(
                Skipped(
                    kind=SkippedRecord.Kind.MESSAGE,
                    mirakl_id=f"{thread.id}/{invalid.id}" if invalid.id else None,
                    reason=SkippedRecord.Reason.UNREADABLE,
                    detail=invalid.error,
                    excerpt=excerpt(invalid.raw),
                )
            )
        for message, message_row in prepared_rows.messages:
            if isinstance(message_row, Unstorable):
                exc = message_row
                result.skipped.append(
                    Skipped(
                        kind=SkippedRecord.Kind.MESSAGE,
                        mirakl_id=f"{thread.id}/{message.id}",
                        reason=exc.reason,
                        detail=str(exc),
                        excerpt=excerpt(message),
                    )
                )
                continue
            message_row["thread_id"] = thread_pk
            messages[(thread_pk, message.id)] = message_row
    upsert(
        Message,
        list(messages.values()),
        unique_fields=["thread", "mirakl_id"],
        update_fields=None,
        returning=(),
    )
    # Their search documents are rebuilt when the run ends (``threads_after_run``).
    result.touched_orders.update(order_pks.values())
    return result


def _page_keys(
    connection: MarketplaceConnection, threads: list[MiraklThread]
) -> tuple[dict[str, tuple[int, datetime]], dict[str, int], set[str]]:
    """The page's threads we hold (their key and update date) and the keys of the orders
    they are about, in one statement; and the order ids asked for."""
    thread_ids = [thread.id for thread in threads]
    order_ids = {thread.order_id for thread in threads if thread.order_id}
    if db_connection.vendor != "postgresql":
        held = values_by_keys(
            Thread,
            ("mirakl_id", "id", "date_updated"),
            key="mirakl_id",
            keys=thread_ids,
            scope={"connection_id": connection.pk},
        )
        known = {mirakl_id: (pk, date_updated) for mirakl_id, pk, date_updated in held}
        return known, dict(_order_keys(connection, order_ids)), order_ids
    threads_sql = by_keys_sql(
        db_connection,
        Thread,
        ("mirakl_id", "id", "date_updated"),
        key="mirakl_id",
        scope=["connection_id"],
    )
    orders_sql = by_keys_sql(
        db_connection, Order, ("mirakl_id", "id"), key="mirakl_id", scope=["connection_id"]
    )
    # One statement for both: the orders' rows say NULL for the update date and false.
    sql = (
        f"SELECT true, t.* FROM ({threads_sql}) AS t "  # noqa: S608 - names from the models
        f"UNION ALL SELECT false, o.*, NULL FROM ({orders_sql}) AS o"
    )
    known, order_pks = {}, {}
    with db_connection.cursor() as cursor:
        cursor.execute(
            sql,
            [list(dict.fromkeys(thread_ids)), connection.pk, sorted(order_ids), connection.pk],
        )
        for is_thread, mirakl_id, pk, date_updated in cursor.fetchall():
            if is_thread:
                known[mirakl_id] = (pk, date_updated)
            else:
                order_pks[mirakl_id] = pk
    return known, order_pks, order_ids


def _order_keys(connection: MarketplaceConnection, order_ids: set[str]) -> list[tuple[Any, ...]]:
    return values_by_keys(
        Order,
        ("mirakl_id", "id"),
        key="mirakl_id",
        keys=list(order_ids),
        scope={"connection_id": connection.pk},
    )


def orphan_threads_link(*, connection: MarketplaceConnection) -> int:
    """Attach threads synced before their order arrived; returns how many.

    The orders that gain threads get their search document rebuilt with their messages.
    """
    orphans = Thread.objects.filter(
        connection=connection, order__isnull=True, entity_type="MMP_ORDER"
    ).filter(entity_id__in=Order.objects.filter(connection=connection).values("mirakl_id"))
    thread_ids = list(orphans.values_list("pk", flat=True))
    if not thread_ids:
        return 0
    linked = Thread.objects.filter(pk__in=thread_ids, order__isnull=True).update(
        order=Subquery(
            Order.objects.filter(connection=connection, mirakl_id=OuterRef("entity_id")).values(
                "pk"
            )[:1]
        )
    )
    order_search_documents_refresh(
        order_ids=Thread.objects.filter(pk__in=thread_ids).values_list("order_id", flat=True)
    )
    return linked


def search_documents_follow(
    *, connection: MarketplaceConnection, order_ids: set[int], resumed: bool
) -> None:
    """The search documents of the orders a threads run wrote: rebuilt now when they are
    few; otherwise by a job queued once this is committed, which finds them by the
    threads written since the run started. A resumed run leaves them to the job too: it
    does not know which orders its crashed predecessor wrote.

    A large shop's first sync thus writes its pages without the Spanish full-text
    analysis of every message (a third of its Postgres time), and its orders are found
    by their messages' words a few seconds after it ends.
    """
    if not resumed and len(order_ids) <= INLINE_REFRESH_MAX:
        order_search_documents_refresh(order_ids=order_ids)
        return
    since = (
        SyncCursor.objects.filter(connection=connection, resource=SYNC_RESOURCE_THREADS)
        .values_list("run_started_at", flat=True)
        .first()
    )
    connection_id = connection.pk
    transaction.on_commit(
        lambda: order_search_documents_task.delay(
            connection_id, since.isoformat() if since else None
        )
    )


def threads_after_run(
    connection: MarketplaceConnection, resource: str, touched: set[int], resumed: bool
) -> None:
    """After each orders run, attach the threads that arrived before their order; after
    each threads run, rebuild the search documents of the orders it wrote."""
    if resource == SYNC_RESOURCE_ORDERS:
        orphan_threads_link(connection=connection)
    elif resource == SYNC_RESOURCE_THREADS and (touched or resumed):
        search_documents_follow(connection=connection, order_ids=touched, resumed=resumed)


def _pages(client: MiraklClient, cursor: SyncCursor) -> Iterator[Page]:
    for page in client.iter_thread_record_pages(
        updated_since=cursor.run_since, page_token=cursor.run_page_token or None
    ):
        yield Page(page, page_token=page.next_page_token or "")


def _records(payload: ThreadRecordPage) -> RecordSplit:
    """The page's unreadable threads first, in a page of their own, then each thread."""
    Kind = SkippedRecord.Kind
    yield Kind.THREAD, "", ThreadRecordPage(invalid=payload.invalid), None
    for thread in payload.data:
        yield Kind.THREAD, thread.id, ThreadRecordPage(data=[thread]), thread


def _store(
    connection: MarketplaceConnection,
    client: MiraklClient,
    page: ThreadRecordPage,
    force: bool,
    prepared: PreparedThreads | None,
) -> PageResult:
    return threads_page_store(
        connection=connection, page=page, client=client, force=force, prepared=prepared
    )


THREADS = Resource(
    name=SYNC_RESOURCE_THREADS,
    position=30,
    pages=_pages,
    store=_store,
    records=_records,
    prepare=threads_page_prepare,
)
