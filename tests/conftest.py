"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mirakl.client import MiraklClient

SANDBOX_KEY = "sandbox-test-key"


@pytest.fixture
def sandbox() -> Iterator[object]:
    """A fresh Mirakl sandbox with the default data set, on a free local port."""
    from mirakl.sandbox import SandboxServer

    server = SandboxServer(host="127.0.0.1", port=0, api_key=SANDBOX_KEY, seed=7)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sandbox_client(sandbox) -> Iterator[MiraklClient]:
    """A client of the sandbox that does not sleep between retries."""
    client = MiraklClient(
        base_url=sandbox.base_url, api_key=SANDBOX_KEY, timeout=(2.0, 5.0), sleep=lambda _: None
    )
    yield client
    client.close()


@pytest.fixture
def connection(db, sandbox):
    """A marketplace connection pointing at the sandbox."""
    from tests.factories.core import MarketplaceConnectionFactory

    return MarketplaceConnectionFactory(
        code="pccomponentes", name="PcComponentes", base_url=sandbox.base_url, api_key=SANDBOX_KEY
    )


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Each test starts with an empty Django cache (canned replies and reasons are kept
    there, and a test's rows are rolled back without the signals that forget them)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _clean_locks(settings) -> Iterator[None]:
    """Each test starts with no sync lock held in Redis."""
    yield
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter("incidesk:lock:*"):
            client.delete(key)
