"""Fixtures for the Mirakl sandbox tests: in-process servers on free local ports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from mirakl.sandbox import SandboxClock, SandboxServer

KEY = "sandbox-unit-key"
NOW = datetime(2024, 5, 17, 12, 0, 0, tzinfo=UTC)


def make_server(**kwargs: Any) -> SandboxServer:
    """A sandbox on a free port with a frozen clock at NOW (tests move it with advance)."""
    options: dict[str, Any] = {"api_key": KEY, "seed": 3, "clock": SandboxClock(NOW, frozen=True)}
    options.update(kwargs)
    return SandboxServer(port=0, **options)


@pytest.fixture(scope="module")
def reader() -> Iterator[SandboxServer]:
    """A shared sandbox for tests that only read (never mutate it)."""
    with make_server() as server:
        yield server


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    """A fresh sandbox per test, for tests that change its state."""
    with make_server(auto_close_seconds=60) as server:
        yield server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    session.headers.update({"Authorization": KEY, "Accept": "application/json"})
    yield session
    session.close()
