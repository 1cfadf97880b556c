"""Syncing marketplace connections from Mirakl: every registered resource, in order.

Each resource keeps a :class:`~core.sync.models.SyncCursor`. A run reads everything
updated since the cursor (minus ``SYNC_OVERLAP``), writes each page in its own
transaction together with the position reached, and moves the cursor only when the
last page is written. A run that crashes therefore resumes at the page it was on, and
since every write is an upsert keyed on Mirakl's ids, re-reading a page changes
nothing. One connection's failure is recorded and never stops the others.

A lock keeps two syncs of one connection apart (:mod:`core.sync.locks`); it expires
soon after its holder stops showing progress, so a killed sync is taken over by the
next beat tick, which also closes the runs it left "running" as "abandoned".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, DataError, IntegrityError, transaction
from django.db import connection as db_connection
from django.utils import timezone

from core.bulk import update_rows
from core.clients import client_for
from core.collector import collector_paused
from core.freshness import inbox_changes_coalesced
from core.models import MarketplaceConnection
from core.sync.health import sync_error_kind
from core.sync.locks import LockHandle, SyncLockLost, lock_expires_in, sync_lock
from core.sync.models import SkippedRecord, SyncCursor, SyncRun
from core.sync.prefetch import prefetched, quick_handoff
from core.sync.registry import Page, Resource, after_run_hooks, resources, run_scopes
from core.sync.results import PageResult, ResourceResult, Skipped
from core.sync.skipped import (
    RecordKey,
    record_keys,
    skipped_open_count,
    skipped_open_keys,
    skipped_records_resolve,
    skipped_records_save,
)
from core.sync.storable import excerpt
from mirakl.client import MiraklClient

__all__ = [
    "ProgressCallback",
    "SyncAlreadyRunning",
    "marketplace_sync",
    "marketplaces_sync",
]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[ResourceResult], None]

#: What a record's values can make Postgres answer (and ``json.dumps`` raise): the page
#: is then written again record by record, so that one record never holds back others.
RECORD_ERRORS = (DataError, IntegrityError, ValueError)


class SyncAlreadyRunning(Exception):
    """Another process holds this connection's sync lock.

    :param expires_in: seconds before that lock expires unless its holder shows progress.
    """

    def __init__(self, code: str, expires_in: float | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.expires_in = expires_in


def marketplace_sync(
    *,
    connection: MarketplaceConnection,
    full: bool = False,
    client: MiraklClient | None = None,
    progress: ProgressCallback | None = None,
) -> list[ResourceResult]:
    """Sync one connection. Raises :class:`SyncAlreadyRunning` if a sync of it runs, and
    :class:`~core.sync.locks.SyncLockLost` if another took over while this one waited."""
    name = f"sync-{connection.pk}"
    with sync_lock(name) as lock:
        if lock is None:
            raise SyncAlreadyRunning(connection.code, lock_expires_in(name))
        own_client = client is None
        client = client or client_for(connection)
        # Every answer from Mirakl is progress: a slow page keeps the lock alive.
        heartbeat, client.heartbeat = client.heartbeat, lock.refresh
        try:
            with (
                _relaxed_durability(),
                collector_paused(),
                quick_handoff(),
                inbox_changes_coalesced(),
            ):
                return [
                    _sync_resource(connection, resource, client, lock, full, progress)
                    for resource in resources()
                ]
        finally:
            client.heartbeat = heartbeat
            if own_client:
                client.close()


def marketplaces_sync(
    *,
    codes: Iterable[str] | None = None,
    full: bool = False,
    progress: ProgressCallback | None = None,
) -> dict[str, list[ResourceResult] | Exception]:
    """Sync every active connection (or those named), each independently of the others."""
    connections = MarketplaceConnection.objects.filter(is_active=True).order_by("code")
    if codes:
        connections = connections.filter(code__in=list(codes))
    outcome: dict[str, list[ResourceResult] | Exception] = {}
    for connection in connections:
        try:
            outcome[connection.code] = marketplace_sync(
                connection=connection, full=full, progress=progress
            )
        except Exception as exc:
            logger.exception("Sync of %s failed", connection.code)
            outcome[connection.code] = exc
    return outcome


def _sync_resource(
    connection: MarketplaceConnection,
    resource: Resource,
    client: MiraklClient,
    lock: LockHandle,
    full: bool,
    progress: ProgressCallback | None,
) -> ResourceResult:
    cursor, _ = SyncCursor.objects.get_or_create(connection=connection, resource=resource.name)
    result = ResourceResult(connection=connection.code, resource=resource.name)
    now = timezone.now()
    if (
        resource.max_age is not None
        and not full
        and cursor.last_success_at
        and now - cursor.last_success_at < resource.max_age
    ):
        return result

    if cursor.in_progress:
        _runs_abandon(connection, resource.name, now)
    resume = cursor.in_progress and (cursor.run_full or not full)
    if not resume:
        cursor.run_started_at = now
        cursor.run_since = None if full else cursor.updated_since
        cursor.run_full = full
        cursor.run_offset = 0
        cursor.run_page_token = ""
        cursor.save()
    result.resumed = resume
    run = SyncRun.objects.create(
        connection=connection, resource=resource.name, full=cursor.run_full, resumed=resume
    )
    requests_before = client.request_count
    touched: set[int] = set()
    try:
        pending = (
            skipped_open_keys(connection=connection, resource=resource.name)
            if cursor.skipped_open
            else set()
        )
        with ExitStack() as scopes:
            for scope in run_scopes():
                scopes.enter_context(scope(connection, resource.name))
            for page in prefetched(_prepared(resource, connection.pk, client, cursor)):
                page_result, pending = _write_page(
                    connection, resource, client, page, cursor, pending
                )
                touched |= page_result.touched_orders
                result.add_page(page_result)
                result.requests = client.request_count - requests_before
                lock.refresh()
                if progress:
                    progress(result)
            _after_run(connection, resource, touched, resumed=resume)
        lock.refresh()
    except Exception as exc:
        result.error = str(exc) or exc.__class__.__name__
        logger.warning("Sync of %s/%s failed: %s", connection.code, resource.name, result.error)
        cursor.last_error = result.error
        cursor.last_error_at = timezone.now()
        cursor.last_error_kind = sync_error_kind(exc)
        cursor.save(update_fields=["last_error", "last_error_at", "last_error_kind"])
        result.requests = client.request_count - requests_before
        _finish_run(run, result)
        if isinstance(exc, SyncLockLost):
            raise  # another sync holds the connection now: stop here
        return result
    started = cursor.run_started_at or now
    cursor.updated_since = started - settings.SYNC_OVERLAP
    cursor.run_started_at = None
    cursor.run_since = None
    cursor.run_full = False
    cursor.run_offset = 0
    cursor.run_page_token = ""
    cursor.last_success_at = timezone.now()
    cursor.last_error = ""
    cursor.last_error_kind = ""
    result.requests = client.request_count - requests_before
    # Together: a run still "running" always has its cursor in progress, which is what
    # lets the next run find the runs a crash left behind without another query.
    with transaction.atomic():
        cursor.save()
        _finish_run(run, result)
    return result


def _prepared(
    resource: Resource, connection_id: int, client: MiraklClient, cursor: SyncCursor
) -> Iterator[Page]:
    """The resource's pages, each with what the resource prepares of it: run by the
    reading thread (:func:`~core.sync.prefetch.prefetched`), this work overlaps the
    writes of the pages before instead of waiting for them."""
    for page in resource.pages(client, cursor):
        if resource.prepare is not None:
            try:
                page = replace(page, prepared=resource.prepare(connection_id, page.payload))
            except Exception:
                # Left to the write, which prepares the page itself: there, in the page's
                # transaction, an error a record causes costs only that record.
                logger.debug("Preparing a page of %s failed", resource.name, exc_info=True)
        yield page


def _runs_abandon(connection: MarketplaceConnection, resource: str, now: datetime) -> int:
    """Close the runs of this resource that a crashed or killed sync left "running".

    Called by the next run, which holds the lock: no other run of the connection can
    be going on.
    """
    abandoned = SyncRun.objects.filter(
        connection=connection, resource=resource, status=SyncRun.Status.RUNNING
    ).update(
        status=SyncRun.Status.ABANDONED,
        finished_at=now,
        error="The sync stopped before the end of this run (the process died); "
        "the next run took over from the last page written.",
    )
    if abandoned:
        logger.warning(
            "Sync of %s/%s: %d run(s) left running by a stopped sync closed as abandoned",
            connection.code,
            resource,
            abandoned,
        )
    return abandoned


def _write_page(
    connection: MarketplaceConnection,
    resource: Resource,
    client: MiraklClient,
    page: Page,
    cursor: SyncCursor,
    pending: set[RecordKey],
) -> tuple[PageResult, set[RecordKey]]:
    """Write one page and move the cursor past it, in one transaction.

    The page goes in a few bulk statements, its records made storable first. Should
    Postgres still refuse a statement (a value nobody foresaw), the transaction is
    rolled back and the page written again record by record, each in a savepoint: the
    record Postgres refuses is skipped and named, the others land, and the cursor moves
    on. Errors that are not about a record's values (the connection lost, a deadlock)
    propagate: the run stops at this page and the next one reads it again.

    Returns the page's result and the keys of the resource's records skipped and not
    stored since.
    """
    try:
        with transaction.atomic():
            result = resource.store(
                connection, client, page.payload, cursor.run_full, page.prepared
            )
            pending_after = _page_done(connection, resource.name, page, cursor, result, pending)
        return result, pending_after
    except RECORD_ERRORS as exc:
        logger.warning(
            "A page of %s/%s was refused (%s); writing its records one by one",
            connection.code,
            resource.name,
            _first_line(exc),
        )
    with transaction.atomic():
        result = _store_one_by_one(resource, connection, client, page.payload, cursor.run_full)
        pending_after = _page_done(connection, resource.name, page, cursor, result, pending)
    return result, pending_after


def _page_done(
    connection: MarketplaceConnection,
    resource: str,
    page: Page,
    cursor: SyncCursor,
    result: PageResult,
    pending: set[RecordKey],
) -> set[RecordKey]:
    """In the page's transaction: name what it skipped, note what it stored of the
    records skipped before, and save the position reached."""
    fields = ["run_offset", "run_page_token"]
    now = timezone.now()
    skipped: set[RecordKey] = set()
    if result.skipped:
        skipped = skipped_records_save(
            connection=connection, resource=resource, skipped=result.skipped, now=now
        )
    resolved: set[RecordKey] = set()
    if pending:
        resolved = pending & (set(record_keys(resource, page.payload)) - skipped)
        skipped_records_resolve(connection=connection, resource=resource, keys=resolved, now=now)
    if skipped or resolved:
        cursor.skipped_open = skipped_open_count(connection=connection, resource=resource)
        fields.append("skipped_open")
    cursor.run_offset = page.offset
    cursor.run_page_token = page.page_token
    # One plain UPDATE, as for the page's rows: ``Model.save`` prepared through the ORM
    # cost more CPU than the statement, on every page.
    update_rows(
        SyncCursor, [{"id": cursor.pk, **{f: getattr(cursor, f) for f in fields}}], fields=fields
    )
    return (pending - resolved) | skipped


def _store_one_by_one(
    resource: Resource,
    connection: MarketplaceConnection,
    client: MiraklClient,
    payload: Any,
    force: bool,
) -> PageResult:
    """Write a page's records one at a time, each in a savepoint; a record Postgres
    refuses is skipped with Postgres's words."""
    result = PageResult()
    for kind, mirakl_id, single, record in resource.records(payload):
        try:
            with transaction.atomic():
                result += resource.store(connection, client, single, force, None)
        except RECORD_ERRORS as exc:
            logger.warning(
                "Skipped %s %s from %s: %s", kind, mirakl_id, connection.code, _first_line(exc)
            )
            result.skipped.append(
                Skipped(
                    kind=kind,
                    mirakl_id=mirakl_id,
                    reason=SkippedRecord.Reason.REFUSED,
                    detail=_first_line(exc),
                    excerpt=excerpt(record),
                )
            )
    return result


def _first_line(exc: BaseException) -> str:
    """The first line of an error (Postgres adds the failing row's values after it)."""
    text = str(exc).strip() or exc.__class__.__name__
    return text.splitlines()[0][:500]


@contextmanager
def _relaxed_durability() -> Iterator[None]:
    """Commit the sync's transactions without waiting for the disk flush.

    Safe here because each page and the cursor position move together in one
    transaction, and Postgres loses only the latest commits in a crash, in order: the
    next run then reads those pages again (every write is an idempotent upsert), and
    finds the run's record still "running" and closes it as abandoned. Set once for
    the session and reset after (one statement per sync, not one per page: under load
    every statement's round trip costs milliseconds).
    """
    if db_connection.vendor != "postgresql":
        yield
        return
    with db_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        try:
            with db_connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")
        except DatabaseError:
            # The connection is broken: Django discards it, and the setting with it.
            logger.warning("Could not reset synchronous_commit after a sync", exc_info=True)


def _after_run(
    connection: MarketplaceConnection, resource: Resource, touched: set[int], *, resumed: bool
) -> None:
    """Work done once per run rather than once per page, by the apps that asked for it
    (the incidents of the orders a run touched get their state re-derived, for one)."""
    for hook in after_run_hooks():
        hook(connection, resource.name, touched, resumed)


def _finish_run(run: SyncRun, result: ResourceResult) -> None:
    run.status = SyncRun.Status.FAILED if result.error else SyncRun.Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.created = result.created
    run.updated = result.updated
    run.unchanged = result.unchanged
    run.skipped = result.skipped
    run.requests = result.requests
    run.skipped_records = result.skipped_records[:500]
    run.error = result.error
    run.save()
