"""Refund delivery against a faulty Mirakl: every refund made, none made twice.

The sandbox fails 30% of the API calls (429, 500 and timeouts, 10% each) and the client
gives up reading after 0.3 s. On top of that, one OR28 in five that Mirakl applied has
its answer "lost" (an unknown outcome), the case only the check-before-resend gets
right. Sweeps run until every request is sent.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from incidents.models import Incident
from mirakl.client import MiraklClient
from mirakl.errors import MiraklTransientError
from refunds.models import RefundRequest
from refunds.services import RefundLineInput, refund_request_create, refund_requests_deliver_pending
from tests.conftest import SANDBOX_KEY
from tests.messaging.fixtures import control
from tests.refunds.conftest import REASON

pytestmark = pytest.mark.django_db

FAULTS = "429=0.1,500=0.1,timeout=0.1,timeout_s=0.5,retry_after=0"
ORDERS = 4
PER_ORDER = 3


class LosesAnswers(MiraklClient):
    """A client that sometimes loses the answer of an OR28 that Mirakl did apply."""

    def __init__(self, *args, rng: random.Random, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._rng = rng
        self.lost = 0

    def refund(self, *args, **kwargs):
        result = super().refund(*args, **kwargs)
        if self._rng.random() < 0.2:
            self.lost += 1
            raise MiraklTransientError("answer lost", call="OR28", outcome_unknown=True)
        return result


def test_no_refund_lost_or_doubled_under_faults(synced, sandbox, agent) -> None:
    orders = []
    for incident in Incident.objects.filter(closed_at__isnull=True).select_related("order"):
        lines = list(incident.order.lines.all())
        if incident.order not in orders and all(line.can_refund for line in lines):
            orders.append(incident.order)
    orders = orders[:ORDERS]
    assert len(orders) == ORDERS
    wanted: dict[str, list[Decimal]] = {}
    for order in orders:
        line = order.lines.order_by("index", "pk").first()
        wanted[order.mirakl_id] = []
        for n in range(PER_ORDER):
            amount = Decimal(f"1.{n:02d}")
            refund_request_create(
                order=order,
                lines=[RefundLineInput(line_id=line.pk, quantity=0, amount=amount)],
                reason_code=REASON,
                actor=agent,
                idempotency_key=f"{order.mirakl_id}-{n}",
                kind="partial",
            )
            wanted[order.mirakl_id].append(amount)

    client = LosesAnswers(
        base_url=sandbox.base_url,
        api_key=SANDBOX_KEY,
        timeout=(1.0, 0.3),
        max_retries=2,
        sleep=lambda _: None,
        rng=random.Random(11),
    )
    control(sandbox, "faults", {"spec": FAULTS})
    rounds = 0
    try:
        while RefundRequest.objects.exclude(state=RefundRequest.State.SENT).exists():
            rounds += 1
            assert rounds <= 60, "the refunds were not all sent"
            refund_requests_deliver_pending(
                client_factory=lambda connection: client,
                now=timezone.now() + timedelta(minutes=2 * rounds),
            )
    finally:
        control(sandbox, "faults", {"spec": ""})
        client.close()

    assert client.lost > 0, "no answer was lost: the check-before-resend was not exercised"
    for order_id, amounts in wanted.items():
        made = [
            refund.amount
            for line in sandbox.state.orders[order_id].lines
            for refund in line.refunds
        ]
        assert made == amounts  # every one, once, in the order asked
    ids = list(
        RefundRequest.objects.values_list("lines__mirakl_refund_id", flat=True).order_by("pk")
    )
    assert len(set(ids)) == ORDERS * PER_ORDER and all(ids)
