"""The sandbox's write side: M12, OR43, OR64 (+ auto-close and contest) and OR28."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import requests

from mirakl.sandbox import SandboxServer
from mirakl.sandbox.samples import SAMPLE_PNG
from tests.sandbox.conftest import make_server


def m12(http, server, thread_id: str, message_input: Any, files=()) -> requests.Response:
    parts = [("message_input", (None, json.dumps(message_input), "application/json"))]
    parts += [("files", f) for f in files]
    return http.post(
        f"{server.base_url}/api/inbox/threads/{thread_id}/message", files=parts, timeout=5
    )


def order_json(http, server, order_id: str) -> dict[str, Any]:
    response = http.get(f"{server.base_url}/api/orders", params={"order_ids": order_id}, timeout=5)
    return response.json()["orders"][0]


def thread_json(http, server, thread_id: str) -> dict[str, Any]:
    return http.get(f"{server.base_url}/api/inbox/threads/{thread_id}", timeout=5).json()


def resolve(http, server, order_id: str, line_id: str, body: Any = None) -> requests.Response:
    url = f"{server.base_url}/api/orders/{order_id}/lines/{line_id}/resolve_incident"
    return http.put(url, json=body, timeout=5)


def refund(http, server, body: Any) -> requests.Response:
    return http.put(f"{server.base_url}/api/orders/refund", json=body, timeout=5)


def needing_reply(server: SandboxServer) -> str:
    return next(t.thread_id for t in server.state.threads.values() if t.shop_reply_needed_since)


# ------------------------------------------------------------------------ M12
def test_m12_reply_is_appended_and_clears_reply_needed(server, http) -> None:
    thread_id = needing_reply(server)
    before = thread_json(http, server, thread_id)
    assert before["metadata"]["shop_reply_needed_since"] is not None
    customer = next(p for p in before["authorized_participants"] if p["type"] == "CUSTOMER")
    server.state.advance(30)

    response = m12(
        http,
        server,
        thread_id,
        {"body": "Le enviamos hoy una unidad nueva.", "to": [customer, {"type": "OPERATOR"}]},
        files=[("etiqueta.png", SAMPLE_PNG, "image/png")],
    )

    assert response.status_code == 201
    created = response.json()
    assert created["thread_id"] == thread_id
    after = thread_json(http, server, thread_id)
    last = after["messages"][-1]
    assert last["id"] == created["message_id"]
    assert last["from"]["type"] == "SHOP_USER"
    assert last["from"]["display_name"] == server.state.shop.user_email
    assert last["from"]["organization_details"]["type"] == "SHOP"
    assert {r["type"] for r in last["to"]} == {"CUSTOMER", "OPERATOR"}
    assert after["metadata"]["shop_reply_needed_since"] is None
    assert after["metadata"]["last_sender"]["type"] == "SHOP_USER"
    assert after["metadata"]["total_count"] == before["metadata"]["total_count"] + 1
    assert after["date_updated"] > before["date_updated"]
    attachment = last["attachments"][0]
    assert attachment["name"] == "etiqueta.png" and attachment["size"] == len(SAMPLE_PNG)
    download = http.get(
        f"{server.base_url}/api/inbox/threads/{attachment['id']}/download", timeout=5
    )
    assert download.content == SAMPLE_PNG
    # Incremental M11 sync sees the thread.
    since = after["date_updated"]
    listed = http.get(
        f"{server.base_url}/api/inbox/threads", params={"updated_since": since}, timeout=5
    ).json()["data"]
    assert [t["id"] for t in listed] == [thread_id]


def test_m12_rejects_bad_input(server, http) -> None:
    thread_id = next(iter(server.state.threads))
    cases = [
        {"to": [{"type": "CUSTOMER"}]},
        {"body": "Hola", "to": []},
        {"body": "Hola"},
        {"body": "Hola", "to": [{"type": "SUPPLIER"}]},
        {"body": "Hola", "to": [{"type": "SHOP"}]},
        {"body": "Hola", "to": [{"type": "CUSTOMER", "id": "someone-else"}]},
        {"body": "Hola", "to": ["CUSTOMER"]},
    ]
    count = len(server.state.threads[thread_id].messages)
    for message_input in cases:
        response = m12(http, server, thread_id, message_input)
        assert response.status_code == 400, message_input
        assert response.json()["status"] == 400
    as_json = http.post(
        f"{server.base_url}/api/inbox/threads/{thread_id}/message",
        json={"body": "Hola", "to": [{"type": "OPERATOR"}]},
        timeout=5,
    )
    assert as_json.status_code in (400, 415)
    missing = m12(http, server, "no-such-thread", {"body": "Hola", "to": [{"type": "OPERATOR"}]})
    assert missing.status_code == 404
    assert len(server.state.threads[thread_id].messages) == count


# ------------------------------------------------------------------------ OR43
def test_or43_starts_a_thread_on_the_order(server, http) -> None:
    order_id = next(iter(server.state.orders))
    thread_input = {
        "body": "Le escribimos en relación con su pedido.",
        "to": ["CUSTOMER", "OPERATOR"],
        "topic": {"type": "REASON_CODE", "value": "20"},
    }
    response = http.post(
        f"{server.base_url}/api/orders/{order_id}/threads",
        files=[("thread_input", (None, json.dumps(thread_input), "application/json"))],
        timeout=5,
    )
    assert response.status_code == 201
    created = response.json()
    thread = thread_json(http, server, created["thread_id"])
    assert thread["entities"] == [{"id": order_id, "label": order_id, "type": "MMP_ORDER"}]
    assert {p["type"] for p in thread["authorized_participants"]} == {
        "CUSTOMER", "OPERATOR", "SHOP"
    }  # fmt: skip
    assert thread["topic"] == {"type": "REASON_CODE", "value": "20"}
    assert thread["messages"][0]["id"] == created["message_id"]
    assert thread["metadata"]["shop_reply_needed_since"] is None

    def post(order: str, payload: Any) -> int:
        files = [("thread_input", (None, json.dumps(payload), "application/json"))]
        url = f"{server.base_url}/api/orders/{order}/threads"
        return http.post(url, files=files, timeout=5).status_code

    assert post("0000-A", thread_input) == 404
    assert post(order_id, {**thread_input, "to": [{"type": "CUSTOMER"}]}) == 400
    assert post(order_id, {**thread_input, "topic": None}) == 400
    assert post(order_id, {**thread_input, "topic": {"type": "REASON_CODE", "value": "1"}}) == 400


# ------------------------------------------------------------------------ OR64
def test_or64_resolution_closes_after_the_delay(server, http) -> None:
    order_id, line_id = server.state.open_incidents()[0]
    state_before = server.state.orders[order_id].line(line_id).incidents[-1].state_before
    before = order_json(http, server, order_id)
    server.state.advance(1)

    response = resolve(http, server, order_id, line_id, {"reason_code": "INC_SOLVED_REPLACEMENT"})

    assert response.status_code == 204 and response.content == b""
    still = order_json(http, server, order_id)
    line = next(ln for ln in still["order_lines"] if ln["order_line_id"] == line_id)
    assert line["order_line_state"] == "INCIDENT_OPEN"
    assert still["last_updated_date"] > before["last_updated_date"]

    server.state.advance(59)
    assert order_json(http, server, order_id)["has_incident"] is True
    server.state.advance(1)
    closed = order_json(http, server, order_id)
    line = next(ln for ln in closed["order_lines"] if ln["order_line_id"] == line_id)
    assert line["order_line_state"] == state_before
    assert line["order_line_state_reason_code"] is None
    assert closed["has_incident"] is any(
        ln["order_line_state"] == "INCIDENT_OPEN" for ln in closed["order_lines"]
    )
    assert closed["last_updated_date"] > still["last_updated_date"]
    history = server.state.incident_history(order_id, line_id)[-1]
    assert history["status"] == "CLOSED" and history["closed_by"] == "AUTO_AFTER_RESOLUTION"
    assert resolve(http, server, order_id, line_id).status_code == 400


def test_or64_validation(server, http) -> None:
    order_id, line_id = server.state.open_incidents()[0]
    calm = next(o for o in server.state.orders.values() if not o.has_incident)
    not_open = resolve(http, server, calm.order_id, calm.lines[0].line_id, {"reason_code": None})
    assert not_open.status_code == 400
    assert not_open.json()["status"] == 400 and not_open.json()["message"]
    wrong_type = resolve(http, server, order_id, line_id, {"reason_code": "3"})
    assert wrong_type.status_code == 400
    operator_only = resolve(http, server, order_id, line_id, {"reason_code": "INC_CLOSED_OPERATOR"})
    assert operator_only.status_code == 400
    assert resolve(http, server, "0-A", "0-A-1").status_code == 404
    assert resolve(http, server, order_id, f"{order_id}-9").status_code == 404
    assert resolve(http, server, order_id, line_id).status_code == 204  # reason is optional


def test_contest_cancels_the_pending_close(server, http) -> None:
    order_id, line_id = server.state.open_incidents()[1]
    assert (
        resolve(http, server, order_id, line_id, {"reason_code": "INC_SOLVED_INFO"}).status_code
        == 204
    )
    server.state.advance(10)

    contested = http.post(
        f"{server.base_url}/_sandbox/contest",
        json={"order_id": order_id, "line_id": line_id},
        timeout=5,
    )

    assert contested.status_code == 201
    server.state.advance(3600)
    order = order_json(http, server, order_id)
    line = next(ln for ln in order["order_lines"] if ln["order_line_id"] == line_id)
    assert line["order_line_state"] == "INCIDENT_OPEN" and order["has_incident"] is True
    thread = thread_json(http, server, contested.json()["thread_id"])
    assert thread["messages"][-1]["from"]["type"] == "OPERATOR_USER"
    assert thread["messages"][-1]["body"].startswith("Impugnamos la resolución")
    assert thread["metadata"]["shop_reply_needed_since"] is not None
    assert server.state.incident_history(order_id, line_id)[-1]["status"] == "CONTESTED"
    # Contesting what is not resolved is refused.
    again = http.post(
        f"{server.base_url}/_sandbox/contest",
        json={"order_id": order_id, "line_id": line_id},
        timeout=5,
    )
    assert again.status_code == 400


# ------------------------------------------------------------------------ OR28
def _incident_line(server: SandboxServer, *, single: bool):
    for order_id, line_id in server.state.open_incidents():
        order = server.state.orders[order_id]
        line = order.line(line_id)
        if (len(order.lines) == 1) == single and not line.refunds and line.shipping_price == 0:
            return order, line
    raise AssertionError("no suitable incident line")


def test_or28_partial_refund_keeps_the_incident_open(server, http) -> None:
    order, line = _incident_line(server, single=True)
    balance = server.state.payable_balance

    response = refund(
        http,
        server,
        {
            "order_tax_mode": "TAX_INCLUDED",
            "refunds": [
                {
                    "order_line_id": line.line_id,
                    "amount": 10.00,
                    "shipping_amount": 0,
                    "quantity": 1,
                    "reason_code": "19",
                    "taxes": [{"code": "IVA21", "amount": 1.74}],
                    "shipping_taxes": [{"code": "IVA21", "amount": 0}],
                    "currency_iso_code": "EUR",
                }
            ],
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert body["order_tax_mode"] == "TAX_INCLUDED"
    created = body["refunds"][0]
    assert created["refund_id"] and created["order_line_id"] == line.line_id
    assert created["amount"] == 10.0 and created["taxes"] == [{"amount": 1.74, "code": "IVA21"}]
    payload = order_json(http, server, order.order_id)
    line_json = payload["order_lines"][0]
    assert line_json["order_line_state"] == "INCIDENT_OPEN" and payload["has_incident"] is True
    entry = line_json["refunds"][-1]
    assert entry["id"] == created["refund_id"] and entry["state"] == "WAITING_REFUND"
    assert entry["amount"] == 10.0 and entry["reason_code"] == "19"
    assert line_json["can_refund"] is True and payload["fully_refunded"] is False
    assert server.state.payable_balance == balance - Decimal("10.00")


def test_or28_full_refund_closes_the_incident(server, http) -> None:
    order, line = _incident_line(server, single=True)
    response = refund(
        http,
        server,
        {
            "refunds": [
                {
                    "order_line_id": line.line_id,
                    "amount": float(line.price),
                    "shipping_amount": float(line.shipping_price),
                    "quantity": line.quantity,
                    "reason_code": "17",
                }
            ]
        },
    )
    assert response.status_code == 200, response.text
    payload = order_json(http, server, order.order_id)
    line_json = payload["order_lines"][0]
    assert payload["fully_refunded"] is True and payload["has_incident"] is False
    assert line_json["order_line_state"] != "INCIDENT_OPEN" and line_json["can_refund"] is False
    history = server.state.incident_history(order.order_id, line.line_id)[-1]
    assert history["closed_by"] == "FULL_REFUND"
    has_incident = http.get(
        f"{server.base_url}/api/orders",
        params={"has_incident": "true", "order_ids": order.order_id},
        timeout=5,
    ).json()
    assert has_incident["total_count"] == 0


def test_or28_refusals_change_nothing(http) -> None:
    with make_server(payable_balance=Decimal("50.00")) as server:
        order, line = _incident_line(server, single=True)
        cheap = next(
            (o, ln) for o in server.state.orders.values() for ln in o.lines
            if ln.state == "RECEIVED" and not ln.refunds and 10 < ln.price < 40
        )  # fmt: skip
        before = order_json(http, server, order.order_id)
        balance = server.state.payable_balance

        def refuse(body: Any, message: str) -> None:
            response = refund(http, server, body)
            assert response.status_code == 400, body
            assert response.json()["status"] == 400
            assert message in response.json()["message"], response.json()

        item = {
            "order_line_id": line.line_id,
            "amount": 5.0,
            "shipping_amount": 0,
            "reason_code": "19",
        }
        over = {**item, "amount": float(line.price) + 0.01}
        refuse({"refunds": [over]}, line.line_id)
        refuse({"refunds": [item, {**item, "amount": float(line.price)}]}, line.line_id)
        refuse({"refunds": [{**item, "shipping_amount": 1000.0}]}, line.line_id)
        refuse({"refunds": [{**item, "reason_code": "3"}]}, "reason")
        refuse({"refunds": [{**item, "order_line_id": "nope"}]}, "nope")
        refuse({"refunds": [{**item, "amount": "5.00"}]}, "Please check the field datatype")
        refuse({"refunds": {}}, "Error with field refunds. Please check the field datatype.")
        refuse(
            {"refunds": [{**item, "amount": 30.0}, {**item, "order_line_id": cheap[1].line_id,
                                                   "amount": float(cheap[1].price)}]},
            "The shop does not have a sufficient payable balance for the refund",
        )  # fmt: skip
        malformed = http.put(
            f"{server.base_url}/api/orders/refund", data=b"{not json", timeout=5,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        assert malformed.status_code == 400

        assert order_json(http, server, order.order_id) == before
        assert server.state.payable_balance == balance
        assert not cheap[1].refunds
