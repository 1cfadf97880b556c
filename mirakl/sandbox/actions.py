"""Client side of the control API, for ``manage.py mirakl_sandbox_act`` and scripts.

``build_action`` turns an action name and its options into (method, path, JSON body)
without any I/O, so argument handling is testable; ``run_action`` sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ACTIONS", "ActionRequest", "build_action", "run_action"]

ACTIONS = ("open-incident", "message", "contest", "new-order", "faults", "tick", "advance", "state")


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
    if action == "faults":
        return ActionRequest("POST", "/_sandbox/faults", {"spec": options.get("spec") or ""})
    if action == "tick":
        return ActionRequest("POST", "/_sandbox/tick", {})
    if action == "advance":
        return ActionRequest("POST", "/_sandbox/advance", {"seconds": float(need("seconds"))})
    if action == "state":
        return ActionRequest("GET", "/_sandbox/state")
    raise ValueError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")


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
