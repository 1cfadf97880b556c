"""A cheap "has the inbox changed?" for the inbox's live refresh (every 10 s per agent).

Every writer of what the inbox shows bumps a counter in Django's cache once its
transaction commits (:func:`inbox_changed`): the sync of orders and threads, the SLA
sweep when a state moved, state transitions, assignments; an agent's visit of an
incident bumps a counter of their own (their unread counts). The refresh's ETag
(:func:`inbox_etag`) is made of both counters, the user, the language, the URL and
the current minute (the SLA badges say "late by …": they change with time, and a writer
that forgot to bump shows within a minute). A browser revalidates the partial with
``If-None-Match`` and gets an empty 304 while nothing changed: no query beyond the
session's user, nothing rendered.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils.translation import get_language

from core.cache_ahead import cache_get

__all__ = [
    "INBOX_FILTERS_KEY",
    "inbox_changed",
    "inbox_changes_coalesced",
    "inbox_etag",
    "inbox_filters_changed",
    "inbox_filters_version",
    "inbox_seen_changed",
    "inbox_stamp_bump",
]

logger = logging.getLogger(__name__)

INBOX_STAMP_KEY = "incidents:inbox-stamp"
#: Changes when a choice of the inbox's filter form may have (marketplaces, reasons, users).
INBOX_FILTERS_KEY = "incidents:inbox-filters-version"
#: How long an unchanged refresh may be answered 304 (the SLA badges' resolution).
ETAG_SECONDS = 60


def _seen_key(user_id: int) -> str:
    return f"incidents:inbox-stamp:user:{user_id}"


def _bump(key: str) -> None:
    try:
        try:
            cache.incr(key)
        except ValueError:  # not there yet (or evicted): any new value will do
            cache.set(key, time.time_ns(), timeout=None)
    except Exception:  # the cache is down: refreshes show the change within a minute
        logger.warning("Could not bump the inbox stamp %s", key, exc_info=True)


#: Within :func:`inbox_changes_coalesced`, this thread's coalescing of the stamp's bumps.
_coalesced = threading.local()


def inbox_stamp_bump() -> None:
    """Count a change every agent's inbox shows (:func:`inbox_changed` calls it on commit).

    Within :func:`inbox_changes_coalesced`, at most one bump per interval; one left
    pending is made when the block ends."""
    state: _Coalescing | None = getattr(_coalesced, "state", None)
    if state is not None:
        now = time.monotonic()
        if now - state.bumped_at < state.every:
            state.pending = True
            return
        state.bumped_at, state.pending = now, False
    _bump(INBOX_STAMP_KEY)


class _Coalescing:
    def __init__(self, every: float) -> None:
        self.every = every
        self.bumped_at = float("-inf")
        self.pending = False


@contextmanager
def inbox_changes_coalesced(*, every: float = 1.0) -> Iterator[None]:
    """Bump the inbox stamp at most once per ``every`` seconds in this thread for the
    block, and once at its end if a change committed since the last bump.

    A sync commits a page after another, hundreds in a large shop's first sync: one
    round trip to the cache per page cost more than the refreshes gain from knowing of
    each page at once (the inbox's ETag also turns with the minute). Nested blocks
    leave the outer one in charge.
    """
    if getattr(_coalesced, "state", None) is not None:
        yield
        return
    state = _coalesced.state = _Coalescing(every)
    try:
        yield
    finally:
        _coalesced.state = None
        if state.pending:
            _bump(INBOX_STAMP_KEY)


def inbox_changed() -> None:
    """Something every agent's inbox shows changed (counted once committed, once per
    transaction however many rows changed)."""
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(
        func is inbox_stamp_bump for _sids, func, _robust in connection.run_on_commit
    ):
        return
    transaction.on_commit(inbox_stamp_bump)


def inbox_seen_changed(*, user_id: int) -> None:
    """``user_id`` saw an incident: their unread counts changed (once committed)."""
    transaction.on_commit(lambda: _bump(_seen_key(user_id)))


def inbox_etag(request: Any) -> str | None:
    """The ETag of the inbox refresh (the htmx partial) for this request; None otherwise."""
    htmx = getattr(request, "htmx", None)
    user = getattr(request, "user", None)
    if not htmx or htmx.boosted or user is None or not user.is_authenticated:
        return None
    try:
        stamps = cache.get_many([INBOX_STAMP_KEY, _seen_key(user.pk)])
    except Exception:  # no cache, no conditional answer
        logger.warning("Could not read the inbox stamps", exc_info=True)
        return None
    raw = "|".join(
        str(part)
        for part in (
            stamps.get(INBOX_STAMP_KEY, 0),
            stamps.get(_seen_key(user.pk), 0),
            user.pk,
            get_language(),
            request.get_full_path(),
            int(time.time() // ETAG_SECONDS),
        )
    )
    return hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()


def inbox_filters_changed(**kwargs: Any) -> None:
    """A marketplace, a reason or a user changed: the inbox's filter form, kept rendered in
    the cache by its query (``desk/inbox.html``), is rendered anew. A signal
    receiver (``incidents.apps``), so it takes and ignores the signal's arguments."""
    _bump(INBOX_FILTERS_KEY)


def inbox_filters_version() -> int:
    """The current version of the filter form's choices (0 when the cache cannot be read)."""
    try:
        version = cache_get(INBOX_FILTERS_KEY)
        if version is None:
            version = time.time_ns()
            cache.add(INBOX_FILTERS_KEY, version, timeout=None)
            version = cache.get(INBOX_FILTERS_KEY, version)
    except Exception:
        logger.warning("Could not read the inbox filters version", exc_info=True)
        return 0
    return int(version)
