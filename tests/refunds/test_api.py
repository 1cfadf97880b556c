"""``POST /api/v1/refunds/`` and ``/api/v1/refund-requests/``."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from incidents.models import AuditEntry
from refunds.models import RefundRequest
from tests.factories.core import OrderFactory, OrderLineFactory
from tests.factories.refunds import RefundLimitFactory
from tests.refunds.conftest import REASON

pytestmark = pytest.mark.django_db

URL = "/api/v1/refunds/"


def client_of(user) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    return client


def body(**overrides):
    return {
        "order": "59400001-A",
        "kind": "partial",
        "reason_code": REASON,
        "lines": [
            {
                "order_line_id": "59400001-A-1",
                "quantity": 1,
                "amount": "50.00",
                "shipping_amount": "6.05",
                "taxes": [{"code": "IVA21", "amount": "8.68"}],
                "shipping_taxes": [{"code": "IVA21", "amount": "1.05"}],
            }
        ],
    } | overrides


def post(client, data, key="key-1"):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(URL, data, format="json", headers=headers)


def test_partial_refund_is_created_then_replayed(shop, agent) -> None:
    client = client_of(agent)

    response = post(client, body())

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["state"] == "queued" and data["total"] == "56.05"
    assert data["order"] == "59400001-A" and data["marketplace"] == "pcc-factory"
    assert data["lines"] == [
        {
            "order_line_id": "59400001-A-1",
            "quantity": 1,
            "amount": "50.00",
            "shipping_amount": "6.05",
            "taxes": [{"code": "IVA21", "amount": "8.68"}],
            "shipping_taxes": [{"code": "IVA21", "amount": "1.05"}],
            "mirakl_refund_id": "",
        }
    ]
    assert AuditEntry.objects.get(action="refund_requested").source == AuditEntry.Source.API

    again = post(client, body())
    assert again.status_code == 200 and again.json()["id"] == data["id"]
    assert RefundRequest.objects.count() == 1

    conflict = post(client, body(reason_code="15"))
    assert conflict.status_code == 409
    assert conflict.json() == {
        "non_field_errors": ["This idempotency key was already used for a different refund."]
    }


def test_idempotency_key_is_required(shop, agent) -> None:
    response = post(client_of(agent), body(), key=None)
    assert response.status_code == 400
    assert response.json() == {
        "Idempotency-Key": ["This header is required: a unique key per refund."]
    }


def test_errors_are_given_per_field_and_line(shop, agent) -> None:
    data = body(
        reason_code="nope",
        lines=[
            {"order_line_id": "59400001-A-1", "quantity": 3, "amount": "100.01"},
            {"order_line_id": "59400001-A-2", "amount": "1.001"},
        ],
    )
    response = post(client_of(agent), data)
    assert response.status_code == 400
    assert response.json() == {
        "reason_code": ["Choose a refund reason from the marketplace's list."]
    }

    response = post(client_of(agent), data | {"reason_code": REASON}, key="key-2")
    assert response.status_code == 400
    assert response.json() == {
        "lines": {
            "59400001-A-1": {
                "quantity": ["Only 2 units left to refund on this line."],
                "amount": ["Only 100.00 EUR left to refund on this line."],
            },
            "59400001-A-2": {"amount": ["Enter an amount with at most two decimals."]},
        }
    }


def test_unknown_line_and_order(shop, agent) -> None:
    client = client_of(agent)
    response = post(client, body(lines=[{"order_line_id": "nope", "amount": "1.00"}]))
    assert response.status_code == 400
    assert response.json() == {
        "lines": {"nope": {"non_field_errors": ["This line is not part of order 59400001-A."]}}
    }
    response = post(client, body(order="nope"), key="key-2")
    assert (response.status_code, response.json()) == (400, {"order": ["No order with this id."]})
    response = post(client, body(lines=[]), key="key-3")
    assert response.json() == {"lines": ["A partial refund needs at least one line."]}


def test_order_id_on_two_marketplaces_needs_the_marketplace(shop, agent) -> None:
    other = OrderFactory(mirakl_id="59400001-A", connection__code="mediamarkt")
    OrderLineFactory(order=other, mirakl_id="59400001-A-1")
    client = client_of(agent)
    response = post(client, body())
    assert response.status_code == 400
    assert response.json() == {
        "marketplace": ["Several marketplaces have this order id: name one."]
    }
    response = post(client, body(marketplace="pcc-factory"))
    assert response.status_code == 201
    assert RefundRequest.objects.get().order == shop["order"]


def test_full_refund_without_lines(shop, agent) -> None:
    RefundLimitFactory(user=agent, limit=None)
    response = post(client_of(agent), {"order": "59400001-A", "kind": "full", "reason_code": "15"})
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["kind"] == "full" and data["total"] == "126.05"
    assert [line["order_line_id"] for line in data["lines"]] == ["59400001-A-1", "59400001-A-2"]


def test_over_the_limit_waits_for_approval_by_someone_else(shop, agent, approver) -> None:
    RefundLimitFactory(user=agent, limit=Decimal("10.00"))
    response = post(client_of(agent), body())
    assert response.status_code == 201
    data = response.json()
    assert data["state"] == "awaiting_approval" and data["needs_approval"] is True

    approve = f"/api/v1/refund-requests/{data['id']}/approve/"
    own = client_of(agent).post(approve, {}, format="json")
    assert own.status_code == 403 and own.json()["code"] == "self_approval"

    approved = client_of(approver).post(approve, {}, format="json")
    assert approved.status_code == 200
    assert approved.json()["state"] == "queued" and approved.json()["approved_by"] == "jefa"

    again = client_of(approver).post(approve, {}, format="json")
    assert again.status_code == 409


def test_refund_requests_list_filters(shop, agent) -> None:
    client = client_of(agent)
    post(client, body())
    listed = client.get("/api/v1/refund-requests/?state=queued&order=59400001-A").json()
    assert [r["state"] for r in listed["results"]] == ["queued"]
    assert client.get("/api/v1/refund-requests/?state=sent").json()["results"] == []
    bogus = client.get("/api/v1/refund-requests/?state=bogus")
    assert bogus.status_code == 400
    assert "state" in bogus.json()


def test_manager_cannot_refund(shop, make_user) -> None:
    response = post(client_of(make_user("account_manager")), body())
    assert response.status_code == 403
