"""Reads for the inbox: open items by urgency, incidents and threads with their due time."""

from datetime import timedelta

import pytest
from django.db.models import F

from incidents.models import Incident
from messaging.models import Thread
from sla.selectors import (
    incident_due_annotate,
    sla_breach_list,
    sla_item_counts,
    sla_items_open,
    thread_due_annotate,
)
from sla.services import sla_sweep
from tests.factories.incidents import IncidentFactory
from tests.factories.messaging import MessageFactory, ThreadFactory
from tests.factories.sla import SlaBreachFactory
from tests.sla.conftest import madrid

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
NOW = madrid(2026, 12, 3, 12)


@pytest.fixture
def waiting(mediamarkt):
    """Three open incidents of different ages and a closed one, swept at NOW."""
    make = IncidentFactory
    kw = {"line__order__connection": mediamarkt, "connection": mediamarkt}
    old = make(opened_at=NOW - 50 * H, **kw)
    middle = make(opened_at=NOW - 40 * H, **kw)
    fresh = make(opened_at=NOW - H, **kw)
    closed = make(opened_at=NOW - 10 * H, closed_at=NOW - 9 * H, state="closed", **kw)
    sla_sweep(now=NOW)
    return old, middle, fresh, closed


def test_open_items_most_urgent_first(waiting, mediamarkt, django_assert_num_queries) -> None:
    old, middle, fresh, _ = waiting
    with django_assert_num_queries(1):
        items = list(sla_items_open())
        assert [i.incident for i in items] == [old, middle, fresh]
        assert items[0].incident.order.mirakl_id
    assert list(sla_items_open(connection=mediamarkt)) == items


def test_incidents_annotated_with_their_due_time_in_one_query(
    waiting, django_assert_num_queries
) -> None:
    old, middle, fresh, closed = waiting
    with django_assert_num_queries(1):
        rows = list(
            incident_due_annotate(Incident.objects.all()).order_by(
                F("sla_due_at").asc(nulls_last=True)
            )
        )
    assert [(r.pk, r.sla_state) for r in rows] == [
        (old.pk, "breached"),
        (middle.pk, "nearing"),
        (fresh.pk, "on_time"),
        (closed.pk, None),
    ]
    assert rows[0].sla_due_at == old.opened_at + 48 * H
    assert rows[0].sla_warn_at == old.opened_at + 36 * H


def test_threads_annotated_with_their_most_urgent_wait(mediamarkt) -> None:
    th = ThreadFactory(connection=mediamarkt, order=None)
    MessageFactory(thread=th, date_created=NOW - 2 * H, recipients=[{"type": "SHOP"}])
    MessageFactory(
        thread=th, author_type="OPERATOR", date_created=NOW - H, recipients=[{"type": "SHOP"}]
    )
    sla_sweep(now=NOW)

    row = thread_due_annotate(Thread.objects.all()).get()

    assert (row.sla_due_at, row.sla_state) == (NOW + 46 * H, "on_time")


def test_counts_by_state(waiting, mediamarkt) -> None:
    assert sla_item_counts() == {"on_time": 1, "nearing": 1, "breached": 1}
    assert sla_item_counts(connection=mediamarkt) == {"on_time": 1, "nearing": 1, "breached": 1}


def test_breach_list_latest_first(waiting, mediamarkt) -> None:
    older = SlaBreachFactory(
        item__incident__line__order__connection=mediamarkt,
        item__incident__connection=mediamarkt,
        item__started_at=NOW - 100 * H,
    )
    breaches = list(sla_breach_list(connection=mediamarkt, now=NOW))
    assert [b.incident for b in breaches] == [waiting[0], older.incident]
    assert breaches[0].lateness_at_now == 2 * H == breaches[0].lateness(now=NOW)
    assert list(sla_breach_list(since=NOW - 10 * H)) == breaches[:1]
