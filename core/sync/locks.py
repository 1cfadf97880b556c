"""A lock that keeps two syncs of one connection from overlapping, and dies with its holder.

With Redis configured it is a Redis lock (``SET NX PX`` with a token, released only by
its holder) with a short time to live, ``SYNC_LOCK_TTL``: a few pages' worth, pushed
back each time the sync shows progress (a page written, an answer from Mirakl). A sync
that crashes, or is killed, stops pushing it back, so the lock is gone within
``SYNC_LOCK_TTL`` and the next beat tick syncs the connection again. On the embedded
default it is an ``flock`` on a file under ``var/``, which the kernel releases when its
process dies.

A holder that finds its lock expired takes it again if nobody else did; if another
sync holds it by then, :class:`SyncLockLost` stops this one (the other goes on).
"""

from __future__ import annotations

import fcntl
import functools
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Protocol

import redis
from django.conf import settings

__all__ = ["LockHandle", "SyncLockLost", "lock_expires_in", "sync_lock"]

logger = logging.getLogger(__name__)

#: At most one refresh per this fraction of the time to live (progress is often faster).
REFRESH_FRACTION = 10


class SyncLockLost(Exception):
    """The lock expired while its holder was still working and another sync took it."""


class LockHandle(Protocol):
    def refresh(self) -> None:
        """Push the expiry back: the sync calls it whenever it shows progress."""


class _RedisHandle:
    """A held Redis lock; :meth:`refresh` may be called from any thread."""

    def __init__(self, lock: redis.lock.Lock, ttl: float) -> None:
        self._lock = lock
        self._ttl = ttl
        self._every = ttl / REFRESH_FRACTION
        self._refreshed = time.monotonic()
        self._guard = threading.Lock()

    def refresh(self) -> None:
        now = time.monotonic()
        if now - self._refreshed < self._every:
            return
        with self._guard:
            try:
                self._lock.extend(self._ttl, replace_ttl=True)
            except redis.exceptions.LockNotOwnedError:
                if not self._lock.acquire(blocking=False):
                    raise SyncLockLost(self._lock.name) from None
                logger.warning(
                    "Lock %s had expired before its sync showed progress again; taken again",
                    self._lock.name,
                )
            self._refreshed = now


class _FileHandle:
    def refresh(self) -> None:
        """A file lock lives as long as its process: nothing to refresh."""


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _key(name: str) -> str:
    return f"incidesk:lock:{name}"


@contextmanager
def sync_lock(name: str) -> Iterator[LockHandle | None]:
    """Hold the lock ``name`` for the block; yields None when someone else holds it."""
    ttl = settings.SYNC_LOCK_TTL.total_seconds()
    if settings.REDIS_URL:
        # Not thread-local: the thread that reads the next pages refreshes it too.
        lock = _redis().lock(_key(name), timeout=ttl, blocking=False, thread_local=False)
        if not lock.acquire():
            yield None
            return
        try:
            yield _RedisHandle(lock, ttl)
        finally:
            # An expired lock may have been taken over: it is not ours to release then.
            with suppress(redis.exceptions.LockError):
                lock.release()
        return

    directory = Path(settings.BASE_DIR) / "var" / "locks"
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f"{name}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        try:
            yield _FileHandle()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lock_expires_in(name: str) -> float | None:
    """Seconds before the lock ``name`` expires unless refreshed (None: not held, or a
    file lock, which has no expiry)."""
    if not settings.REDIS_URL:
        return None
    milliseconds = _redis().pttl(_key(name))
    return milliseconds / 1000 if milliseconds >= 0 else None
