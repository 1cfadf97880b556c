"""Client side of the control API, for ``manage.py mirakl_sandbox_act`` and scripts.

``build_action`` turns an action name and its options into (method, path, JSON body)
without any I/O, so argument handling is testable; ``run_action`` sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ACTIONS", "ActionRequest", "build_action", "run_action", "statistic_value"]

ACTIONS = (
    "open-incident",
    "message",
    "contest",
    "new-order",
    "shop-state",
    "balance",
    "statistics",
    "faults",
    "tick",
    "advance",
    "state",
)
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, slots=True)
class ActionRequest:
    method: str
    path: str
    payload: dict[str, Any] | None = None


def build_action(action: str, options: dict[str, Any]) -> ActionRequest:
    """The control request for one action. Raises ``ValueError`` on missing options."""

    def need(name: str) -> Any:
        value = options.get(name)
        if value in (None, ""):
            raise ValueError(f"{action} needs --{name.replace('_', '-')}")
        return value

    if action == "open-incident":
        payload: dict[str, Any] = {
            "order_id": need("order"),
            "reason_code": options.get("reason") or "3",
        }
        if options.get("line"):
            payload["line_id"] = options["line"]
        if options.get("body"):
            payload["body"] = options["body"]
        return ActionRequest("POST", "/_sandbox/incidents", payload)
    if action == "message":
        payload = {"party": str(need("party")).upper(), "body": need("body")}
        if options.get("thread"):
            payload["thread_id"] = options["thread"]
        elif options.get("order"):
            payload["order_id"] = options["order"]
        else:
            raise ValueError("message needs --order or --thread")
        return ActionRequest("POST", "/_sandbox/messages", payload)
    if action == "contest":
        payload = {"order_id": need("order"), "line_id": need("line")}
        if options.get("body"):
            payload["body"] = options["body"]
        return ActionRequest("POST", "/_sandbox/contest", payload)
    if action == "new-order":
        payload = {"with_incident": bool(options.get("with_incident"))}
        if options.get("reason"):
            payload["reason_code"] = options["reason"]
        return ActionRequest("POST", "/_sandbox/orders", payload)
    if action == "shop-state":
        payload = {"shop_state": str(need("state")).upper()}
        if options.get("suspension_type"):
            payload["suspension_type"] = str(options["suspension_type"]).upper()
        for name in ("closed_from", "closed_to"):
            value = options.get(name)
            if value is not None:
                payload[name] = None if str(value).lower() in ("", "none", "null") else value
        return ActionRequest("POST", "/_sandbox/account", payload)
    if action == "balance":
        payload = {
            f"{name}_balance": str(options[name])
            for name in ("payable", "pending", "paid")
            if options.get(name) not in (None, "")
        }
        if not payload:
            raise ValueError("balance needs --payable, --pending or --paid")
        return ActionRequest("POST", "/_sandbox/account", payload)
    if action == "statistics":
        pairs = options.get("set") or []
        if not pairs:
            raise ValueError("statistics needs --set KPI=VALUE (e.g. incident_rate=8.5%)")
        values: dict[str, Any] = {}
        for pair in pairs:
            kpi, sep, raw = str(pair).partition("=")
            if not sep or not kpi.strip():
                raise ValueError(f"--set expects KPI=VALUE, got {pair!r}")
            value = statistic_value(raw)
            if options.get("all_periods"):
                # Every period; ``null`` then nulls the whole field (as valid_tracking_rate
                # is without Mirakl's delivery manager).
                values[kpi.strip()] = value
            else:
                values[kpi.strip()] = {str(options.get("period") or "LAST_MONTH"): value}
        payload = {"values": values}
        if options.get("channel"):
            payload["channel"] = options["channel"]
        return ActionRequest("POST", "/_sandbox/statistics", payload)
    if action == "faults":
        return ActionRequest("POST", "/_sandbox/faults", {"spec": options.get("spec") or ""})
    if action == "tick":
        return ActionRequest("POST", "/_sandbox/tick", {})
    if action == "advance":
        return ActionRequest("POST", "/_sandbox/advance", {"seconds": float(need("seconds"))})
    if action == "state":
        return ActionRequest("GET", "/_sandbox/state")
    raise ValueError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")


def statistic_value(raw: str) -> float | int | None:
    """A KPI value as typed on the command line.

    ``8.5%`` is the rate 0.085; ``22h``, ``90m``, ``2d`` or ``3600s`` are seconds (the
    delays); ``null`` is no value; anything else is a plain number.
    """
    text = raw.strip().lower()
    if text in ("null", "none"):
        return None
    try:
        if text.endswith("%"):
            return round(float(text[:-1]) / 100, 6)
        unit = _DURATION_UNITS.get(text[-1:]) if text else None
        if unit is not None:
            return int(round(float(text[:-1]) * unit))
        number = float(text)
    except ValueError:
        raise ValueError(f"not a KPI value: {raw!r} (e.g. 0.085, 8.5%, 22h, 4.1)") from None
    return int(number) if number.is_integer() and "." not in text else number


def run_action(
    url: str, api_key: str, request: ActionRequest, *, timeout: float = 10.0
) -> tuple[int, Any]:
    """Send a control request; returns (HTTP status, decoded JSON body or text)."""
    import requests  # only the command needs it; the server side stays stdlib-only

    response = requests.request(
        request.method,
        url.rstrip("/") + request.path,
        json=request.payload,
        headers={"Authorization": api_key, "Accept": "application/json"},
        timeout=timeout,
    )
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    return response.status_code, body
