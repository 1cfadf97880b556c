"""The sandbox's read-side machinery: order sequences, direct JSON rendering, warm-up.

These structures exist for speed (OR11 and M11 pages in well under a millisecond at
100 000 orders); the tests check they answer exactly what a plain scan would, also after
writes moved records around.
"""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from mirakl.sandbox import SandboxClock, SandboxState, orderindex
from mirakl.sandbox.clock import format_ms, parse_mirakl_date
from mirakl.sandbox.models import Order
from mirakl.sandbox.orderindex import OrderSequence
from mirakl.sandbox.render import dumps
from tests.sandbox.conftest import NOW
from tests.sandbox.test_writes import m12, refund

DAY_MS = 86_400_000


def make_state(orders: int = 200, seed: int = 3) -> SandboxState:
    return SandboxState(seed=seed, orders=orders, clock=SandboxClock(NOW, frozen=True))


def brute_force(
    orders: list[Order],
    *,
    created_from: int | None = None,
    created_to: int | None = None,
    updated_from: int | None = None,
    updated_to: int | None = None,
    offset: int = 0,
    size: int | None = None,
    descending: bool = False,
) -> tuple[int, list[Order]]:
    def within(value: int, low: int | None, high: int | None) -> bool:
        return (low is None or value >= low) and (high is None or value <= high)

    matching = sorted(
        (
            o
            for o in orders
            if within(o.created_ms, created_from, created_to)
            and within(o.updated_ms, updated_from, updated_to)
        ),
        key=lambda o: (o.created_ms, o.order_id),
    )
    if descending:
        matching.reverse()
    page = matching if size is None else matching[offset : offset + size]
    return len(matching), page


def ids(orders: list[Order]) -> list[str]:
    return [o.order_id for o in orders]


# ---------------------------------------------------------- OrderSequence
def test_order_sequence_answers_like_a_scan_through_adds_moves_and_removals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(orderindex, "BLOCK", 4)  # many blocks, many splits
    pool = list(make_state(orders=300).orders.values())
    rng = random.Random(11)
    low = min(o.created_ms for o in pool)
    high = max(o.updated_ms for o in pool)
    members = rng.sample(pool, 60)
    sequence = OrderSequence(members)

    def instant() -> int | None:
        return None if rng.random() < 0.3 else rng.randint(low - DAY_MS, high + DAY_MS)

    for step in range(1500):
        action = rng.random()
        outside = [o for o in pool if o not in members]
        if action < 0.3 and outside:
            order = rng.choice(outside)
            sequence.add(order)
            members.append(order)
        elif action < 0.45 and members:
            order = rng.choice(members)
            assert sequence.discard(order)
            members.remove(order)
            assert not sequence.discard(order)
        elif action < 0.75 and members:
            order = rng.choice(members)
            order.updated_ms = max(order.updated_ms, rng.randint(low, high + DAY_MS))
            sequence.moved(order)
        query: dict[str, Any] = {
            "created_from": instant(),
            "created_to": instant(),
            "updated_from": instant(),
            "updated_to": instant() if rng.random() < 0.3 else None,
            "descending": rng.random() < 0.3,
        }
        if rng.random() < 0.1:
            query["created_from"] = query["created_to"] = None
        total, expected = brute_force(members, **query, offset=0, size=None)
        offset = rng.randint(0, total + 3)
        size = rng.choice([1, 3, 10, 100])
        assert sequence.window(**query, offset=offset, size=size) == brute_force(
            members, **query, offset=offset, size=size
        ), (step, query, offset, size)
        assert sequence.window(**query) == (total, expected)
        assert len(sequence) == len(members)
    ordered = sorted(members, key=lambda o: (o.created_ms, o.order_id))
    assert list(sequence) == ordered
    assert sequence.following(None, 7) == ordered[:7]
    pivot = ordered[20]
    assert sequence.following((pivot.created_ms, pivot.order_id), 30) == ordered[21:51]
    assert all(o in sequence for o in members)


# -------------------------------------------------- indexes after writes
def or11(http, server, **params: Any) -> dict[str, Any]:
    response = http.get(f"{server.base_url}/api/orders", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def stamp(ms: int) -> str:
    return format_ms(ms)


def test_a_refund_moves_the_order_in_the_start_update_date_index(server, http) -> None:
    state = server.state
    latest = max(o.updated_ms for o in state.orders.values())
    since = stamp(latest + 5000)
    assert or11(http, server, start_update_date=since)["total_count"] == 0
    order, line = next(
        (o, ln)
        for o in sorted(state.orders.values(), key=lambda o: o.created_ms)
        for ln in o.lines
        if ln.state == "RECEIVED" and not ln.refunds and ln.price > 5
    )
    order_id = order.order_id
    state.advance(10)

    done = refund(
        http,
        server,
        {
            "refunds": [
                {
                    "order_line_id": line.line_id,
                    "amount": 1.0,
                    "shipping_amount": 0,
                    "reason_code": "19",
                }
            ]
        },
    )

    assert done.status_code == 200, done.text
    changed = or11(http, server, start_update_date=since, max=100)
    assert changed["total_count"] == 1
    assert [o["order_id"] for o in changed["orders"]] == [order_id]
    refunded = next(
        ln for ln in changed["orders"][0]["order_lines"] if ln["order_line_id"] == line.line_id
    )
    assert refunded["refunds"][-1]["amount"] == 1.0
    # The order keeps its place in creation order; only its update date moved.
    every = or11(http, server, paginate="false")["orders"]
    assert [(o["created_date"], o["order_id"]) for o in every] == sorted(
        (o["created_date"], o["order_id"]) for o in every
    )
    assert state.order_seq.window(updated_from=latest + 1)[1] == [state.orders[order_id]]


def test_incidents_move_orders_in_and_out_of_the_incident_index(server, http) -> None:
    state = server.state
    before = or11(http, server, has_incident="true", paginate="false")
    target = next(
        o
        for o in state.orders.values()
        if o.state == "RECEIVED" and not o.has_incident and len(o.lines) == 1
    )
    # Selections the sequences do not answer alone are cached until an order changes.
    received = {"order_state_codes": "RECEIVED", "paginate": "false"}
    assert target.order_id in [o["order_id"] for o in or11(http, server, **received)["orders"]]
    calm = or11(http, server, has_incident="false", paginate="false")["orders"]
    assert target.order_id in [o["order_id"] for o in calm]
    # An order already in the incident index moves in it when it changes.
    state.advance(5)
    pending_id, pending_line = state.open_incidents()[-1]
    state.resolve_incident(pending_id, pending_line, None)
    moved = or11(http, server, has_incident="true", start_update_date=stamp(state.now_ms()))
    assert [o["order_id"] for o in moved["orders"]] == [pending_id]
    state.advance(5)
    opened = http.post(
        f"{server.base_url}/_sandbox/incidents",
        json={"order_id": target.order_id, "reason_code": "2"},
        timeout=5,
    )
    assert opened.status_code == 201
    after_open = or11(http, server, has_incident="true", paginate="false")
    assert after_open["total_count"] == before["total_count"] + 1
    listed = [o["order_id"] for o in after_open["orders"]]
    assert target.order_id in listed
    calm = or11(http, server, has_incident="false", paginate="false")["orders"]
    assert target.order_id not in [o["order_id"] for o in calm]
    with_incident = or11(http, server, **received, has_incident="true")["orders"]
    assert target.order_id in [o["order_id"] for o in with_incident]
    keys = [(o["created_date"], o["order_id"]) for o in after_open["orders"]]
    assert keys == sorted(keys)
    since = stamp(target.updated_ms)
    recent = or11(http, server, has_incident="true", start_update_date=since, max=100)
    assert target.order_id in [o["order_id"] for o in recent["orders"]]

    line = target.lines[0]
    state.advance(5)
    body = {
        "refunds": [
            {
                "order_line_id": line.line_id,
                "amount": float(line.price),
                "shipping_amount": float(line.shipping_price),
                "reason_code": "17",
            }
        ]
    }
    assert refund(http, server, body).status_code == 200
    after_close = or11(http, server, has_incident="true", paginate="false")
    assert after_close["total_count"] == before["total_count"]
    assert target.order_id not in [o["order_id"] for o in after_close["orders"]]
    without = or11(http, server, has_incident="false", start_update_date=since, max=100)
    assert target.order_id in [o["order_id"] for o in without["orders"]]


def test_or11_filters_and_pages_agree_with_a_scan_after_writes(server, http) -> None:
    state = server.state
    for index in range(6):
        state.advance(7)
        state.create_order(with_incident=index % 2 == 0)
    for order_id, line_id in state.open_incidents()[:3]:
        state.resolve_incident(order_id, line_id, None)
    state.advance(120)  # the resolutions auto-close
    every = or11(http, server, paginate="false")["orders"]
    assert len(every) == 206
    rng = random.Random(5)
    updates = sorted(o["last_updated_date"] for o in every)
    for _ in range(25):
        since = rng.choice(updates)
        params: dict[str, Any] = {"start_update_date": since}
        if rng.random() < 0.5:
            params["has_incident"] = rng.choice(["true", "false"])
        if rng.random() < 0.3:
            params["order"] = "desc"
        # Mirakl's safety delta: one second before the date.
        floor = stamp(parse_mirakl_date(since) - 1000)
        expected = [
            o
            for o in every
            if o["last_updated_date"] >= floor
            and (
                "has_incident" not in params
                or str(o["has_incident"]).lower() == params["has_incident"]
            )
        ]
        if params.get("order") == "desc":
            expected.reverse()
        size = rng.choice([1, 7, 50])
        pages = []
        offset = 0
        while True:
            page = or11(http, server, **params, max=size, offset=offset)
            assert page["total_count"] == len(expected)
            pages += page["orders"]
            offset += size
            if offset >= page["total_count"]:
                break
        assert [o["order_id"] for o in pages] == [o["order_id"] for o in expected]


def test_a_reply_moves_the_thread_to_the_end_of_m11(server, http) -> None:
    url = f"{server.base_url}/api/inbox/threads"
    first = http.get(url, params={"limit": 1}, timeout=5).json()["data"][0]
    customer = next(p for p in first["authorized_participants"] if p["type"] == "CUSTOMER")
    server.state.advance(30)

    posted = m12(http, server, first["id"], {"body": "Gracias, lo revisamos.", "to": [customer]})

    assert posted.status_code == 201
    seen = []
    params: dict[str, Any] = {"limit": 50, "with_messages": "true"}
    while True:
        body = http.get(url, params=params, timeout=5).json()
        seen += body["data"]
        if not body.get("next_page_token"):
            break
        params = {"limit": 50, "page_token": body["next_page_token"]}
    assert [t["id"] for t in seen].count(first["id"]) == 1
    assert seen[-1]["id"] == first["id"]
    assert seen[-1]["messages"][-1]["id"] == posted.json()["message_id"]
    keys = [(t["date_updated"], t["id"]) for t in seen]
    assert keys == sorted(keys)
    recent = http.get(url, params={"updated_since": seen[-1]["date_updated"]}, timeout=5).json()
    assert [t["id"] for t in recent["data"]] == [first["id"]]


# ------------------------------------------------------------- rendering
def test_direct_json_is_byte_for_byte_the_dict_rendering() -> None:
    state = make_state(orders=400, seed=8)
    for index in range(4):
        state.advance(3)
        state.create_order(with_incident=index % 2 == 0)
    for order_id, line_id in state.open_incidents()[:4]:
        state.resolve_incident(order_id, line_id, "INC_SOLVED_INFO")
    thread_id = next(iter(state.threads))
    state.post_message(thread_id, "CUSTOMER", 'Comillas " barra \\ salto\n y €uros 😀')
    renderer = state.renderer
    orders = list(state.orders.values())
    assert any(ln.refunds for o in orders for ln in o.lines)
    assert any(ln.cancelations for o in orders for ln in o.lines)
    for order in orders:
        text = renderer.order_text(order)
        assert text == dumps(renderer.order_dict(order)), order.order_id
        assert renderer.order_json(order) == text.encode()
    for thread in state.threads.values():
        assert renderer.thread_header_text(thread) == dumps(renderer.thread_dict(thread))
        for message in thread.messages:
            assert renderer.message_text(thread, message) == dumps(
                renderer.message_dict(thread, message)
            )


def test_format_ms_is_strftime_with_milliseconds() -> None:
    rng = random.Random(3)
    samples = [0, 999, 1000, 86_399_999, 86_400_000, -1, -86_400_001, 253_402_300_799_999]
    samples += [rng.randint(-(10**12), 10**13) for _ in range(20_000)]
    for ms in samples:
        seconds, millis = divmod(ms, 1000)
        expected = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"
        assert format_ms(ms) == expected


# ---------------------------------------------------------------- warm-up
def test_warm_up_renders_everything_and_changes_still_show() -> None:
    state = make_state(orders=300)
    slices = 0
    while state.warm(0.0005):
        slices += 1
    assert slices > 1 and state.warmed and not state.warm()
    renderer = state.renderer
    for order in state.orders.values():
        assert order.cache == renderer.order_text(order).encode()
    for thread in state.threads.values():
        assert thread.cache == renderer.thread_header_text(thread).encode()
        assert all(m.cache for m in thread.messages)

    order_id, line_id = state.open_incidents()[0]
    state.advance(5)
    state.resolve_incident(order_id, line_id, None)
    thread_id = state.post_message(order_id, "CUSTOMER", "¿Y ahora?")["thread_id"]
    payload = state.order_payload(order_id)
    assert payload["last_updated_date"] == format_ms(state.now_ms())
    assert state.thread_payload(thread_id)["messages"][-1]["body"] == "¿Y ahora?"


def test_warm_up_interleaved_with_writes_misses_nothing() -> None:
    state = make_state(orders=300)
    rng = random.Random(2)
    while state.warm(0.0002):
        state.advance(1)
        if rng.random() < 0.3:
            state.create_order(with_incident=rng.random() < 0.5)
        if rng.random() < 0.3:
            thread_id = rng.choice(list(state.threads))
            state.post_message(thread_id, "OPERATOR", "Seguimos con ello.")
    renderer = state.renderer
    for order in state.orders.values():
        assert order.cache is None or order.cache == renderer.order_text(order).encode()
    for thread in state.threads.values():
        header = renderer.thread_header_text(thread).encode()
        assert thread.cache is None or thread.cache == header


def test_warm_first_renders_the_first_pages_only() -> None:
    state = make_state(orders=300)
    state.warm_first(50, 20)
    orders = sorted(state.orders.values(), key=lambda o: (o.created_ms, o.order_id))
    assert all(o.cache for o in orders[:50]) and not any(o.cache for o in orders[50:])
    threads = [state.threads[key[1]] for key in state.thread_keys]
    assert all(t.cache and all(m.cache for m in t.messages) for t in threads[:20])
    assert not any(t.cache for t in threads[20:])
