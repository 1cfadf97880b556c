"""The sync's structs (mirakl.schemas.records) read every page as the pydantic models do."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mirakl.client import decode_json
from mirakl.schemas import (
    OrderPage,
    OrderRecordPage,
    Thread,
    ThreadPage,
    ThreadRecordPage,
    record_json,
)
from mirakl.schemas.records import thread_record_from_json

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "mirakl"


def _bytes(name: str) -> bytes:
    return (FIXTURES_DIR / name).read_bytes()


def _orders_both_ways(content: bytes) -> tuple[OrderRecordPage, OrderPage]:
    fast = OrderRecordPage.from_json(content, payload=lambda: decode_json(content))
    return fast, OrderPage.from_payload(decode_json(content))


def _threads_both_ways(content: bytes) -> tuple[ThreadRecordPage, ThreadPage]:
    fast = ThreadRecordPage.from_json(content, payload=lambda: decode_json(content))
    return fast, ThreadPage.from_payload(decode_json(content))


def _same(fast: list[Any], slow: list[Any]) -> None:
    assert [record_json(r) for r in fast] == [
        r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in slow
    ]


def _same_invalid(fast: list[Any], slow: list[Any]) -> None:
    assert [(r.id, r.error) for r in fast] == [(r.id, r.error) for r in slow]


@pytest.mark.parametrize("name", ["OR11-orders-with-refunds.json", "OR11-order-with-incident.json"])
def test_order_fixtures_read_as_the_models_read_them(name: str) -> None:
    fast, slow = _orders_both_ways(_bytes(name))
    assert fast.orders and not fast.invalid
    _same(fast.orders, slow.orders)
    assert (fast.total_count, fast.next_offset) == (slow.total_count, slow.next_offset)


def test_a_single_order_fixture_reads_as_the_model_reads_it() -> None:
    raw = json.loads(_bytes("OR11-order-received-with-refund-and-cancelation.json"))
    fast, slow = _orders_both_ways(json.dumps({"orders": [raw]}).encode())
    _same(fast.orders, slow.orders)
    (line,) = [line for line in fast.orders[0].order_lines if line.cancelations]
    assert line.cancelations[0].amount == slow.orders[0].order_lines[0].cancelations[0].amount


def test_thread_fixtures_read_as_the_models_read_them() -> None:
    fast, slow = _threads_both_ways(_bytes("M11-threads-es-marketplace.json"))
    assert len(fast.data) == 30 and not fast.invalid
    _same(fast.data, slow.data)
    assert fast.next_page_token == slow.next_page_token
    assert [t.order_id for t in fast.data] == [t.order_id for t in slow.data]
    assert [t.needs_reply for t in fast.data] == [t.needs_reply for t in slow.data]
    parties = [
        t.metadata.last_sender.party for t in fast.data if t.metadata and t.metadata.last_sender
    ]
    assert parties == [
        t.metadata.last_sender.party for t in slow.data if t.metadata and t.metadata.last_sender
    ]

    content = _bytes("M10-thread-with-messages.json")
    thread = thread_record_from_json(content, payload=lambda: decode_json(content))
    _same([thread], [Thread.model_validate(decode_json(content))])


def test_amounts_keep_their_digits() -> None:
    body = json.loads(_bytes("OR11-orders-with-refunds.json"))
    body["orders"][0]["price"] = 0.1
    body["orders"][0]["total_price"] = "1234567.123"
    content = json.dumps(body).encode().replace(b'"price": 0.1', b'"price": 0.10')
    fast, _slow = _orders_both_ways(content)
    assert str(fast.orders[0].price) == "0.10"
    assert fast.orders[0].total_price == Decimal("1234567.123")
    assert fast.orders[0].order_lines[0].price == Decimal("11.24")


def _lenient_cases() -> list[tuple[str, Any]]:
    return [
        ("an id sent as a number", lambda o: o.update(commercial_id=1234561)),
        ("null on a list", lambda o: o["order_lines"][0].update(refunds=None)),
        ("null on a flag", lambda o: o.update(has_incident=None)),
        ("a naive date", lambda o: o.update(created_date="2019-03-13T15:13:29")),
        ("a date with an offset", lambda o: o.update(created_date="2019-03-13T17:13:29+02:00")),
        ("a quantity as text", lambda o: o["order_lines"][0].update(quantity="4")),
        ("a flag as text", lambda o: o["order_lines"][0].update(can_refund="true")),
        ("a line id as a number", lambda o: o["order_lines"][0].update(order_line_id=95)),
    ]


@pytest.mark.parametrize(("case", "change"), _lenient_cases(), ids=[c for c, _ in _lenient_cases()])
def test_a_record_the_structs_refuse_is_read_by_its_model(case: str, change: Any) -> None:
    body = json.loads(_bytes("OR11-orders-with-refunds.json"))
    other = copy.deepcopy(body["orders"][0])
    other["order_id"] = "OTHER-A"
    change(body["orders"][0])
    body["orders"].append(other)
    fast, slow = _orders_both_ways(json.dumps(body).encode())
    assert [o.order_id for o in fast.orders] == ["1234561-A", "OTHER-A"], case
    _same(fast.orders, slow.orders)


@pytest.mark.parametrize(
    "change",
    [
        lambda o: o.update(price="NaN"),
        lambda o: o["order_lines"][0]["taxes"].append({"code": "X", "amount": "Infinity"}),
        lambda o: o["order_lines"][0]["refunds"][0].update(amount="-inf"),
        lambda o: o.update(order_state=None),
        lambda o: o.update(acceptance_decision_date=""),
        lambda o: o.pop("created_date"),
    ],
)
def test_a_record_the_model_refuses_costs_only_itself(change: Any) -> None:
    body = json.loads(_bytes("OR11-orders-with-refunds.json"))
    good = copy.deepcopy(body["orders"][0])
    good["order_id"] = "GOOD-A"
    change(body["orders"][0])
    body["orders"].append(good)
    body["orders"].append(7)
    body["total_count"] = 30
    fast, slow = _orders_both_ways(json.dumps(body).encode())
    assert [o.order_id for o in fast.orders] == ["GOOD-A"]
    _same(fast.orders, slow.orders)
    _same_invalid(fast.invalid, slow.invalid)
    assert [r.id for r in fast.invalid] == ["1234561-A", None]
    assert fast.next_offset == slow.next_offset == 3


@pytest.mark.parametrize(
    "replace",
    [(b'"price": 11.24', b'"price": NaN'), (b'"Guest"', b'"Gu\\ud800est"')],
    ids=["a NaN literal", "a lone surrogate"],
)
def test_a_page_msgspec_cannot_decode_is_read_the_slow_way(replace: tuple[bytes, bytes]) -> None:
    body = json.loads(_bytes("OR11-orders-with-refunds.json"))
    good = copy.deepcopy(body["orders"][0])
    good["order_id"] = "GOOD-A"
    body["orders"].append(good)
    content = json.dumps(body).encode().replace(*replace, 1)
    assert content != json.dumps(body).encode()
    fast, slow = _orders_both_ways(content)
    assert fast.orders
    _same(fast.orders, slow.orders)
    _same_invalid(fast.invalid, slow.invalid)


def test_a_thread_with_an_unreadable_message_keeps_the_others() -> None:
    body = json.loads(_bytes("M10-thread-with-messages.json"))
    body["messages"][0]["date_created"] = "yesterday"
    page = json.dumps({"data": [body], "next_page_token": None}).encode()
    fast, slow = _threads_both_ways(page)
    (thread,) = fast.data
    assert len(thread.messages) == len(body["messages"]) - 1
    assert [(m.id, m.error) for m in thread.invalid_messages] == [
        (m.id, m.error) for m in slow.data[0].invalid_messages
    ]
    _same(fast.data, slow.data)


def test_a_body_without_its_list_raises_as_the_models_do() -> None:
    from mirakl.errors import MiraklPayloadError

    for content in (b'{"total_count": 3}', b"[1, 2]", b'{"orders": 5}'):
        with pytest.raises(MiraklPayloadError):
            OrderRecordPage.from_json(content, payload=lambda c=content: decode_json(c))
    with pytest.raises(MiraklPayloadError):
        ThreadRecordPage.from_json(
            b'{"data": null}', payload=lambda: decode_json(b'{"data": null}')
        )
