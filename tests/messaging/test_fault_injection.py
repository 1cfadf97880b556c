"""Outbox delivery against a faulty Mirakl: nothing lost, nothing posted twice.

The sandbox fails 30% of the API calls (429, 500 and dropped connections, each 10%) and
the client gives up reading after 0.3 s. On top of that, one successful POST in ten has
its answer "lost" (raised as an unknown outcome after Mirakl stored it), the case only
the check-before-resend can get right. Delivery rounds run until the outbox is empty.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict

import pytest

from messaging.models import OutboundMessage, Party, Thread
from messaging.services import outbound_messages_deliver_pending, outbound_reply_queue
from mirakl.client import MiraklClient
from mirakl.errors import MiraklTransientError
from tests.conftest import SANDBOX_KEY
from tests.messaging.fixtures import control

pytestmark = pytest.mark.django_db

MESSAGES = 24
THREADS = 4
FAULTS = "429=0.1,500=0.1,timeout=0.1,timeout_s=0.5,retry_after=0"


class LosesAnswers(MiraklClient):
    """A client that sometimes loses the answer of a POST that Mirakl did store."""

    def __init__(self, *args, rng: random.Random, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._rng = rng
        self.lost = 0

    def reply_to_thread(self, *args, **kwargs):
        created = super().reply_to_thread(*args, **kwargs)
        if self._rng.random() < 0.1:
            self.lost += 1
            raise MiraklTransientError("answer lost", call="M12", outcome_unknown=True)
        return created


def test_no_message_lost_or_doubled_under_faults(synced, agent, sandbox) -> None:
    threads = [
        thread
        for thread in Thread.objects.filter(order__isnull=False).order_by("pk")
        if any(p.get("type") == Party.CUSTOMER for p in thread.authorized_participants)
    ][:THREADS]
    assert len(threads) == THREADS
    written: dict[str, list[str]] = defaultdict(list)
    for n in range(MESSAGES):
        thread = threads[n % THREADS]
        body = f"Mensaje {n:02d} de prueba de entrega con fallos."
        outbound_reply_queue(
            thread=thread, body=body, choice="CUSTOMER", user=agent, idempotency_key=uuid.uuid4()
        )
        written[thread.mirakl_id].append(body)

    client = LosesAnswers(
        base_url=sandbox.base_url,
        api_key=SANDBOX_KEY,
        timeout=(1.0, 0.3),
        max_retries=2,
        sleep=lambda _: None,
        rng=random.Random(7),
    )
    control(sandbox, "faults", {"spec": FAULTS})
    rounds = 0
    try:
        while OutboundMessage.objects.exclude(state=OutboundMessage.State.SENT).exists():
            rounds += 1
            assert rounds <= 40, "the outbox did not drain"
            outbound_messages_deliver_pending(client_factory=lambda connection: client)
    finally:
        control(sandbox, "faults", {"spec": ""})
        client.close()

    faults = sandbox.stats
    assert client.lost > 0, "no answer was lost: the check-before-resend was not exercised"
    assert faults["M10"] > 0  # the checks ran
    for thread_id, bodies in written.items():
        shop = [
            m["body"]
            for m in sandbox.state.thread_payload(thread_id)["messages"]
            if m["from"]["organization_details"]["type"] == "SHOP" and m["body"] in bodies
        ]
        assert shop == bodies  # every one, once, in the order written
    ids = list(OutboundMessage.objects.values_list("mirakl_message_id", flat=True))
    assert len(set(ids)) == MESSAGES and all(ids)
