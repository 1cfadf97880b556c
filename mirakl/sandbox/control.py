"""Control endpoints under ``/_sandbox/``: the sandbox playing the customer and the operator.

They are not part of the Mirakl API; they let demos and tests make things happen (open an
incident, write as the customer, contest a resolution, create an order, rename a reason,
suspend or close the shop, change its balances and its statistics, inject faults, move
time). Same API key as the API; faults never apply here.
"""

from __future__ import annotations

from typing import Any

from mirakl.sandbox.api import Route, make_route
from mirakl.sandbox.state import SandboxState
from mirakl.sandbox.wire import ApiError, Request, Response, json_response

__all__ = ["CONTROL_ROUTES"]


def _payload(req: Request) -> dict[str, Any]:
    payload = req.json_body()
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise ApiError(400, "A JSON object is expected")
    return payload


def _text(payload: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = payload.get(name)
    if value is None or value == "":
        if required:
            raise ApiError(400, f"The field '{name}' is required")
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ApiError(400, f"The field '{name}' must be a string")
    return str(value)


def open_incident(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    payload = _payload(req)
    result = state.open_incident(
        _text(payload, "order_id", required=True) or "",
        _text(payload, "line_id"),
        _text(payload, "reason_code") or "3",
        _text(payload, "body"),
    )
    return json_response(201, result)


def post_message(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    payload = _payload(req)
    target = _text(payload, "thread_id") or _text(payload, "order_id")
    if target is None:
        raise ApiError(400, "The field 'thread_id' or 'order_id' is required")
    to = payload.get("to")
    if to is not None and (not isinstance(to, list) or not all(isinstance(t, str) for t in to)):
        raise ApiError(400, "The field 'to' must be a list of CUSTOMER/OPERATOR/SHOP")
    result = state.post_message(
        target,
        party=_text(payload, "party") or "CUSTOMER",
        body=_text(payload, "body", required=True) or "",
        to=to,
    )
    return json_response(201, result)


def contest(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    payload = _payload(req)
    result = state.contest_resolution(
        _text(payload, "order_id", required=True) or "",
        _text(payload, "line_id", required=True) or "",
        _text(payload, "body"),
    )
    return json_response(201, result)


def create_order(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    payload = _payload(req)
    with_incident = payload.get("with_incident", False)
    if not isinstance(with_incident, bool):
        raise ApiError(400, "The field 'with_incident' must be a boolean")
    result = state.create_order(
        with_incident=with_incident,
        reason_code=_text(payload, "reason_code") or "3",
        state=_text(payload, "state") or "RECEIVED",
    )
    return json_response(201, result)


def set_faults(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    payload = _payload(req)
    spec: Any = payload.get("spec", payload or None)
    try:
        parsed = state.set_faults(spec)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, f"Invalid fault spec: {exc}") from None
    return json_response(200, {"faults": parsed.as_dict(), "spec": str(parsed)})


def tick(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    return json_response(200, {"closed_incidents": state.tick()})


def advance(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    payload = _payload(req)
    seconds = payload.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ApiError(400, "The field 'seconds' must be a non-negative number")
    closed = state.advance(float(seconds))
    return json_response(200, {"closed_incidents": closed, "now": state.snapshot()["now"]})


def relabel_reason(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    payload = _payload(req)
    result = state.relabel_reason(
        _text(payload, "type", required=True) or "",
        _text(payload, "code", required=True) or "",
        _text(payload, "label", required=True) or "",
    )
    return json_response(200, result)


def snapshot(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    return json_response(200, state.snapshot())


def incident_history(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    order_id = req.param("order_id")
    if not order_id:
        raise ApiError(400, "The parameter 'order_id' is required")
    history = state.incident_history(order_id, req.param("line_id"))
    return json_response(200, {"incidents": history})


def update_account(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    """Shop state, suspension type, closing dates and balances (what A01 shows)."""
    payload = _payload(req)
    if not payload:
        raise ApiError(400, "Nothing to change: send shop_state, closing dates or balances")
    return json_response(200, state.account.update(payload, state.now_ms()))


def account_summary(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    return json_response(200, state.account.summary())


def set_statistics(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    """KPIs per period, overall or for one channel (what A21 shows)."""
    payload = _payload(req)
    values = payload.get("values")
    if not isinstance(values, dict):
        raise ApiError(400, "The field 'values' must be an object: {kpi: {period: value}}")
    channel = _text(payload, "channel")
    return json_response(
        200, state.account.set_statistics(values, channel=channel, now_ms=state.now_ms())
    )


CONTROL_ROUTES: tuple[Route, ...] = (
    make_route("POST", "/_sandbox/incidents", "SANDBOX", open_incident),
    make_route("GET", "/_sandbox/incidents", "SANDBOX", incident_history),
    make_route("POST", "/_sandbox/messages", "SANDBOX", post_message),
    make_route("POST", "/_sandbox/contest", "SANDBOX", contest),
    make_route("POST", "/_sandbox/orders", "SANDBOX", create_order),
    make_route("POST", "/_sandbox/faults", "SANDBOX", set_faults),
    make_route("POST", "/_sandbox/tick", "SANDBOX", tick),
    make_route("POST", "/_sandbox/advance", "SANDBOX", advance),
    make_route("POST", "/_sandbox/reasons", "SANDBOX", relabel_reason),
    make_route("GET", "/_sandbox/state", "SANDBOX", snapshot),
    make_route("POST", "/_sandbox/account", "SANDBOX", update_account),
    make_route("GET", "/_sandbox/account", "SANDBOX", account_summary),
    make_route("POST", "/_sandbox/statistics", "SANDBOX", set_statistics),
)
