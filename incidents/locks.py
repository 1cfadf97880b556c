"""A lock that keeps two syncs of one connection from overlapping, across processes.

With Redis configured it is a Redis lock (``SET NX PX`` with a token, released only
by its holder); on the embedded default it is an ``flock`` on a file under ``var/``.
Both expire on their own if a worker dies holding them.
"""

from __future__ import annotations

import fcntl
import functools
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Protocol

import redis
from django.conf import settings

__all__ = ["LockHandle", "sync_lock"]


class LockHandle(Protocol):
    def refresh(self) -> None:
        """Push the expiry back: long syncs call it after every page."""


class _RedisHandle:
    def __init__(self, lock: redis.lock.Lock, timeout: float) -> None:
        self._lock = lock
        self._timeout = timeout

    def refresh(self) -> None:
        self._lock.extend(self._timeout, replace_ttl=True)


class _FileHandle:
    def refresh(self) -> None:
        """A file lock lives as long as its process: nothing to refresh."""


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@contextmanager
def sync_lock(name: str) -> Iterator[LockHandle | None]:
    """Hold the lock ``name`` for the block; yields None when someone else holds it."""
    timeout = settings.SYNC_LOCK_TIMEOUT.total_seconds()
    if settings.REDIS_URL:
        lock = _redis().lock(f"incidesk:lock:{name}", timeout=timeout, blocking=False)
        if not lock.acquire():
            yield None
            return
        try:
            yield _RedisHandle(lock, timeout)
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
