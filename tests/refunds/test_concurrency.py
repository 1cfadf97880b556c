"""Two refunds of the same line at the same instant, each on its own Postgres connection.

The order row is locked while a request is validated and stored: the second request
waits for the first to commit, then sees what is left. A pause inside the locked section
(after the remainders are read) makes the race certain rather than lucky.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.db import connection as db_connection
from django.utils import translation

from core.outbox.tasks import outbox_deliver_task
from refunds import services
from refunds.models import RefundRequest
from refunds.rules import RefundLineInput, RefundValidationError
from refunds.services import refund_request_create
from tests.factories.core import UserFactory
from tests.refunds.conftest import REASON

# pytest-django runs transactional tests last, after another may have flushed the groups
# the migrations created: users get the refund permission directly.
pytestmark = pytest.mark.django_db(transaction=True)


def _refunder(username: str):
    user = UserFactory(username=username)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="incidents", codename="refund_incident")
    )
    return type(user).objects.get(pk=user.pk)  # fresh permission cache


def _race(calls: list[dict[str, Any]]) -> list[Any]:
    """Run ``refund_request_create`` once per kwargs, all released at the same instant."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    real_remainders = services.refund_remainders

    def slow_remainders(**kwargs: Any) -> Any:
        rest = real_remainders(**kwargs)
        time.sleep(0.3)  # hold the lock long enough for the other thread to arrive
        return rest

    def run(index: int, kwargs: dict[str, Any]) -> None:
        try:
            barrier.wait(timeout=10)
            with translation.override("en"):
                results[index] = refund_request_create(**kwargs)
        except Exception as exc:  # noqa: BLE001 - reported to the test
            results[index] = exc
        finally:
            db_connection.close()

    with (
        mock.patch.object(services, "refund_remainders", slow_remainders),
        # Delivery is another test's business: here nothing leaves the database.
        mock.patch.object(outbox_deliver_task, "delay"),
    ):
        threads = [threading.Thread(target=run, args=(i, kw)) for i, kw in enumerate(calls)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    return results


def test_two_requests_on_the_same_line_at_once_make_one_refund(shop) -> None:
    line = shop["line1"]
    calls = [
        {
            "order": shop["order"],
            "lines": [RefundLineInput(line_id=line.pk, quantity=1, amount=Decimal("60.00"))],
            "reason_code": REASON,
            "actor": _refunder(f"agent-{n}"),
            "idempotency_key": f"key-{n}",
            "kind": "partial",
        }
        for n in range(2)
    ]

    results = _race(calls)

    created = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, RefundValidationError)]
    assert len(created) == 1 and len(refused) == 1, results
    assert refused[0].errors == {
        (line.pk, "amount"): ["Only 40.00 EUR left to refund on this line."]
    }
    assert RefundRequest.objects.count() == 1


def test_the_same_key_twice_at_once_makes_one_request(shop) -> None:
    agent = _refunder("agent-double")
    kwargs = {
        "order": shop["order"],
        "lines": [RefundLineInput(line_id=shop["line1"].pk, quantity=1, amount=Decimal("10.00"))],
        "reason_code": REASON,
        "actor": agent,
        "idempotency_key": "double-click",
        "kind": "partial",
    }

    results = _race([kwargs, dict(kwargs)])

    assert all(isinstance(r, tuple) for r in results), results
    assert sorted(created for _, created in results) == [False, True]
    assert results[0][0].pk == results[1][0].pk
    assert RefundRequest.objects.count() == 1


def test_two_deliveries_of_one_request_at_once_send_one_refund(
    synced, sandbox, sandbox_client
) -> None:
    """Two workers take the same request (a duplicate enqueue, a redelivered task and the
    sweep): exactly one OR28 reaches Mirakl, the other worker finds it taken."""
    from core.outbox.engine import outbox_deliver
    from mirakl.client import MiraklClient
    from tests.conftest import SANDBOX_KEY
    from tests.refunds.conftest import open_incident_order

    order = open_incident_order()
    line = order.lines.order_by("index", "pk").first()
    with mock.patch.object(outbox_deliver_task, "delay"):
        request, _ = refund_request_create(
            order=order,
            lines=[RefundLineInput(line_id=line.pk, quantity=0, amount=Decimal("3.00"))],
            reason_code=REASON,
            actor=_refunder("agent-delivery"),
            idempotency_key="one-refund",
            kind="partial",
        )
    calls_before = sandbox.state.stats["OR28"]
    done = [threading.Event(), threading.Event()]
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    class WaitsForTheOther(MiraklClient):
        """Holds its OR28 until the other worker has given up, so the two overlap."""

        index = 0

        def refund(self, *args: Any, **kwargs: Any) -> Any:
            done[1 - self.index].wait(timeout=10)
            return super().refund(*args, **kwargs)

    def run(index: int) -> None:
        client = WaitsForTheOther(
            base_url=sandbox.base_url, api_key=SANDBOX_KEY, timeout=(2.0, 5.0), sleep=lambda _: None
        )
        client.index = index
        try:
            barrier.wait(timeout=10)
            with translation.override("en"):
                results[index] = outbox_deliver(entry_id=request.delivery_id, client=client).outcome
        except Exception as exc:  # noqa: BLE001 - reported to the test
            results[index] = exc
        finally:
            done[index].set()
            client.close()
            db_connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(map(str, results)) == ["busy", "sent"], results
    assert sandbox.state.stats["OR28"] - calls_before == 1
    sandbox_order = sandbox.state.orders[order.mirakl_id]
    assert [r.amount for line in sandbox_order.lines for r in line.refunds] == [Decimal("3.00")]
    request.refresh_from_db()
    assert (request.state, request.delivery.attempts) == (RefundRequest.State.SENT, 1)
    # A third delivery, once the first is over, finds it sent.
    assert outbox_deliver(entry_id=request.delivery_id, client=sandbox_client).outcome == "done"
    assert sandbox.state.stats["OR28"] - calls_before == 1
