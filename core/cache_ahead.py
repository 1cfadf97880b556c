"""Cache entries a page will read, asked of the cache in one round trip.

The incident page reads half a dozen entries of Django's cache (Redis), each a round
trip of its own from the app that owns it: the marketplace's reasons, the canned
replies, who may be assigned, the shops' banners. The page knows them all before it
starts: :func:`cache_read_ahead` asks for them at once, and :func:`cache_get`, which
those apps read through, answers each from what came back, once (a second read of the
same key asks the cache again, as a write in between may have changed it). Outside a
read-ahead, or for a key it did not ask for, :func:`cache_get` is ``cache.get``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.core.cache import cache

__all__ = ["cache_get", "cache_read_ahead"]

#: Read ahead and not asked for yet, by key; a key the cache did not have is _MISSING.
_ahead: ContextVar[dict[str, Any] | None] = ContextVar("cache_ahead", default=None)
_MISSING = object()
_NOT_READ = object()


@contextmanager
def cache_read_ahead(keys: Iterable[str]) -> Iterator[None]:
    """Within the block, :func:`cache_get` answers ``keys`` from one ``get_many``."""
    wanted = list(dict.fromkeys(keys))
    found = cache.get_many(wanted) if wanted else {}
    token = _ahead.set({key: found.get(key, _MISSING) for key in wanted})
    try:
        yield
    finally:
        _ahead.reset(token)


def cache_get(key: str) -> Any:
    """``cache.get(key)``, answered from the read-ahead when it holds the key."""
    ahead = _ahead.get()
    if ahead is not None:
        value = ahead.pop(key, _NOT_READ)
        if value is not _NOT_READ:
            return None if value is _MISSING else value
    return cache.get(key)
