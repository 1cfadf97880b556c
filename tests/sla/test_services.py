"""The SLA sweep: items created and stopped, thresholds, breaches, idempotence, lock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from core.locks import AdvisoryLock
from incidents.models import Incident
from messaging.models import Thread
from sla.models import SlaBreach, SlaItem, SlaPolicy, SweepState
from sla.services import sla_deadline_compute, sla_sweep
from sla.signals import sla_state_changed
from sla.sweep import item_state
from tests.factories.incidents import IncidentFactory
from tests.factories.messaging import MessageFactory, ThreadFactory
from tests.sla.conftest import madrid

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
OPENED = madrid(2026, 12, 1, 10)  # a Tuesday

State = SlaItem.State


@pytest.fixture(autouse=True)
def _clock_before_opened() -> Iterator[None]:
    """The tests' world starts just before OPENED: rows the factories write get
    ``synced_at`` / ``updated_at`` from the clock, and the sweep reads only rows changed
    after what it has seen, so the clock must not run ahead of the sweeps' ``now``."""
    with time_machine.travel(OPENED - 2 * H, tick=True):
        yield


def incident(connection, opened=OPENED, **kwargs) -> Incident:
    return IncidentFactory(
        line__order__connection=connection, connection=connection, opened_at=opened, **kwargs
    )


def thread(connection, order=None, **kwargs) -> Thread:
    return ThreadFactory(
        connection=connection,
        order=order,
        date_created=OPENED - H,
        date_updated=OPENED,
        **kwargs,
    )


def message(thread: Thread, at, author: str = "CUSTOMER", to=("SHOP", "OPERATOR")):
    return MessageFactory(
        thread=thread,
        author_type=author,
        recipients=[{"type": t, "display_name": t.title()} for t in to],
        date_created=at,
    )


def touch(thread: Thread, at) -> None:
    """What the sync does when it writes a thread again."""
    Thread.objects.filter(pk=thread.pk).update(synced_at=at)


def postgres_only() -> None:
    if db_connection.vendor != "postgresql":
        pytest.skip("needs Postgres (row versions, advisory locks)")


def writes_during(callable_) -> list[str]:
    """The statements that changed rows (UPDATEs that matched nothing are not writes)."""
    postgres_only()
    tables = ("sla_slaitem", "sla_slabreach", "sla_sweepstate")

    def versions() -> dict[str, list]:
        result = {}
        with db_connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"SELECT id, xmin::text FROM {table} ORDER BY id")  # noqa: S608
                result[table] = cursor.fetchall()
        return result

    before = versions()
    with CaptureQueriesContext(db_connection) as ctx:
        callable_()
    after = versions()
    inserts = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith(("INSERT", "DELETE"))]
    changed = [table for table in tables if before[table] != after[table]]
    return inserts + changed


# Items created --------------------------------------------------------------------------


def test_an_open_incident_gets_an_item_due_under_its_policy(mediamarkt) -> None:
    inc = incident(mediamarkt)

    result = sla_sweep(now=OPENED + H)

    item = SlaItem.objects.get()
    assert (item.kind, item.incident, item.connection) == ("incident", inc, mediamarkt)
    assert item.started_at == OPENED
    assert item.due_at == OPENED + 48 * H
    assert item.warn_at == OPENED + 36 * H
    assert item.state == State.ON_TIME
    assert item.policy == SlaPolicy.objects.get(preset="mediamarkt")
    assert result.created == 1
    assert result.changes == []


def test_business_hours_policy_counts_working_time_only(pcc_office_hours) -> None:
    friday_17h = madrid(2026, 12, 4, 17)
    incident(pcc_office_hours, opened=friday_17h)

    sla_sweep(now=friday_17h + H)

    item = SlaItem.objects.get()
    assert item.due_at == madrid(2026, 12, 10, 14)  # Tuesday 8 December is a holiday
    assert item.warn_at == madrid(2026, 12, 9, 17)  # 18 of the 24 business hours
    assert sla_deadline_compute(connection=pcc_office_hours, at=friday_17h) == madrid(
        2026, 12, 10, 14
    )


def test_the_strict_pccomponentes_policy_counts_whole_working_days(pccomponentes) -> None:
    friday_17h = madrid(2026, 12, 4, 17)
    incident(pccomponentes, opened=friday_17h)

    sla_sweep(now=friday_17h + H)

    item = SlaItem.objects.get()
    assert item.due_at == madrid(2026, 12, 7, 17)  # 7 h on Friday, 17 h on Monday
    assert item.warn_at == madrid(2026, 12, 7, 13)  # at 20 h, the quality programme's alert


def test_a_waiting_thread_gets_an_item_per_audience(mediamarkt) -> None:
    th = thread(mediamarkt)
    message(th, OPENED)
    message(th, OPENED + H, author="OPERATOR", to=("SHOP",))

    sla_sweep(now=OPENED + 2 * H)

    items = list(SlaItem.objects.order_by("started_at"))
    assert [(i.kind, i.thread, i.audience, i.started_at) for i in items] == [
        ("thread", th, "CUSTOMER", OPENED),
        ("thread", th, "OPERATOR", OPENED + H),
    ]


def test_connection_without_its_preset_uses_the_default_policy(mediamarkt) -> None:
    SlaPolicy.objects.filter(preset="mediamarkt").delete()
    SlaPolicy.objects.filter(preset="default").update(reply_hours=Decimal(10))
    incident(mediamarkt)

    sla_sweep(now=OPENED)

    assert SlaItem.objects.get().due_at == OPENED + 10 * H


# Thresholds and breaches ------------------------------------------------------------------


def test_thresholds_flip_at_the_right_instants(mediamarkt) -> None:
    inc = incident(mediamarkt)
    sla_sweep(now=OPENED)

    assert sla_sweep(now=OPENED + 36 * H - timedelta(seconds=1)).changes == []
    nearing = sla_sweep(now=OPENED + 36 * H)
    assert [(c.state, c.incident_id) for c in nearing.changes] == [(State.NEARING, inc.pk)]
    assert sla_sweep(now=OPENED + 48 * H).changes == []  # answering at the deadline is on time
    assert SlaItem.objects.get().state == State.NEARING

    breached = sla_sweep(now=OPENED + 48 * H + timedelta(microseconds=1))

    assert [(c.state, c.incident_id) for c in breached.changes] == [(State.BREACHED, inc.pk)]
    assert SlaItem.objects.get().state == State.BREACHED
    breach = SlaBreach.objects.get()
    assert (breach.item, breach.incident, breach.connection) == (
        SlaItem.objects.get(),
        inc,
        mediamarkt,
    )
    assert breach.due_at == OPENED + 48 * H
    assert breach.breached_at == OPENED + 48 * H + timedelta(microseconds=1)
    assert breach.answered_at is None


def test_on_time_straight_to_breached_when_the_sweep_did_not_run(mediamarkt) -> None:
    incident(mediamarkt)
    sla_sweep(now=OPENED)

    result = sla_sweep(now=OPENED + 60 * H)

    assert [c.state for c in result.changes] == [State.BREACHED]
    assert SlaBreach.objects.count() == 1


def test_an_item_first_seen_after_its_deadline_is_created_breached(mediamarkt) -> None:
    incident(mediamarkt)

    result = sla_sweep(now=OPENED + 50 * H)

    assert SlaItem.objects.get().state == State.BREACHED
    assert [c.state for c in result.changes] == [State.BREACHED]
    assert SlaBreach.objects.get().breached_at == OPENED + 50 * H


def test_breach_is_recorded_once_and_kept_after_the_answer(mediamarkt) -> None:
    inc = incident(mediamarkt)
    sla_sweep(now=OPENED)
    sla_sweep(now=OPENED + 49 * H)
    sla_sweep(now=OPENED + 50 * H)
    assert SlaBreach.objects.count() == 1

    th = thread(mediamarkt, order=inc.order)
    message(th, OPENED + 52 * H, author="SHOP", to=("CUSTOMER",))
    result = sla_sweep(now=OPENED + 53 * H)

    item = SlaItem.objects.get(kind="incident")
    assert (item.state, item.stopped_at, item.stop_reason) == (
        State.STOPPED,
        OPENED + 52 * H,
        "shop_reply",
    )
    breach = SlaBreach.objects.get()
    assert breach.answered_at == OPENED + 52 * H
    assert breach.lateness() == 4 * H
    assert result.breaches_answered == 1
    assert sla_sweep(now=OPENED + 90 * H).breaches_created == 0
    assert SlaBreach.objects.get().lateness(now=OPENED + 200 * H) == 4 * H


def test_unanswered_breach_lateness_grows_with_now(mediamarkt) -> None:
    incident(mediamarkt)
    sla_sweep(now=OPENED + 49 * H)
    assert SlaBreach.objects.get().lateness(now=OPENED + 51 * H) == 3 * H


def test_an_answer_found_late_after_the_deadline_is_a_breach(mediamarkt) -> None:
    th = thread(mediamarkt)
    message(th, OPENED)
    sla_sweep(now=OPENED)
    message(th, OPENED + 50 * H, author="SHOP", to=("CUSTOMER",))
    touch(th, OPENED + 51 * H)

    result = sla_sweep(now=OPENED + 51 * H)

    item = SlaItem.objects.get()
    assert item.state == State.STOPPED
    breach = SlaBreach.objects.get()
    assert (breach.kind, breach.thread, breach.answered_at) == ("thread", th, OPENED + 50 * H)
    assert breach.lateness() == 2 * H
    assert result.changes == []  # answered already: nothing to alert about


def test_an_answer_on_time_that_arrived_late_removes_the_breach(mediamarkt) -> None:
    th = thread(mediamarkt)
    message(th, OPENED)
    sla_sweep(now=OPENED + 49 * H)
    assert SlaBreach.objects.count() == 1

    message(th, OPENED + 47 * H, author="SHOP", to=("CUSTOMER",))
    result = sla_sweep(now=OPENED + 50 * H)

    assert SlaItem.objects.get().state == State.STOPPED
    assert SlaBreach.objects.count() == 0
    assert result.breaches_removed == 1


def test_answered_in_time_no_breach(mediamarkt) -> None:
    th = thread(mediamarkt)
    message(th, OPENED)
    message(th, OPENED + 47 * H, author="SHOP", to=("CUSTOMER",))

    sla_sweep(now=OPENED + 100 * H)

    assert SlaItem.objects.get().state == State.STOPPED
    assert not SlaBreach.objects.exists()


# What stops the clock, through the database -------------------------------------------------


def test_reply_to_the_wrong_audience_keeps_the_clock_running(mediamarkt) -> None:
    th = thread(mediamarkt)
    message(th, OPENED)
    sla_sweep(now=OPENED)
    message(th, OPENED + H, author="SHOP", to=("OPERATOR",))
    sla_sweep(now=OPENED + 2 * H)
    assert SlaItem.objects.get().state == State.ON_TIME

    message(th, OPENED + 3 * H, author="SHOP", to=("CUSTOMER", "OPERATOR"))
    result = sla_sweep(now=OPENED + 4 * H)

    item = SlaItem.objects.get()
    assert (item.state, item.stopped_at) == (State.STOPPED, OPENED + 3 * H)
    assert result.stopped == 1


def test_no_reply_required_stops_a_thread_wait(mediamarkt) -> None:
    th = thread(mediamarkt)
    message(th, OPENED)
    sla_sweep(now=OPENED)
    Thread.objects.filter(pk=th.pk).update(
        no_store_reply_needed=[{"date": "2026-12-01T12:00:00Z", "user_type": "SHOP"}],
        synced_at=OPENED + 3 * H,
    )

    sla_sweep(now=OPENED + 3 * H)

    item = SlaItem.objects.get()
    assert (item.state, item.stop_reason) == (State.STOPPED, "no_reply_needed")
    assert item.stopped_at == madrid(2026, 12, 1, 13)


def test_closing_an_incident_stops_its_item_but_not_the_threads(mediamarkt) -> None:
    inc = incident(mediamarkt)
    th = thread(mediamarkt, order=inc.order)
    message(th, OPENED + H)
    sla_sweep(now=OPENED + H)

    Incident.objects.filter(pk=inc.pk).update(
        closed_at=OPENED + 2 * H, state="closed", updated_at=OPENED + 2 * H
    )
    sla_sweep(now=OPENED + 3 * H)

    incident_item = SlaItem.objects.get(kind="incident")
    assert (incident_item.state, incident_item.stop_reason) == (State.STOPPED, "incident_closed")
    assert SlaItem.objects.get(kind="thread").state == State.ON_TIME


def test_a_shop_message_stops_the_incident_clock(mediamarkt) -> None:
    inc = incident(mediamarkt)
    th = thread(mediamarkt, order=inc.order)
    message(th, OPENED - H, author="SHOP", to=("CUSTOMER",))  # before opening: no effect
    sla_sweep(now=OPENED + H)
    assert SlaItem.objects.get(kind="incident").state == State.ON_TIME

    message(th, OPENED + 2 * H, author="SHOP", to=("OPERATOR",))  # rule I3: not seen
    sla_sweep(now=OPENED + 3 * H)
    assert SlaItem.objects.get(kind="incident").stopped_at is None

    message(th, OPENED + 4 * H, author="SHOP", to=("CUSTOMER", "OPERATOR"))
    sla_sweep(now=OPENED + 5 * H)

    item = SlaItem.objects.get(kind="incident")
    assert (item.stopped_at, item.stop_reason) == (OPENED + 4 * H, "shop_reply")


def test_a_wait_the_facts_no_longer_show_is_withdrawn(mediamarkt) -> None:
    th = thread(mediamarkt, shop_reply_needed_since=OPENED, last_sender_type="CUSTOMER")
    sla_sweep(now=OPENED + H)
    assert SlaItem.objects.get().audience == "CUSTOMER"

    Thread.objects.filter(pk=th.pk).update(shop_reply_needed_since=None, synced_at=OPENED + 2 * H)
    sla_sweep(now=OPENED + 2 * H)

    item = SlaItem.objects.get()
    assert (item.state, item.stop_reason, item.stopped_at) == (
        State.STOPPED,
        "withdrawn",
        OPENED + 2 * H,
    )


# Idempotence, watermarks, lock ---------------------------------------------------------------


def test_a_rerun_with_nothing_new_writes_nothing(mediamarkt) -> None:
    inc = incident(mediamarkt)
    th = thread(mediamarkt, order=inc.order)
    message(th, OPENED)
    incident(mediamarkt)
    assert writes_during(lambda: sla_sweep(now=OPENED + 49 * H)) != []
    assert SlaBreach.objects.count() == 3

    assert writes_during(lambda: sla_sweep(now=OPENED + 49 * H)) == []
    assert writes_during(lambda: sla_sweep(now=OPENED + 60 * H)) == []


def test_the_rerun_reads_only_what_changed(mediamarkt, django_assert_max_num_queries) -> None:
    first = incident(mediamarkt)
    second = incident(mediamarkt, opened=OPENED + H)
    th = thread(mediamarkt)
    message(th, OPENED)
    other = thread(mediamarkt)
    long_ago = OPENED - 10 * H
    Incident.objects.update(updated_at=long_ago)
    Incident.objects.filter(pk=second.pk).update(updated_at=long_ago + 3 * H)
    Thread.objects.update(synced_at=long_ago)
    Thread.objects.filter(pk=other.pk).update(synced_at=long_ago + 3 * H)
    result = sla_sweep(now=OPENED + 2 * H)
    assert (result.scanned_incidents, result.scanned_threads) == (2, 2)

    # Only the rows changed within the overlap before the last change seen are read again.
    # (17: the threads' facts read their orders' incident openings too, rule T6; 19 with
    # the watch after resolving: the expected closes of what was read, the overdue ones;
    # 8 more: the queue's rows of their orders, sla.queue.)
    with django_assert_max_num_queries(27):
        idle = sla_sweep(now=OPENED + 2 * H)
    assert (idle.scanned_incidents, idle.scanned_threads) == (1, 1)

    Incident.objects.filter(pk=first.pk).update(updated_at=OPENED + 2 * H)
    message(th, OPENED + 2 * H, author="SHOP", to=("CUSTOMER",))
    result = sla_sweep(now=OPENED + 3 * H)
    # The changed incident and thread, plus the two still inside the overlap.
    assert (result.scanned_incidents, result.scanned_threads) == (2, 2)
    assert result.stopped == 1
    assert SweepState.objects.get().last_message_id == th.messages.latest("pk").pk
    assert second.sla_items.get().state == State.ON_TIME


def test_a_sweep_that_lost_its_marks_finds_the_items_it_made(mediamarkt) -> None:
    inc = incident(mediamarkt)
    th = thread(mediamarkt, order=inc.order)
    message(th, OPENED)
    first = sla_sweep(now=OPENED + H)
    assert first.created == 2

    # Read everything again, as a first sweep does, but over the items already there:
    # they are compared with, not made again.
    SweepState.objects.all().delete()
    again = sla_sweep(now=OPENED + 49 * H)

    assert (again.scanned_incidents, again.scanned_threads) == (1, 1)
    assert again.created == 0
    assert again.breached == 2
    assert SlaItem.objects.count() == 2


def test_full_sweep_reschedules_open_items_with_the_current_policy(mediamarkt) -> None:
    incident(mediamarkt)
    sla_sweep(now=OPENED)
    SlaPolicy.objects.filter(preset="mediamarkt").update(reply_hours=Decimal(24))

    assert sla_sweep(now=OPENED + H).rescheduled == 0
    result = sla_sweep(now=OPENED + H, full=True)

    assert result.rescheduled == 1
    item = SlaItem.objects.get()
    assert (item.due_at, item.warn_at) == (OPENED + 24 * H, OPENED + 18 * H)


def test_a_second_sweep_is_skipped_while_one_holds_the_lock(mediamarkt) -> None:
    postgres_only()
    incident(mediamarkt)
    other = db_connection.copy()
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [int(AdvisoryLock.SLA_SWEEP)])
        result = sla_sweep(now=OPENED)
        assert result.skipped
        assert not SlaItem.objects.exists()
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [int(AdvisoryLock.SLA_SWEEP)])
        assert not sla_sweep(now=OPENED).skipped
    finally:
        other.close()
    assert SlaItem.objects.count() == 1


def test_the_signal_carries_the_items_that_changed(mediamarkt) -> None:
    inc = incident(mediamarkt)
    sla_sweep(now=OPENED)
    received = []

    def receiver(sender, changes, now, **kwargs):
        received.append((sender, [(c.state, c.incident_id) for c in changes], now))

    sla_state_changed.connect(receiver)
    try:
        sla_sweep(now=OPENED + H)
        sla_sweep(now=OPENED + 40 * H)
    finally:
        sla_state_changed.disconnect(receiver)

    assert received == [(SlaItem, [(State.NEARING, inc.pk)], OPENED + 40 * H)]


@pytest.mark.parametrize(
    ("offset", "stopped", "expected"),
    [
        (0, False, State.ON_TIME),
        (36, False, State.NEARING),
        (48, False, State.NEARING),
        (49, False, State.BREACHED),
        (49, True, State.STOPPED),
    ],
)
def test_item_state(offset: int, stopped: bool, expected: str) -> None:
    assert (
        item_state(
            now=OPENED + offset * H,
            due_at=OPENED + 48 * H,
            warn_at=OPENED + 36 * H,
            stopped_at=OPENED if stopped else None,
        )
        == expected
    )


def test_our_no_reply_mark_stops_the_wait_even_after_a_sync_drops_it(mediamarkt) -> None:
    from messaging.models import ThreadNoReply

    th = thread(mediamarkt)
    message(th, OPENED)
    sla_sweep(now=OPENED + H)
    assert SlaItem.objects.get().stopped_at is None

    # Mirakl's API cannot set its own flag: the mark lives only here, and a later sync
    # rewrites Thread.no_store_reply_needed without it.
    ThreadNoReply.objects.create(
        thread=th, reason="El cliente solo da las gracias.", at=OPENED + 2 * H
    )
    Thread.objects.filter(pk=th.pk).update(no_store_reply_needed=[], synced_at=OPENED + 2 * H)
    sla_sweep(now=OPENED + 3 * H)

    item = SlaItem.objects.get()
    assert item.stopped_at == OPENED + 2 * H


@pytest.mark.skipif(db_connection.vendor != "postgresql", reason="Postgres indexes")
def test_thresholds_are_found_on_the_partial_indexes_of_running_items() -> None:
    """A quiet sweep finds the items past their deadline among the nearing ones and
    the on-time ones past their warning, not among every open item due before now (the
    missed ones, kept open until answered, included)."""
    from sla.sweep import _PAST_DUE

    now = db_connection.ops.adapt_datetimefield_value(OPENED)
    with db_connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            f"EXPLAIN SELECT id FROM sla_slaitem WHERE {_PAST_DUE}",  # noqa: S608 - constant
            [now] * _PAST_DUE.count("%s"),
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "slaitem_nearing_due_idx" in plan
    assert "slaitem_on_time_warn_idx" in plan
