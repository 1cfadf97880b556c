"""The outbox engine with a fake adapter: claim, order per group, check first, retries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from core.outbox import adapters as registry
from core.outbox.adapters import Adapter, Check, DeliveryRefused, DeliveryTransient
from core.outbox.checks import outbox_adapters_check
from core.outbox.engine import (
    BACKOFF_MAX_SECONDS,
    LEASE,
    outbox_deliver,
    outbox_deliver_pending,
    outbox_enqueue,
    outbox_requeue,
    retry_delay,
)
from core.outbox.kinds import OutboxKind
from core.outbox.models import OutboxEntry
from mirakl.errors import (
    MiraklBadRequest,
    MiraklPayloadError,
    MiraklRateLimited,
    MiraklTransientError,
)

pytestmark = pytest.mark.django_db

State = OutboxEntry.State
KIND = OutboxKind.SLA_EMAIL  # its adapter is swapped for the fake one below


class FakeAdapter(Adapter):
    """Sends nowhere: the row is the entry itself; ``script`` says what each call does."""

    kind = KIND
    call = "FAKE"
    max_attempts = 3

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.looked: list[int] = []
        self.delivered: set[int] = set()  # what "the other end" holds
        self.script: dict[int, list[Any]] = {}  # entry pk -> exceptions to raise, in turn
        self.check_script: dict[int, list[Any]] = {}
        self.events: list[tuple[str, int]] = []
        self.gone: set[int] = set()

    def load(self, entry: OutboxEntry) -> OutboxEntry | None:
        return None if entry.pk in self.gone else entry

    def moot(self, row: OutboxEntry) -> bool:
        return row.group_key == "moot"

    def send(self, attempt) -> str:
        pk = attempt.entry.pk
        self.sent.append(pk)
        step = self.script.get(pk, [])
        error = step.pop(0) if step else None
        if isinstance(error, tuple):  # ("applied", exc): it arrived, the answer did not
            self.delivered.add(pk)
            raise error[1]
        if error is not None:
            raise error
        self.delivered.add(pk)
        return f"id-{pk}"

    def find(self, attempt) -> Check:
        pk = attempt.entry.pk
        self.looked.append(pk)
        step = self.check_script.get(pk, [])
        if step:
            raise step.pop(0)
        if pk in self.delivered:
            return Check(f"id-{pk}", {"call": "FAKE", "found": f"id-{pk}"})
        return Check(None, {"call": "FAKE", "seen": 3, "unit": "messages", "since": ""})

    def on_claimed(self, row, entry, now) -> None:
        self.events.append(("claimed", entry.pk))

    def on_sent(self, row, entry, result, *, found: bool) -> None:
        self.events.append(("found" if found else "sent", entry.pk))

    def on_retry(self, row, entry, error) -> None:
        self.events.append(("retry", entry.pk))

    def on_refused(self, row, entry, error) -> None:
        self.events.append(("refused", entry.pk))

    def on_failed(self, row, entry, error) -> None:
        self.events.append(("failed", entry.pk))

    def on_skipped(self, row, entry) -> None:
        self.events.append(("skipped", entry.pk))


@pytest.fixture
def fake() -> Iterator[FakeAdapter]:
    adapter = FakeAdapter()
    real = registry._registry[KIND]
    registry._registry[KIND] = adapter
    try:
        yield adapter
    finally:
        registry._registry[KIND] = real


@pytest.fixture
def now():
    return timezone.now()


def enqueue(group: str = "", at=None) -> OutboxEntry:
    return outbox_enqueue(kind=KIND, group_key=group, now=at)


def deliver(entry: OutboxEntry, at) -> str:
    return outbox_deliver(entry_id=entry.pk, now=at).outcome


def fresh(entry: OutboxEntry) -> OutboxEntry:
    entry.refresh_from_db()
    return entry


# --------------------------------------------------------------------------- the kinds


def test_kind_numbers_are_never_renumbered() -> None:
    assert {kind.name: kind.value for kind in OutboxKind} == {
        "REPLY": 1,
        "NEW_THREAD": 2,
        "REFUND": 3,
        "RESOLUTION": 4,
        "SLA_WEBHOOK": 5,
        "SLA_EMAIL": 6,
        "DOCUMENT_UPLOAD": 7,
    }
    assert OutboxKind.parse("refund") is OutboxKind.REFUND
    assert OutboxKind.parse("NEW-THREAD") is OutboxKind.NEW_THREAD
    assert OutboxKind.parse("4") is OutboxKind.RESOLUTION
    with pytest.raises(ValueError, match="one of: reply"):
        OutboxKind.parse("fax")


def test_every_kind_has_its_adapter(fake) -> None:
    assert outbox_adapters_check() == []
    del registry._registry[KIND]
    try:
        (error,) = outbox_adapters_check()
        assert error.id == "core.E001" and "sla_email" in error.msg
    finally:
        registry._registry[KIND] = fake


# --------------------------------------------------------------------------- delivering


def test_delivers_once_and_records_it(fake, now, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks() as queued:
        entry = enqueue(at=now)
    assert len(queued) == 1  # "deliver one" is queued when the transaction commits

    assert deliver(entry, now) == "sent"
    entry = fresh(entry)
    assert (entry.state, entry.attempts, entry.in_doubt, entry.lease_until) == (
        State.SENT,
        1,
        False,
        None,
    )
    assert entry.done_at == now
    assert deliver(entry, now) == "done"
    assert fake.sent == [entry.pk]
    assert fake.events == [("claimed", entry.pk), ("sent", entry.pk)]


def test_a_row_held_by_a_live_worker_is_left_alone_until_its_lease_ends(fake, now) -> None:
    entry = enqueue(at=now)
    OutboxEntry.objects.filter(pk=entry.pk).update(
        state=State.SENDING, attempts=1, lease_until=now + LEASE
    )
    assert deliver(entry, now) == "busy"
    assert fake.sent == []

    # The worker died after sending: the next one looks before sending again.
    fake.delivered.add(entry.pk)
    assert deliver(entry, now + LEASE) == "found"
    assert fake.looked == [entry.pk] and fake.sent == []
    assert fresh(entry).attempts == 2


def test_rows_of_a_group_go_out_in_order_and_hand_over(
    fake, now, django_capture_on_commit_callbacks
) -> None:
    first = enqueue("thread:1", now)
    second = enqueue("thread:1", now)
    other = enqueue("thread:2", now)

    assert deliver(second, now) == "blocked"
    assert deliver(other, now) == "sent"  # another group does not wait
    with django_capture_on_commit_callbacks() as handed:
        assert deliver(first, now) == "sent"
    assert len(handed) == 1  # the next of its group is queued
    handed[0]()  # the eager task delivers it
    assert fresh(second).state == State.SENT
    assert fake.sent == [other.pk, first.pk, second.pk]


def test_a_transient_error_retries_later_with_backoff(fake, now) -> None:
    entry = enqueue(at=now)
    fake.script[entry.pk] = [MiraklTransientError("boom", call="FAKE", status=503)]

    result = outbox_deliver(entry_id=entry.pk, now=now)

    assert result.outcome == "retry" and 5 <= result.retry_in <= 10
    entry = fresh(entry)
    assert (entry.state, entry.in_doubt) == (State.QUEUED, False)
    assert entry.last_error == "FAKE HTTP 503: boom"
    assert entry.next_attempt_at == now + timedelta(seconds=result.retry_in)
    assert deliver(entry, now) == "not_due"
    assert deliver(entry, entry.next_attempt_at) == "sent"
    assert fake.looked == []  # nothing can have arrived: no check


def test_retry_after_is_honoured(fake, now) -> None:
    entry = enqueue(at=now)
    fake.script[entry.pk] = [MiraklRateLimited("slow down", call="FAKE", retry_after=42)]
    assert outbox_deliver(entry_id=entry.pk, now=now).retry_in == 42


def test_an_unknown_outcome_waits_then_is_checked_before_sending(fake, now, settings) -> None:
    settings.OUTBOX_CHECK_DELAY = timedelta(seconds=90)
    entry = enqueue(at=now)
    applied = MiraklTransientError("read timeout", call="FAKE", outcome_unknown=True)
    fake.script[entry.pk] = [("applied", applied)]

    result = outbox_deliver(entry_id=entry.pk, now=now)

    assert result.outcome == "retry" and result.retry_in == 90
    assert fresh(entry).in_doubt
    assert deliver(entry, now + timedelta(seconds=60)) == "not_due"
    assert deliver(entry, now + timedelta(seconds=90)) == "found"
    entry = fresh(entry)
    assert fake.sent == [entry.pk] and fake.looked == [entry.pk]
    assert (entry.state, entry.in_doubt) == (State.SENT, False)
    assert entry.evidence["found"] == f"id-{entry.pk}"
    assert entry.evidence["checked_at"] == (now + timedelta(seconds=90)).isoformat()


def test_not_found_after_an_unknown_outcome_is_sent_again(fake, now) -> None:
    entry = enqueue(at=now)
    fake.script[entry.pk] = [MiraklTransientError("502", call="FAKE", outcome_unknown=True)]
    outbox_deliver(entry_id=entry.pk, now=now)

    later = now + timedelta(minutes=5)
    assert deliver(entry, later) == "sent"
    assert fake.looked == [entry.pk] and fake.sent == [entry.pk, entry.pk]
    entry = fresh(entry)
    assert entry.evidence == {
        "call": "FAKE",
        "seen": 3,
        "unit": "messages",
        "since": "",
        "found": "",
        "checked_at": later.isoformat(),
    }


def test_a_check_that_fails_keeps_the_row_in_doubt(fake, now) -> None:
    entry = enqueue(at=now)
    fake.script[entry.pk] = [MiraklTransientError("502", call="FAKE", outcome_unknown=True)]
    outbox_deliver(entry_id=entry.pk, now=now)
    fake.check_script[entry.pk] = [
        MiraklBadRequest("only some lines found", call="FAKE", status=400)
    ]

    assert deliver(entry, now + timedelta(minutes=5)) == "retry"

    entry = fresh(entry)
    assert (entry.state, entry.in_doubt) == (State.QUEUED, True)
    assert "only some lines found" in entry.last_error
    assert fake.sent == [entry.pk]  # never sent again while it cannot be told


def test_an_accepted_answer_that_cannot_be_read_is_in_doubt(fake, now) -> None:
    entry = enqueue(at=now)
    fake.script[entry.pk] = [("applied", MiraklPayloadError("not JSON", call="FAKE", status=201))]
    assert deliver(entry, now) == "retry"
    assert fresh(entry).in_doubt


def test_a_refusal_is_final_and_hands_over(fake, now, django_capture_on_commit_callbacks) -> None:
    first = enqueue("order:1", now)
    second = enqueue("order:1", now)
    fake.script[first.pk] = [DeliveryRefused("not enough balance", call="FAKE", status=400)]

    with django_capture_on_commit_callbacks() as handed:
        assert deliver(first, now) == "refused"

    first = fresh(first)
    assert (first.state, first.last_error) == (State.REFUSED, "FAKE HTTP 400: not enough balance")
    assert ("refused", first.pk) in fake.events
    assert len(handed) == 1
    handed[0]()
    assert fresh(second).state == State.SENT


def test_giving_up_then_an_agent_retries(fake, now) -> None:
    entry = enqueue(at=now)
    unknown = DeliveryTransient("timeout", call="FAKE", outcome_unknown=True)
    fake.script[entry.pk] = [unknown, unknown, unknown]
    at = now
    outcomes = []
    for _ in range(3):
        outcomes.append(deliver(entry, at))
        at = fresh(entry).next_attempt_at
    assert outcomes == ["retry", "retry", "failed"]
    entry = fresh(entry)
    assert (entry.state, entry.in_doubt, entry.attempts) == (State.FAILED, True, 3)
    assert ("failed", entry.pk) in fake.events

    assert outbox_requeue(entry_id=entry.pk, now=at) is not None
    assert outbox_requeue(entry_id=entry.pk, now=at) is None  # not failed any more
    entry = fresh(entry)
    assert (entry.state, entry.attempts, entry.in_doubt) == (State.QUEUED, 0, True)
    assert deliver(entry, at) == "sent"
    assert fake.looked == [entry.pk, entry.pk, entry.pk]  # every later attempt checked first


def test_a_row_whose_domain_row_is_gone_or_moot_is_skipped(fake, now) -> None:
    gone = enqueue(at=now)
    fake.gone.add(gone.pk)
    moot = enqueue("moot", now)
    assert deliver(gone, now) == "skipped" and deliver(moot, now) == "skipped"
    assert fresh(moot).state == State.SKIPPED
    assert fake.events == [("skipped", moot.pk)] and fake.sent == []


# --------------------------------------------------------------------------- the policy


def test_retry_delay() -> None:
    assert 5 <= retry_delay(1) <= 10
    assert 10 <= retry_delay(2) <= 20
    assert BACKOFF_MAX_SECONDS / 2 <= retry_delay(30) <= BACKOFF_MAX_SECONDS
    assert retry_delay(1, retry_after=7) == 7
    assert retry_delay(1, retry_after=10**6) == 3600
    assert retry_delay(1, in_doubt=True) == 120  # OUTBOX_CHECK_DELAY's default
    assert retry_delay(1, retry_after=300, in_doubt=True) == 300


# --------------------------------------------------------------------------- the sweep


def test_the_sweep_delivers_what_is_due_oldest_first(fake, now) -> None:
    stuck = enqueue("thread:1", now - timedelta(minutes=3))
    waiting = enqueue("thread:1", now - timedelta(minutes=2))
    alone = enqueue("", now - timedelta(minutes=1))
    later = enqueue("", now + timedelta(minutes=1))
    crashed = enqueue("thread:9", now - timedelta(minutes=9))
    OutboxEntry.objects.filter(pk=crashed.pk).update(
        state=State.SENDING, lease_until=now - timedelta(seconds=1)
    )
    fake.script[stuck.pk] = [MiraklTransientError("503", call="FAKE", status=503)]

    result = outbox_deliver_pending(now=now)

    # The first of thread:1 failed for now: the second waits for the next run.
    assert result.outcomes == {"retry": 1, "sent": 2}
    assert fake.sent == [crashed.pk, stuck.pk, alone.pk]
    assert fake.looked == [crashed.pk]  # the crashed one was checked before sending
    assert fresh(waiting).state == State.QUEUED and fresh(later).state == State.QUEUED
    assert result.delivered == 2 and result.retries == 1


def test_a_bug_in_one_row_does_not_stop_the_sweep(fake, now) -> None:
    broken = enqueue("a", now)
    fine = enqueue("b", now)
    fake.script[broken.pk] = [ZeroDivisionError("bug")]

    result = outbox_deliver_pending(now=now)

    assert result.outcomes == {"error": 1, "sent": 1}
    assert fresh(fine).state == State.SENT
    # Left "sending": taken over after its lease, checking first.
    assert fresh(broken).state == State.SENDING


def test_the_sweep_keeps_to_one_kind(fake, now) -> None:
    mine = enqueue(at=now)
    other = OutboxEntry.objects.create(kind=OutboxKind.REFUND, created_at=now, next_attempt_at=now)
    outbox_deliver_pending(kind=KIND, now=now)
    assert fresh(mine).state == State.SENT and fresh(other).state == State.QUEUED


# --------------------------------------------------------------------------- tasks, command


def test_the_task_queues_itself_for_the_next_attempt(fake, now, monkeypatch) -> None:
    from core.outbox import tasks

    entry = enqueue(at=now)
    fake.script[entry.pk] = [MiraklRateLimited("slow down", call="FAKE", retry_after=30)]
    scheduled = []
    monkeypatch.setattr(
        tasks.outbox_deliver_task,
        "apply_async",
        lambda args, countdown: scheduled.append((args, countdown)),
    )
    assert tasks.outbox_deliver_task.apply(args=[entry.pk]).get() == "retry"
    assert scheduled == [((entry.pk,), 30)]


def test_one_beat_entry_delivers_the_whole_outbox(settings) -> None:
    entries = [
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if "deliver" in entry["task"] or "outbox" in entry["task"]
    ]
    assert entries == [
        {
            "task": "core.outbox.tasks.outbox_deliver_pending_task",
            "schedule": timedelta(seconds=60),
            "options": {"expires": 60},
        }
    ]


def test_the_command_delivers_one_kind_or_all(fake, now) -> None:
    enqueue(at=now - timedelta(seconds=1))
    out = StringIO()
    call_command("outbox_deliver", "--kind", "sla_email", stdout=out)
    assert "sent: 1" in out.getvalue() and "delivered: 1" in out.getvalue()
    out = StringIO()
    call_command("outbox_deliver", stdout=out)
    assert "delivered: 0" in out.getvalue()
    with pytest.raises(CommandError, match="unknown outbox kind"):
        call_command("outbox_deliver", "--kind", "fax")
