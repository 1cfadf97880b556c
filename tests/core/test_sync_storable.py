"""Records that parse but cannot be stored as they are, on the real write path (Postgres).

A stand-in of Mirakl (``responses``) serves two pages of orders and two pages of threads
with one hostile record in the first page of each. Every case checks that the hostile
record is made storable or skipped and named, that every other record of that page and
of the next page landed, and that the next run is clean.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from core.models import Order, OrderLine
from core.sync import orders as sync_orders
from core.sync.models import SkippedRecord, SyncCursor, SyncRun
from core.sync.runner import marketplace_sync
from messaging.models import Message, Thread
from mirakl.client import MiraklClient
from tests.conftest import SANDBOX_KEY
from tests.factories.core import MarketplaceConnectionFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent.parent / "fixtures" / "mirakl"
BASE = "https://hostile-prod.mirakl.net"
ORDERS = ["A", "B", "C", "D", "E"]  # B is the hostile one, D and E the next page
THREADS = ["T1", "T2", "T3"]  # T1 is the hostile one, T3 the next page


def _order(name: str) -> dict:
    order = json.loads((FIXTURES / "OR11-order-with-incident.json").read_text())["orders"][0]
    order["order_id"] = f"ORDER-{name}"
    order["commercial_id"] = f"ORDER-{name}"
    for index, line in enumerate(order["order_lines"], start=1):
        line["order_line_id"] = f"ORDER-{name}-{index}"
    return order


def _thread(name: str) -> dict:
    thread = json.loads((FIXTURES / "M10-thread-with-messages.json").read_text())
    thread["id"] = f"THREAD-{name}"
    thread["entities"] = [{"id": "ORDER-A", "label": "ORDER-A", "type": "MMP_ORDER"}]
    for message in thread["messages"]:
        message["id"] = f"{name}-{message['id']}"
    return thread


class StandIn:
    """Mirakl as a hostile marketplace answers: OR11 and M11 pages, RE01, in bytes."""

    def __init__(self) -> None:
        self.orders = {name: _order(name) for name in ORDERS}
        self.threads = {name: _thread(name) for name in THREADS}
        self.incremental_orders: list[dict] = []
        #: Turns a page's JSON text into the bytes sent (to send bytes that are not UTF-8).
        self.encode_orders: Callable[[str], bytes] = lambda text: text.encode()

    def reasons(self, request):
        body = {"reasons": [{"code": "18", "label": "No recibido", "type": "REFUND"}]}
        return 200, {}, json.dumps(body)

    def order_pages(self, request):
        query = parse_qs(urlsplit(request.url).query)
        if "start_update_date" in query:  # the next, incremental, run
            orders, total = self.incremental_orders, len(self.incremental_orders)
        else:
            offset = int(query["offset"][0])
            page = ORDERS[:3] if offset == 0 else ORDERS[3:]
            orders, total = [self.orders[name] for name in page], len(ORDERS)
        text = json.dumps({"orders": orders, "total_count": total}, ensure_ascii=False)
        return 200, {"Content-Type": "application/json"}, self.encode_orders(text)

    def thread_pages(self, request):
        query = parse_qs(urlsplit(request.url).query)
        if query.get("page_token") == ["p2"]:
            body = {"data": [self.threads["T3"]], "next_page_token": None}
        elif "updated_since" in query:
            body = {"data": [], "next_page_token": None}
        else:
            body = {"data": [self.threads["T1"], self.threads["T2"]], "next_page_token": "p2"}
        return 200, {"Content-Type": "application/json"}, json.dumps(body, ensure_ascii=False)


@pytest.fixture
def mirakl():
    stand_in = StandIn()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, f"{BASE}/api/reasons", callback=stand_in.reasons)
        mock.add_callback(responses.GET, f"{BASE}/api/orders", callback=stand_in.order_pages)
        mock.add_callback(
            responses.GET, f"{BASE}/api/inbox/threads", callback=stand_in.thread_pages
        )
        yield stand_in


@pytest.fixture
def marketplace():
    return MarketplaceConnectionFactory(code="hostile", base_url=BASE, api_key="key")


def _sync(marketplace) -> dict:
    client = MiraklClient(base_url=BASE, api_key="key", sleep=lambda _: None)
    return {r.resource: r for r in marketplace_sync(connection=marketplace, client=client)}


def _everything_else_landed(marketplace, *, skipped_order: bool = False) -> None:
    expected = {f"ORDER-{n}" for n in ORDERS if not (skipped_order and n == "B")}
    assert set(Order.objects.filter(connection=marketplace).values_list("mirakl_id", flat=True))
    assert expected <= set(Order.objects.values_list("mirakl_id", flat=True))
    assert set(Thread.objects.values_list("mirakl_id", flat=True)) == {
        f"THREAD-{n}" for n in THREADS
    }
    # Every message of the good threads, of both pages.
    for name in ("T2", "T3"):
        assert Message.objects.filter(thread__mirakl_id=f"THREAD-{name}").count() == 3


def _next_run_is_clean(marketplace) -> None:
    skipped_before = SkippedRecord.objects.count()
    results = _sync(marketplace)
    assert all(r.ok for r in results.values()), results
    assert sum(r.skipped for r in results.values()) == 0
    assert SkippedRecord.objects.count() == skipped_before
    for cursor in SyncCursor.objects.filter(connection=marketplace):
        assert not cursor.in_progress and not cursor.last_error, cursor.resource
    assert not SyncRun.objects.filter(status=SyncRun.Status.FAILED).exists()


def _first_run(marketplace) -> dict:
    results = _sync(marketplace)
    assert all(r.ok for r in results.values()), {k: r.error for k, r in results.items()}
    assert results["orders"].pages == 2 and results["threads"].pages == 2
    return results


# ------------------------------------------------------------------ stored after cleaning


def test_nul_characters_in_order_fields_are_removed(mirakl, marketplace) -> None:
    order = mirakl.orders["B"]
    order["customer"]["lastname"] = "Pé\u0000rez"
    order["customer"]["shipping_address"]["street_1"] = "Calle\u0000 Mayor 1"
    order["order_lines"][0]["product_title"] = "Teclado\u0000 mecánico"
    order["shipping_tracking"] = "\u0000TRACK"

    results = _first_run(marketplace)

    assert results["orders"].skipped == 0
    stored = Order.objects.get(mirakl_id="ORDER-B")
    assert stored.customer_last_name == "Pérez"
    assert stored.shipping_address["street_1"] == "Calle Mayor 1"
    assert stored.shipping_tracking == "TRACK"
    assert stored.lines.get().product_title == "Teclado mecánico"
    _everything_else_landed(marketplace)
    _next_run_is_clean(marketplace)


def test_a_nul_character_in_a_message_body_is_removed(mirakl, marketplace) -> None:
    message = mirakl.threads["T1"]["messages"][1]
    message["body"] = "Copiado del PDF:\u0000 factura 123"
    message["from"]["display_name"] = "Operador\u0000"

    _first_run(marketplace)

    stored = Message.objects.get(mirakl_id=message["id"])
    assert stored.body == "Copiado del PDF: factura 123"
    assert stored.author_name == "Operador"
    assert Message.objects.filter(thread__mirakl_id="THREAD-T1").count() == 3
    _everything_else_landed(marketplace)
    _next_run_is_clean(marketplace)


@pytest.mark.parametrize(
    ("field", "mutate", "read", "limit"),
    [
        (
            "customer name",
            lambda o, t: o["customer"].update(lastname="Ñ" * 300),
            lambda: Order.objects.get(mirakl_id="ORDER-B").customer_last_name,
            128,
        ),
        (
            "order state",
            lambda o, t: o.update(order_state="WAITING_SOMETHING_MIRAKL_ADDED_" + "X" * 30),
            lambda: Order.objects.get(mirakl_id="ORDER-B").state,
            40,
        ),
        (
            "line state",
            lambda o, t: o["order_lines"][0].update(order_line_state="S" * 41),
            lambda: OrderLine.objects.get(mirakl_id="ORDER-B-1").state,
            40,
        ),
        (
            "sender organisation type",
            lambda o, t: t["messages"][0]["from"]["organization_details"].update(
                type="CUSTOMER_ORGANIZATION_OF_A_NEW_KIND"
            ),
            lambda: Message.objects.get(mirakl_id="T1-synthetic-msg-0001").author_type,
            20,
        ),
        (
            "thread topic",
            lambda o, t: t["topic"].update(value="¿" + "Dónde está mi pedido? " * 20),
            lambda: Thread.objects.get(mirakl_id="THREAD-T1").topic_value,
            255,
        ),
    ],
)
def test_a_text_longer_than_its_column_is_clipped(
    mirakl, marketplace, field, mutate, read, limit, caplog
) -> None:
    mutate(mirakl.orders["B"], mirakl.threads["T1"])

    with caplog.at_level(logging.WARNING, logger="core.sync.storable"):
        results = _first_run(marketplace)

    value = read()
    assert len(value) == limit and value.endswith("…"), field
    assert "clipped" in caplog.text
    assert results["orders"].skipped == results["threads"].skipped == 0
    _everything_else_landed(marketplace)
    _next_run_is_clean(marketplace)


def test_bytes_that_are_not_utf8_are_decoded_with_replacement(mirakl, marketplace, caplog) -> None:
    mirakl.orders["B"]["customer"]["lastname"] = "MUÑOZ"
    # A legacy system sent Latin-1: "Ñ" is the single byte 0xD1, not valid UTF-8.
    mirakl.encode_orders = lambda text: text.encode().replace("Ñ".encode(), b"\xd1")

    with caplog.at_level(logging.WARNING, logger="mirakl.client"):
        results = _first_run(marketplace)

    assert "not UTF-8" in caplog.text
    assert results["orders"].skipped == 0
    assert Order.objects.get(mirakl_id="ORDER-B").customer_last_name == "MU\ufffdOZ"
    _everything_else_landed(marketplace)
    mirakl.encode_orders = lambda text: text.encode()
    _next_run_is_clean(marketplace)


# ------------------------------------------------------------------ skipped and named


def test_an_integer_out_of_range_skips_its_order_and_names_it(mirakl, marketplace) -> None:
    mirakl.orders["B"]["order_lines"][0]["quantity"] = 10**20

    results = _first_run(marketplace)

    assert results["orders"].skipped == 1
    assert results["orders"].skipped_records[0]["id"] == "ORDER-B"
    record = SkippedRecord.objects.get()
    assert (record.connection, record.resource, record.kind, record.mirakl_id) == (
        marketplace,
        "orders",
        SkippedRecord.Kind.ORDER,
        "ORDER-B",
    )
    assert record.reason == SkippedRecord.Reason.OUT_OF_RANGE
    assert "quantity" in record.detail and "100000000000000000000" in record.detail
    assert '"order_id":"ORDER-B"' in record.excerpt and len(record.excerpt) <= 300
    assert record.resolved_at is None
    assert SyncCursor.objects.get(connection=marketplace, resource="orders").skipped_open == 1
    assert not Order.objects.filter(mirakl_id="ORDER-B").exists()
    _everything_else_landed(marketplace, skipped_order=True)
    _next_run_is_clean(marketplace)


def test_two_lines_sharing_an_id_keep_the_first_and_name_the_other(mirakl, marketplace) -> None:
    order = mirakl.orders["B"]
    twin = copy.deepcopy(order["order_lines"][0])
    twin["order_line_index"] = 2
    twin["product_title"] = "Otra cosa"
    order["order_lines"].append(twin)

    results = _first_run(marketplace)

    assert results["orders"].skipped == 1
    stored = Order.objects.get(mirakl_id="ORDER-B")
    line = stored.lines.get()
    assert (line.mirakl_id, line.index) == ("ORDER-B-1", 1)
    assert stored.incidents.count() == 1  # one incident for the one line in INCIDENT_OPEN
    record = SkippedRecord.objects.get()
    assert (record.kind, record.mirakl_id, record.reason) == (
        SkippedRecord.Kind.LINE,
        "ORDER-B/ORDER-B-1",
        SkippedRecord.Reason.DUPLICATE,
    )
    _everything_else_landed(marketplace)
    _next_run_is_clean(marketplace)


def test_an_unreadable_message_costs_only_that_message(mirakl, marketplace) -> None:
    bad = mirakl.threads["T1"]["messages"][1]
    bad["date_created"] = "ayer por la tarde"

    results = _first_run(marketplace)

    assert results["threads"].skipped == 1
    thread = Thread.objects.get(mirakl_id="THREAD-T1")
    assert sorted(thread.messages.values_list("mirakl_id", flat=True)) == [
        "T1-synthetic-msg-0001",
        "T1-synthetic-msg-0003",
    ]
    record = SkippedRecord.objects.get()
    assert (record.resource, record.kind, record.mirakl_id) == (
        "threads",
        SkippedRecord.Kind.MESSAGE,
        f"THREAD-T1/{bad['id']}",
    )
    assert record.reason == SkippedRecord.Reason.UNREADABLE
    assert "date_created" in record.detail
    assert "ayer por la tarde" in record.excerpt
    _everything_else_landed(marketplace)
    _next_run_is_clean(marketplace)


def test_an_id_longer_than_its_column_skips_the_record(mirakl, marketplace) -> None:
    mirakl.threads["T1"]["messages"][2]["id"] = "M" * 80

    results = _first_run(marketplace)

    record = SkippedRecord.objects.get()
    assert (record.kind, record.reason) == (
        SkippedRecord.Kind.MESSAGE,
        SkippedRecord.Reason.TOO_LONG,
    )
    assert record.mirakl_id == "THREAD-T1/" + "M" * 80
    assert results["threads"].skipped == 1
    assert Message.objects.filter(thread__mirakl_id="THREAD-T1").count() == 2
    _everything_else_landed(marketplace)
    _next_run_is_clean(marketplace)


def test_a_page_postgres_still_refuses_is_written_record_by_record(
    mirakl, marketplace, monkeypatch
) -> None:
    """Should a value get past the storable layer, the page falls back to one record at a
    time: Postgres's refusal costs that record only."""

    class PassThrough:
        def clean(self, row):
            return row

    monkeypatch.setattr(sync_orders, "_LINE_ROWS", PassThrough())
    mirakl.orders["B"]["order_lines"][0]["quantity"] = 2**31  # integer out of range

    results = _first_run(marketplace)

    assert results["orders"].skipped == 1
    record = SkippedRecord.objects.get()
    assert (record.kind, record.mirakl_id, record.reason) == (
        SkippedRecord.Kind.ORDER,
        "ORDER-B",
        SkippedRecord.Reason.REFUSED,
    )
    assert "out of range" in record.detail
    # The records around it landed, with their lines and incidents.
    for name in ("A", "C"):
        assert Order.objects.get(mirakl_id=f"ORDER-{name}").incidents.count() == 1
    _everything_else_landed(marketplace, skipped_order=True)
    _next_run_is_clean(marketplace)


def test_a_skipped_order_stored_later_is_marked_resolved(mirakl, marketplace) -> None:
    mirakl.orders["B"]["order_lines"][0]["quantity"] = 10**20
    _first_run(marketplace)
    assert SkippedRecord.objects.get().resolved_at is None

    # Mirakl corrects the order: it comes again with the next incremental run.
    fixed = _order("B")
    fixed["last_updated_date"] = "2014-10-18T09:00:00Z"
    mirakl.incremental_orders = [fixed]
    results = _sync(marketplace)

    assert results["orders"].created == 1 and results["orders"].skipped == 0
    assert Order.objects.get(mirakl_id="ORDER-B").lines.get().quantity == 2
    assert SkippedRecord.objects.get().resolved_at is not None
    assert SyncCursor.objects.get(connection=marketplace, resource="orders").skipped_open == 0


# ------------------------------------------------------------------ the sandbox


def test_the_sandbox_customer_pastes_a_nul_character(connection, sandbox, sandbox_client) -> None:
    marketplace_sync(connection=connection, client=sandbox_client)
    order = Order.objects.filter(connection=connection).order_by("pk").first()
    response = requests.post(
        f"{sandbox.base_url}/_sandbox/messages",
        json={"order_id": order.mirakl_id, "body": "Pegado de un PDF:\u0000 pedido roto"},
        headers={"Authorization": SANDBOX_KEY},
        timeout=5,
    )
    assert response.status_code == 201
    message_id = response.json()["message_id"]
    other = requests.post(
        f"{sandbox.base_url}/_sandbox/messages",
        json={"order_id": order.mirakl_id, "body": "Y otro mensaje"},
        headers={"Authorization": SANDBOX_KEY},
        timeout=5,
    ).json()["message_id"]

    results = marketplace_sync(connection=connection, client=sandbox_client)

    assert all(r.ok for r in results)
    assert Message.objects.get(mirakl_id=message_id).body == "Pegado de un PDF: pedido roto"
    assert Message.objects.filter(mirakl_id=other).exists()
    assert not SkippedRecord.objects.exists()
