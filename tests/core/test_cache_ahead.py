"""Cache entries read ahead (:mod:`core.cache_ahead`): one round trip, then each answered
once from it, as ``cache.get`` would."""

from __future__ import annotations

from unittest import mock

from django.core.cache import cache

from core.cache_ahead import cache_get, cache_read_ahead


def test_keys_read_ahead_are_answered_from_one_round_trip() -> None:
    cache.set("ahead:a", [1, 2])
    with mock.patch.object(cache, "get", wraps=cache.get) as get:
        with cache_read_ahead(["ahead:a", "ahead:missing", "ahead:a"]):
            assert cache_get("ahead:a") == [1, 2]
            assert cache_get("ahead:missing") is None
            assert get.call_count == 0
            # Read once: a second read asks the cache (a write may have changed it).
            cache.set("ahead:a", "changed")
            assert cache_get("ahead:a") == "changed"
            assert cache_get("ahead:other") is None  # not read ahead: the cache's
            assert get.call_count == 2
        # Outside the block, every read is the cache's.
        assert cache_get("ahead:a") == "changed"
        assert get.call_count == 3


def test_nothing_to_read_ahead_asks_nothing() -> None:
    with (
        mock.patch.object(cache, "get_many", wraps=cache.get_many) as get_many,
        cache_read_ahead([]),
    ):
        assert cache_get("ahead:none") is None
    assert get_many.call_count == 0
