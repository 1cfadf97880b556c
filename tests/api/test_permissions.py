"""Every endpoint answers each role as the role's permissions say (table-driven)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

AGENT, MANAGER, ADMIN, ANON, NOBODY = "agent", "account_manager", "admin", "anonymous", None

#: (name, method, path, body, {role: status}); ``{...}`` in the path is filled from ``desk``.
CASES: list[tuple[str, str, str, dict[str, Any] | None, dict[str | None, int]]] = [
    (
        "marketplaces",
        "get",
        "/api/v1/marketplaces/",
        None,
        {AGENT: 200, MANAGER: 200, ADMIN: 200, ANON: 401, NOBODY: 403},
    ),
    (
        "marketplace",
        "get",
        "/api/v1/marketplaces/{connection}/",
        None,
        {AGENT: 200, MANAGER: 200, ADMIN: 200, ANON: 401, NOBODY: 403},
    ),
    (
        "marketplace missing",
        "get",
        "/api/v1/marketplaces/999999/",
        None,
        {AGENT: 404, MANAGER: 404, ADMIN: 404, ANON: 401, NOBODY: 403},
    ),
    (
        "marketplace add",
        "post",
        "/api/v1/marketplaces/",
        {
            "code": "mediamarkt",
            "name": "MediaMarkt",
            "base_url": "https://mm.mirakl.net",
            "api_key": "new-key-abcdef",
        },
        {AGENT: 403, MANAGER: 403, ADMIN: 201, ANON: 401, NOBODY: 403},
    ),
    (
        "marketplace change",
        "patch",
        "/api/v1/marketplaces/{connection}/",
        {"name": "PcC"},
        {AGENT: 403, MANAGER: 403, ADMIN: 200, ANON: 401, NOBODY: 403},
    ),
    (
        "marketplace delete",
        "delete",
        "/api/v1/marketplaces/{connection}/",
        None,
        {AGENT: 405, MANAGER: 405, ADMIN: 405, ANON: 401, NOBODY: 405},
    ),
    (
        "incidents",
        "get",
        "/api/v1/incidents/",
        None,
        {AGENT: 200, MANAGER: 200, ADMIN: 200, ANON: 401, NOBODY: 403},
    ),
    (
        "incidents in a saved view, soonest due first",
        "get",
        "/api/v1/incidents/?view=breaching&marketplace=pccomponentes&ordering=due",
        None,
        {AGENT: 200, MANAGER: 200, ADMIN: 200, ANON: 401, NOBODY: 403},
    ),
    (
        "incidents by order",
        "get",
        "/api/v1/incidents/?order={order}",
        None,
        {AGENT: 200, MANAGER: 200, ADMIN: 200, ANON: 401, NOBODY: 403},
    ),
    (
        "incident",
        "get",
        "/api/v1/incidents/{incident}/",
        None,
        {AGENT: 200, MANAGER: 200, ADMIN: 200, ANON: 401, NOBODY: 403},
    ),
    (
        "incident missing",
        "get",
        "/api/v1/incidents/999999/",
        None,
        {AGENT: 404, MANAGER: 404, ADMIN: 404, ANON: 401, NOBODY: 403},
    ),
    (
        "incident resolve",
        "post",
        "/api/v1/incidents/{order}/resolve/",
        {"reason_code": "INC_SOLVED_DELIVERED"},
        {AGENT: 202, MANAGER: 403, ADMIN: 403, ANON: 401, NOBODY: 403},
    ),
    (
        "incident resolve refused",
        "post",
        "/api/v1/incidents/{order}/resolve/",
        {"reason_code": "not-a-reason"},
        {AGENT: 400, MANAGER: 403, ADMIN: 403, ANON: 401, NOBODY: 403},
    ),
    (
        "incident resolve missing order",
        "post",
        "/api/v1/incidents/nope-1/resolve/",
        {"reason_code": "INC_SOLVED_DELIVERED"},
        {AGENT: 404, MANAGER: 403, ADMIN: 403, ANON: 401, NOBODY: 403},
    ),
    (
        "incident resolve read",
        "get",
        "/api/v1/incidents/{order}/resolve/",
        None,
        {AGENT: 405, MANAGER: 405, ADMIN: 405, ANON: 401, NOBODY: 405},
    ),
    (
        "orders",
        "get",
        "/api/v1/orders/",
        None,
        {AGENT: 200, MANAGER: 200, ADMIN: 200, ANON: 401, NOBODY: 403},
    ),
    (
        "order",
        "get",
        "/api/v1/orders/{order}/",
        None,
        {AGENT: 200, MANAGER: 200, ADMIN: 200, ANON: 401, NOBODY: 403},
    ),
    (
        "order missing",
        "get",
        "/api/v1/orders/nope-1/",
        None,
        {AGENT: 404, MANAGER: 404, ADMIN: 404, ANON: 401, NOBODY: 403},
    ),
    (
        "threads",
        "get",
        "/api/v1/threads/",
        None,
        {AGENT: 200, MANAGER: 200, ADMIN: 200, ANON: 401, NOBODY: 403},
    ),
    (
        "thread",
        "get",
        "/api/v1/threads/{thread}/",
        None,
        {AGENT: 200, MANAGER: 200, ADMIN: 200, ANON: 401, NOBODY: 403},
    ),
    (
        "thread missing",
        "get",
        "/api/v1/threads/nope/",
        None,
        {AGENT: 404, MANAGER: 404, ADMIN: 404, ANON: 401, NOBODY: 403},
    ),
    (
        "reply",
        "post",
        "/api/v1/threads/{thread}/replies/",
        {"recipients": "operator", "body": "Lo revisamos hoy."},
        {AGENT: 201, MANAGER: 403, ADMIN: 403, ANON: 401, NOBODY: 403},
    ),
    (
        "reply missing thread",
        "post",
        "/api/v1/threads/nope/replies/",
        {"recipients": "operator", "body": "Hola"},
        {AGENT: 404, MANAGER: 403, ADMIN: 403, ANON: 401, NOBODY: 403},
    ),
    (
        "no reply",
        "post",
        "/api/v1/threads/{thread}/no-reply/",
        {"reason": "Solo da las gracias.", "confirm": True},
        {AGENT: 201, MANAGER: 403, ADMIN: 403, ANON: 401, NOBODY: 403},
    ),
    (
        "no reply without a reason",
        "post",
        "/api/v1/threads/{thread}/no-reply/",
        {"reason": ""},
        {AGENT: 400, MANAGER: 403, ADMIN: 403, ANON: 401, NOBODY: 403},
    ),
    (
        "no reply missing thread",
        "post",
        "/api/v1/threads/nope/no-reply/",
        {"reason": "Solo da las gracias."},
        {AGENT: 404, MANAGER: 403, ADMIN: 403, ANON: 401, NOBODY: 403},
    ),
    (
        "no reply read",
        "get",
        "/api/v1/threads/{thread}/no-reply/",
        None,
        # The threads' GET permission is checked before the action's methods.
        {AGENT: 405, MANAGER: 405, ADMIN: 405, ANON: 401, NOBODY: 403},
    ),
    (
        "new thread",
        "post",
        "/api/v1/orders/{order}/threads/",
        {"recipients": "operator", "subject": "Recogida", "body": "Pasan mañana."},
        {AGENT: 201, MANAGER: 403, ADMIN: 403, ANON: 401, NOBODY: 403},
    ),
    (
        "new thread unknown reason",
        "post",
        "/api/v1/orders/{order}/threads/",
        {"recipients": "operator", "reason_code": "NOPE", "body": "Hola"},
        {AGENT: 400, MANAGER: 403, ADMIN: 403, ANON: 401, NOBODY: 403},
    ),
    (
        "new thread missing order",
        "post",
        "/api/v1/orders/nope-1/threads/",
        {"recipients": "operator", "subject": "Recogida", "body": "Hola"},
        {AGENT: 404, MANAGER: 403, ADMIN: 403, ANON: 401, NOBODY: 403},
    ),
    (
        "new thread read",
        "get",
        "/api/v1/orders/{order}/threads/",
        None,
        {AGENT: 405, MANAGER: 405, ADMIN: 405, ANON: 401, NOBODY: 405},
    ),
    (
        "refunds",
        "get",
        "/api/v1/refunds/",
        None,
        {AGENT: 200, MANAGER: 200, ADMIN: 200, ANON: 401, NOBODY: 403},
    ),
    (
        "refund request empty",
        "post",
        "/api/v1/refunds/",
        {},
        {AGENT: 400, MANAGER: 403, ADMIN: 403, ANON: 401, NOBODY: 403},
    ),
    (
        "refund request",
        "post",
        "/api/v1/refunds/",
        {
            "order": "59400123-A",
            "kind": "partial",
            "reason_code": "17",
            "lines": [{"order_line_id": "59400123-A-1", "quantity": 0, "amount": "5.00"}],
        },
        {AGENT: 201, MANAGER: 403, ADMIN: 403, ANON: 401, NOBODY: 403},
    ),
    (
        "refund requests",
        "get",
        "/api/v1/refund-requests/",
        None,
        {AGENT: 200, MANAGER: 200, ADMIN: 200, ANON: 401, NOBODY: 403},
    ),
    (
        "refund request detail",
        "get",
        "/api/v1/refund-requests/{refund_request}/",
        None,
        {AGENT: 200, MANAGER: 200, ADMIN: 200, ANON: 401, NOBODY: 403},
    ),
    (
        "refund request missing",
        "get",
        "/api/v1/refund-requests/999999/",
        None,
        {AGENT: 404, MANAGER: 404, ADMIN: 404, ANON: 401, NOBODY: 403},
    ),
    (
        "refund approve",
        "post",
        "/api/v1/refund-requests/{refund_request}/approve/",
        {},
        {AGENT: 200, MANAGER: 403, ADMIN: 403, ANON: 401, NOBODY: 403},
    ),
    (
        "refund reject",
        "post",
        "/api/v1/refund-requests/{refund_request}/reject/",
        {"reason": "No procede"},
        {AGENT: 200, MANAGER: 403, ADMIN: 403, ANON: 401, NOBODY: 403},
    ),
    (
        "refund request change",
        "patch",
        "/api/v1/refund-requests/{refund_request}/",
        {"state": "sent"},
        {AGENT: 405, MANAGER: 405, ADMIN: 405, ANON: 401, NOBODY: 405},
    ),
    (
        "sla breaches",
        "get",
        "/api/v1/sla/breaches/",
        None,
        {AGENT: 403, MANAGER: 200, ADMIN: 200, ANON: 401, NOBODY: 403},
    ),
    (
        "sla kpis",
        "get",
        "/api/v1/sla/kpis/",
        None,
        {AGENT: 403, MANAGER: 200, ADMIN: 200, ANON: 401, NOBODY: 403},
    ),
    (
        "shop health",
        "get",
        "/api/v1/sla/health/",
        None,
        {AGENT: 403, MANAGER: 200, ADMIN: 200, ANON: 401, NOBODY: 403},
    ),
    (
        "shop health of a marketplace",
        "get",
        "/api/v1/sla/health/pccomponentes/",
        None,
        {AGENT: 403, MANAGER: 200, ADMIN: 200, ANON: 401, NOBODY: 403},
    ),
    (
        "shop health of an unknown marketplace",
        "get",
        "/api/v1/sla/health/nope/",
        None,
        {AGENT: 403, MANAGER: 404, ADMIN: 404, ANON: 401, NOBODY: 403},
    ),
    (
        "shop balance",
        "get",
        "/api/v1/sla/health/pccomponentes/balance/",
        None,
        {AGENT: 403, MANAGER: 200, ADMIN: 200, ANON: 401, NOBODY: 403},
    ),
    (
        "shop health write",
        "post",
        "/api/v1/sla/health/pccomponentes/",
        {},
        {AGENT: 405, MANAGER: 405, ADMIN: 405, ANON: 401, NOBODY: 405},
    ),
    (
        "schema",
        "get",
        "/api/schema/",
        None,
        {AGENT: 200, MANAGER: 200, ADMIN: 200, ANON: 401, NOBODY: 200},
    ),
]

PARAMS = [
    pytest.param(method, path, body, role, expected, id=f"{name}-{role or 'no-role'}")
    for name, method, path, body, statuses in CASES
    for role, expected in statuses.items()
]


@pytest.mark.parametrize(("method", "path", "body", "role", "expected"), PARAMS)
def test_endpoint_answers_role(api_client_for, desk, method, path, body, role, expected) -> None:
    url = path.format(
        connection=desk["connection"].pk,
        order=desk["order"].mirakl_id,
        incident=desk["incident"].pk,
        thread=desk["thread"].mirakl_id,
        refund_request=desk["refund_request"].pk,
    )
    client = api_client_for(role)
    # Writes that need one get an Idempotency-Key (a UUID suits every endpoint).
    headers = {"Idempotency-Key": str(uuid.uuid4())} if body else {}
    response = getattr(client, method)(url, body, format="json", headers=headers)
    assert response.status_code == expected, response.content[:500]
    if expected == 401:
        assert response["WWW-Authenticate"] == "Token"
