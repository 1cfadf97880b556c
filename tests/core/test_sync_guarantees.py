"""What the sync must never lose: a change made while it runs, its cursor, the shop it reads."""

from __future__ import annotations

import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.utils import timezone

from core.models import Order
from core.sync import orders as sync_orders
from core.sync.models import SyncCursor
from core.sync.runner import marketplace_sync
from incidents.models import Incident
from mirakl.client import MiraklClient, format_datetime
from tests.conftest import SANDBOX_KEY
from tests.core.test_sync import _with_page_size, by_resource, control
from tests.factories.core import MarketplaceConnectionFactory

pytestmark = pytest.mark.django_db

#: Line states on which the sandbox's operator may open an incident.
ELIGIBLE = {"SHIPPED", "TO_COLLECT", "RECEIVED", "CLOSED"}


def test_an_order_changed_while_a_sync_runs_is_picked_up_by_the_next_sync(
    connection, sandbox, sandbox_client, monkeypatch
) -> None:
    monkeypatch.setattr(
        MiraklClient,
        "iter_order_record_pages",
        _with_page_size(MiraklClient.iter_order_record_pages, 25),
    )
    real_store = sync_orders.orders_page_store
    changed: dict[str, str] = {}
    pages_after_the_change: list[int] = []

    def store_then_change(**kwargs):
        result = real_store(**kwargs)
        if changed:
            pages_after_the_change.append(len(kwargs["page"].orders))
        eligible = [
            (order, line)
            for order in kwargs["page"].orders
            if not order.has_incident
            for line in order.order_lines
            if line.order_line_state in ELIGIBLE
        ]
        if not changed and eligible:
            # The operator opens an incident on an order of the page just written, while
            # the sync goes on with the next pages.
            order, line = eligible[0]
            control(
                sandbox,
                "incidents",
                {"order_id": order.order_id, "line_id": line.order_line_id, "reason_code": "3"},
            )
            changed.update(order=order.order_id, line=line.order_line_id)
            # The run ends well after the change: past Mirakl's own safety delta (1 s) and
            # the cursor's truncation to the second.
            time.sleep(2.5)
        return result

    monkeypatch.setattr("core.sync.orders.orders_page_store", store_then_change)
    first = by_resource(marketplace_sync(connection=connection, client=sandbox_client))
    assert first["orders"].ok and changed
    assert pages_after_the_change, "the change happened before the last page"
    assert not Incident.objects.filter(line__mirakl_id=changed["line"]).exists()

    monkeypatch.setattr("core.sync.orders.orders_page_store", real_store)
    second = by_resource(marketplace_sync(connection=connection, client=sandbox_client))

    assert second["orders"].updated >= 1
    incident = Incident.objects.get(line__mirakl_id=changed["line"], closed_at__isnull=True)
    assert incident.order.mirakl_id == changed["order"]
    assert Order.objects.get(mirakl_id=changed["order"]).has_incident


def test_the_cursor_is_where_the_run_started_minus_the_overlap(
    connection, sandbox_client, monkeypatch
) -> None:
    started = timezone.now().replace(microsecond=0)
    monkeypatch.setattr("core.sync.runner.timezone", SimpleNamespace(now=lambda: started))
    overlap = timedelta(seconds=60)
    assert overlap == settings.SYNC_OVERLAP

    marketplace_sync(connection=connection, client=sandbox_client)

    cursors = {c.resource: c for c in SyncCursor.objects.filter(connection=connection)}
    assert set(cursors) == {"reasons", "orders", "threads"}
    for cursor in cursors.values():
        assert cursor.updated_since == started - timedelta(seconds=60), cursor.resource
        assert not cursor.in_progress

    # The next run asks Mirakl for everything updated since that instant.
    asked: dict[str, object] = {}
    real_orders, real_threads = MiraklClient.list_order_records, MiraklClient.list_thread_records

    def list_orders(self, **kwargs):
        asked.setdefault("orders", kwargs.get("updated_since"))
        return real_orders(self, **kwargs)

    def list_threads(self, **kwargs):
        asked.setdefault("threads", kwargs.get("updated_since"))
        return real_threads(self, **kwargs)

    monkeypatch.setattr(MiraklClient, "list_order_records", list_orders)
    monkeypatch.setattr(MiraklClient, "list_thread_records", list_threads)
    marketplace_sync(connection=connection, client=sandbox_client)
    assert asked == {
        "orders": started - timedelta(seconds=60),
        "threads": started - timedelta(seconds=60),
    }
    assert format_datetime(asked["orders"]) == format_datetime(started - timedelta(minutes=1))


@pytest.fixture
def multi_shop_sandbox():
    """A sandbox reached with a key that has several shops: without ``shop_id`` Mirakl
    answers for the key's default shop, which is not this one."""
    from mirakl.sandbox import SandboxServer

    server = SandboxServer(
        host="127.0.0.1", port=0, api_key=SANDBOX_KEY, seed=7, shop_id=2087, multi_shop_key=True
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_the_connections_own_client_sends_its_shop_id(multi_shop_sandbox) -> None:
    shop = MarketplaceConnectionFactory(
        code="pcc",
        base_url=multi_shop_sandbox.base_url,
        api_key=SANDBOX_KEY,
        shop_id="2087",
    )
    without = MarketplaceConnectionFactory(
        code="pcc-default-shop", base_url=multi_shop_sandbox.base_url, api_key=SANDBOX_KEY
    )

    results = by_resource(marketplace_sync(connection=shop))  # the connection's own client

    assert all(r.ok for r in results.values())
    state = control(multi_shop_sandbox, "state")
    assert Order.objects.filter(connection=shop).count() == state["orders"] > 0
    assert (
        Incident.objects.filter(connection=shop, closed_at__isnull=True).count()
        == (state["open_incidents"])
    )
    # Without its shop id the same key reads the key's default shop: nothing of this one.
    results = by_resource(marketplace_sync(connection=without))
    assert all(r.ok for r in results.values())
    assert not Order.objects.filter(connection=without).exists()


@pytest.fixture
def shared_sandbox():
    """One sandbox, one key, three shops: connections that share it differ by shop id."""
    from mirakl.sandbox import SandboxServer

    server = SandboxServer(
        host="127.0.0.1", port=0, api_key=SANDBOX_KEY, seed=11, shop_id=6000, shops=3, orders=8
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_connections_sharing_a_sandbox_each_sync_their_own_shop(shared_sandbox) -> None:
    connections = {
        shop_id: MarketplaceConnectionFactory(
            code=f"shop-{shop_id}",
            base_url=shared_sandbox.base_url,
            api_key=SANDBOX_KEY,
            shop_id=shop_id,
        )
        for shop_id in ("6000", "6001")
    }
    for connection in connections.values():
        assert all(r.ok for r in by_resource(marketplace_sync(connection=connection)).values())

    for shop_id, connection in connections.items():
        state = shared_sandbox.states[shop_id]
        assert set(
            Order.objects.filter(connection=connection).values_list("mirakl_id", flat=True)
        ) == set(state.orders)
        # An idle incremental sync: one request per resource at most, nothing written.
        again = by_resource(marketplace_sync(connection=connection))
        assert all(r.ok and r.requests <= 2 for r in again.values())

    # A shop the key does not reach: Mirakl's 403, recorded, nothing stored.
    stranger = MarketplaceConnectionFactory(
        code="shop-6009", base_url=shared_sandbox.base_url, api_key=SANDBOX_KEY, shop_id="6009"
    )
    results = by_resource(marketplace_sync(connection=stranger))
    assert not all(r.ok for r in results.values())
    assert not Order.objects.filter(connection=stranger).exists()
