"""Fixtures of the SLA tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from sla.policies import clear_cache

MADRID = ZoneInfo("Europe/Madrid")


def madrid(*args: int) -> datetime:
    return datetime(*args, tzinfo=MADRID)


@pytest.fixture(autouse=True)
def _fresh_policies() -> Iterator[None]:
    """Policy lookups are cached per process: each test starts without them."""
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def mediamarkt(db):
    """A connection under the MediaMarkt preset (48 wall-clock hours, warn in the last 25 %)."""
    from tests.factories.core import MarketplaceConnectionFactory

    return MarketplaceConnectionFactory(code="mm", name="MediaMarkt", sla_policy="mediamarkt")


@pytest.fixture
def pccomponentes(db):
    """A connection under the PcComponentes preset (24 h on working days, Mon–Fri 0–24,
    warning at 20 h)."""
    from tests.factories.core import MarketplaceConnectionFactory

    return MarketplaceConnectionFactory(
        code="pcc", name="PcComponentes", sla_policy="pccomponentes"
    )


@pytest.fixture
def pcc_office_hours(db):
    """A connection under PcComponentes' office-hours preset (24 business hours,
    Mon–Fri 9–18, warning in the last 25 %)."""
    from tests.factories.core import MarketplaceConnectionFactory

    return MarketplaceConnectionFactory(
        code="pcco", name="PcComponentes (oficina)", sla_policy="pccomponentes_office_hours"
    )
