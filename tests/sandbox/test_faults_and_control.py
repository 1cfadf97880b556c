"""Fault injection, the /_sandbox/ control API and the act command's request builder."""

from __future__ import annotations

import json
import time

import pytest
import requests

from mirakl.sandbox import FaultSpec, parse_fault_spec
from mirakl.sandbox.actions import build_action
from mirakl.sandbox.faults import FaultInjector
from tests.sandbox.conftest import make_server


def control(http, server, path: str, payload: dict | None = None) -> requests.Response:
    url = f"{server.base_url}/_sandbox/{path}"
    if payload is None:
        return http.get(url, timeout=5)
    return http.post(url, json=payload, timeout=5)


# --------------------------------------------------------------------- faults
def test_fault_spec_parsing() -> None:
    spec = parse_fault_spec(
        "429=0.1,500=0.05,timeout=0.02,slow=0.1,slow_ms=800,retry_after=2,timeout_s=5"
    )
    assert spec == FaultSpec(0.1, 0.05, 0.02, 0.1, 800, 2, 5.0)
    assert parse_fault_spec("") == FaultSpec() and not FaultSpec().active
    assert parse_fault_spec(str(spec)) == spec
    late = parse_fault_spec("late=0.5,late_s=40")
    assert (late.rate_late, late.late_s, late.active) == (0.5, 40.0, False)
    assert parse_fault_spec(str(late)) == late
    for bad in ("429=2", "teapot=0.1", "500", "late=1.5"):
        with pytest.raises(ValueError):
            parse_fault_spec(bad)


def test_faults_are_deterministic_for_a_seed() -> None:
    spec = parse_fault_spec("429=0.3,500=0.2,slow=0.5,slow_ms=10")

    def run(seed: int) -> list:
        injector = FaultInjector(spec, seed)
        return [injector.draw() for _ in range(50)]

    assert run(1) == run(1)
    assert run(1) != run(2)
    kinds = {fault.kind for fault in run(1) if fault}
    assert {"429", "500"} <= kinds


def test_429_carries_retry_after_and_500_the_legacy_body(http) -> None:
    with make_server(faults="429=1.0,retry_after=3") as server:
        response = http.get(f"{server.base_url}/api/orders", timeout=5)
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "3"
        assert response.json() == {"status": 429, "message": "Too Many Requests"}
        # Control endpoints never fail.
        assert control(http, server, "state").status_code == 200
        control(http, server, "faults", {"spec": "500=1.0"})
        failed = http.get(f"{server.base_url}/api/reasons", timeout=5)
        assert failed.status_code == 500
        assert failed.json() == {"status": 500, "message": "Internal Server Error"}
        control(http, server, "faults", {"spec": ""})
        assert http.get(f"{server.base_url}/api/reasons", timeout=5).status_code == 200


def test_slow_and_timeout_faults(http) -> None:
    with make_server(faults="slow=1.0,slow_ms=150") as server:
        started = time.perf_counter()
        assert http.get(f"{server.base_url}/api/reasons", timeout=5).status_code == 200
        assert time.perf_counter() - started >= 0.15
        server.state.set_faults("timeout=1.0,timeout_s=0.2")
        with pytest.raises(requests.ConnectionError):
            requests.get(
                f"{server.base_url}/api/reasons",
                headers={"Authorization": server.api_key},
                timeout=5,
            )
        assert server.stats["RE01"] == 2


# -------------------------------------------------------------------- control
def test_control_plays_the_operator_and_the_customer(server, http) -> None:
    state = control(http, server, "state").json()
    order = next(
        o for o in server.state.orders.values()
        if o.state == "RECEIVED" and not any(ln.incidents for ln in o.lines)
    )  # fmt: skip
    server.state.advance(5)

    opened = control(http, server, "incidents", {"order_id": order.order_id, "reason_code": "1"})

    assert opened.status_code == 201
    body = opened.json()
    assert body["line_id"] == order.lines[0].line_id and body["reopened"] is False
    payload = http.get(
        f"{server.base_url}/api/orders", params={"order_ids": order.order_id}, timeout=5
    ).json()["orders"][0]
    line = payload["order_lines"][0]
    assert payload["has_incident"] is True
    assert line["order_line_state"] == "INCIDENT_OPEN"
    assert line["order_line_state_reason_code"] == "1"
    assert line["order_line_state_reason_label"] == "Artículo no recibido"
    thread = http.get(f"{server.base_url}/api/inbox/threads/{body['thread_id']}", timeout=5).json()
    assert thread["messages"][-1]["from"]["type"] == "OPERATOR_USER"
    assert thread["metadata"]["shop_reply_needed_since"] is not None

    written = control(
        http, server, "messages",
        {"order_id": order.order_id, "party": "CUSTOMER", "body": "Sigo sin recibirlo."},
    )  # fmt: skip
    assert written.status_code == 201 and written.json()["thread_id"] == body["thread_id"]
    assert control(http, server, "incidents", {"order_id": order.order_id}).status_code == 400

    after = control(http, server, "state").json()
    assert after["open_incidents"] == state["open_incidents"] + 1
    assert after["messages"] == state["messages"] + 2
    assert after["requests"]["OR11"] == 1


def test_reopening_a_closed_incident_is_recorded(server, http) -> None:
    order_id, line_id = server.state.open_incidents()[0]
    server.state.resolve_incident(order_id, line_id, "INC_SOLVED_DELIVERED")
    assert control(http, server, "advance", {"seconds": 61}).json()["closed_incidents"] >= 1

    again = control(
        http, server, "incidents", {"order_id": order_id, "line_id": line_id, "reason_code": "3"}
    )

    assert again.status_code == 201 and again.json()["reopened"] is True
    history = control(http, server, f"incidents?order_id={order_id}&line_id={line_id}").json()
    assert [i["status"] for i in history["incidents"]][-2:] == ["CLOSED", "OPEN"]
    assert history["incidents"][-1]["reopened"] is True


def test_control_creates_orders_and_ticks(server, http) -> None:
    created = control(http, server, "orders", {"with_incident": True, "reason_code": "4"})
    assert created.status_code == 201
    order_id = created.json()["order_id"]
    listed = http.get(
        f"{server.base_url}/api/orders", params={"has_incident": "true", "order_ids": order_id},
        timeout=5,
    ).json()  # fmt: skip
    assert listed["total_count"] == 1
    thread_ids = server.state.threads_of_order(order_id)
    assert len(thread_ids) == 1
    messages = server.state.thread_payload(thread_ids[0])["messages"]
    assert [m["from"]["type"] for m in messages] == ["CUSTOMER_USER", "OPERATOR_USER"]
    assert control(http, server, "tick", {}).json() == {"closed_incidents": 0}
    plain = control(http, server, "orders", {}).json()
    assert plain["order_id"] != order_id and not server.state.threads_of_order(plain["order_id"])
    bad = control(http, server, "messages", {"order_id": order_id, "party": "ROBOT", "body": "x"})
    assert bad.status_code == 400
    # A colleague of the shop writes in the back office: to the customer by default.
    colleague = control(
        http, server, "messages", {"order_id": order_id, "party": "SHOP", "body": "Te llamo hoy."}
    )
    assert colleague.status_code == 201
    last = server.state.thread_payload(colleague.json()["thread_id"])["messages"][-1]
    assert (last["from"]["type"], [p["type"] for p in last["to"]]) == ("SHOP_USER", ["CUSTOMER"])
    to_itself = {"order_id": order_id, "party": "SHOP", "body": "x", "to": ["SHOP"]}
    assert control(http, server, "messages", to_itself).status_code == 400


def test_a_late_write_is_answered_504_and_applied_after_the_delay(server, http) -> None:
    thread = next(iter(server.state.threads.values()))
    server.state.set_faults("late=1,late_s=40")
    url = f"{server.base_url}/api/inbox/threads/{thread.thread_id}/message"
    payload = {"body": "Respuesta tardía", "to": [{"type": "OPERATOR"}]}
    files = {"message_input": (None, json.dumps(payload), "application/json")}
    before = len(thread.messages)

    answer = http.post(url, files=files, timeout=5)

    assert answer.status_code == 504
    assert len(thread.messages) == before  # not yet
    assert server.state.snapshot()["late_writes"] == 1
    server.state.advance(39)
    assert len(thread.messages) == before
    server.state.advance(1)
    assert thread.messages[-1].body == "Respuesta tardía"
    assert server.state.snapshot()["late_writes"] == 0
    # Reads are never late, nor the control API.
    assert http.get(f"{server.base_url}/api/inbox/threads/{thread.thread_id}", timeout=5).ok
    server.state.set_faults("")


def test_control_renames_a_reason(server, http) -> None:
    renamed = control(
        http, server, "reasons", {"type": "ORDER_MESSAGING", "code": "21", "label": "Factura"}
    )
    assert renamed.status_code == 200
    assert renamed.json() == {
        "code": "21",
        "label": "Factura",
        "type": "ORDER_MESSAGING",
        "is_shop_right": True,
    }
    reasons = http.get(f"{server.base_url}/api/reasons", timeout=5).json()["reasons"]
    labels = {(r["type"], r["code"]): r["label"] for r in reasons}
    assert labels[("ORDER_MESSAGING", "21")] == "Factura"
    assert labels[("ORDER_MESSAGING", "20")] == "Pregunta acerca de mi pedido"
    unknown = control(http, server, "reasons", {"type": "REFUND", "code": "21", "label": "x"})
    assert unknown.status_code == 404
    missing = control(http, server, "reasons", {"type": "REFUND", "code": "17"})
    assert missing.status_code == 400


# ------------------------------------------------------------ act command
def test_act_command_builds_control_requests() -> None:
    request = build_action("open-incident", {"order": "59100001-A", "line": None, "reason": "1"})
    assert (request.method, request.path) == ("POST", "/_sandbox/incidents")
    assert request.payload == {"order_id": "59100001-A", "reason_code": "1"}
    message = build_action("message", {"thread": "t-1", "party": "customer", "body": "Hola"})
    assert message.payload == {"party": "CUSTOMER", "body": "Hola", "thread_id": "t-1"}
    contest = build_action("contest", {"order": "o", "line": "o-1", "body": None})
    assert contest.payload == {"order_id": "o", "line_id": "o-1"}
    assert build_action("new-order", {"with_incident": True}).payload == {"with_incident": True}
    assert build_action("faults", {"spec": "429=0.5"}).payload == {"spec": "429=0.5"}
    assert build_action("state", {}).method == "GET"
    assert build_action("advance", {"seconds": "30"}).payload == {"seconds": 30.0}
    with pytest.raises(ValueError):
        build_action("message", {"party": "customer", "body": "Hola"})
    with pytest.raises(ValueError):
        build_action("dance", {})
