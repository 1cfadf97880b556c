"""One key, several shops: each call is answered from the shop its ``shop_id`` names,
a call without one from the key's default shop (another, empty one), and a shop the key
does not reach is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from mirakl.sandbox import SandboxServer
from tests.sandbox.conftest import KEY, make_server


@pytest.fixture(scope="module")
def shops() -> Iterator[SandboxServer]:
    with make_server(shops=3, shop_id=5000, orders=12) as server:
        yield server


def _order_ids(server: SandboxServer, **params: str) -> list[str]:
    response = requests.get(
        f"{server.base_url}/api/orders",
        params={"max": "100", **params},
        headers={"Authorization": KEY},
        timeout=5,
    )
    response.raise_for_status()
    return [order["order_id"] for order in response.json()["orders"]]


def test_each_shop_has_data_of_its_own(shops) -> None:
    assert list(shops.states) == ["5000", "5001", "5002"]
    for shop_id, state in shops.states.items():
        assert sorted(_order_ids(shops, shop_id=shop_id)) == sorted(state.orders)
        assert len(state.orders) == 12
    first, second = (set(state.orders.values()) for state in list(shops.states.values())[:2])
    assert first != second


def test_a_call_without_shop_id_reads_the_keys_empty_default_shop(shops) -> None:
    assert _order_ids(shops) == []


def test_a_shop_the_key_does_not_reach_is_refused(shops) -> None:
    response = requests.get(
        f"{shops.base_url}/api/orders",
        params={"shop_id": "5009"},
        headers={"Authorization": KEY},
        timeout=5,
    )
    assert response.status_code == 403


def test_one_shop_is_the_sandbox_as_before() -> None:
    with make_server(shop_id=2087, orders=5) as server:
        assert list(server.states) == ["2087"]
        assert len(_order_ids(server)) == 5
        assert len(_order_ids(server, shop_id="2087")) == 5
