"""The queue of what the shop owes: conversations without incident, follow-ups on
incidents, who is owed and by when, the default sort over every wait, kept by the sweep."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident
from messaging.models import Party
from sla.models import QueueEntry
from sla.services import sla_sweep
from tests.factories.core import MarketplaceConnectionFactory, OrderFactory, OrderLineFactory
from tests.factories.incidents import IncidentFactory
from tests.factories.messaging import MessageFactory, ThreadFactory
from tests.messaging import fixtures

pytestmark = pytest.mark.django_db

agent = fixtures.agent
agent_client = fixtures.agent_client

URL = reverse("desk:inbox")
CUSTOMER = [{"type": Party.CUSTOMER}]
OPERATOR = [{"type": Party.OPERATOR}]


def keys(response) -> list[str]:
    """``incident:<pk>`` or ``conversation:<thread pk>`` of each row, in order."""
    html = response.content.decode()
    found = re.findall(r'<tr [^>]*data-incident="(\d*)"[^>]*data-thread="(\d*)"', html)
    return [f"incident:{i}" if i else f"conversation:{t}" for i, t in found]


@pytest.fixture
def pcc(db):
    """48 wall-clock hours to answer (the dates below count every day)."""
    return MarketplaceConnectionFactory(code="pcc", name="PcComponentes", sla_policy="mediamarkt")


def conversation(connection, *, hours_ago: float, author: str = Party.CUSTOMER, body: str = ""):
    """A thread on an order without incident, its last message ``hours_ago``."""
    order = OrderFactory(connection=connection)
    thread = ThreadFactory(
        connection=connection,
        order=order,
        authorized_participants=[{"type": Party.CUSTOMER}, {"type": Party.OPERATOR}],
    )
    at = timezone.now() - timedelta(hours=hours_ago)
    MessageFactory(
        thread=thread, author_type=author, date_created=at, body=body or "¿Dónde está mi pedido?"
    )
    return thread


def answered_incident(connection, *, follow_up_hours_ago: float | None = None):
    """An incident the shop answered once; a customer follow-up ``follow_up_hours_ago``."""
    now = timezone.now()
    order = OrderFactory(connection=connection)
    line = OrderLineFactory(order=order, state="INCIDENT_OPEN")
    incident = IncidentFactory(
        line=line,
        state=Incident.State.IN_PROGRESS,
        opened_at=now - timedelta(hours=80),
        reason_label="Artículo defectuoso",
    )
    thread = ThreadFactory(connection=connection, order=order)
    MessageFactory(thread=thread, date_created=now - timedelta(hours=79))
    MessageFactory(
        thread=thread,
        author_type=Party.SHOP,
        recipients=CUSTOMER,
        date_created=now - timedelta(hours=78),
    )
    if follow_up_hours_ago is not None:
        MessageFactory(
            thread=thread,
            date_created=now - timedelta(hours=follow_up_hours_ago),
            body="Sigo sin noticias,\n  ¿me decís algo?",
        )
    return incident


def test_conversation_without_incident_is_a_row(agent_client, pcc) -> None:
    thread = conversation(pcc, hours_ago=2, body="Quiero cambiar la dirección de entrega")
    sla_sweep()

    entry = QueueEntry.objects.get()
    assert entry.kind == QueueEntry.Kind.CONVERSATION and entry.thread == thread
    assert entry.owed_to == QueueEntry.Owed.CUSTOMER and entry.due_at is not None
    assert entry.message_count == 1
    response = agent_client.get(URL)
    assert keys(response) == [f"conversation:{thread.pk}"]
    html = response.content.decode()
    assert f'href="/orders/{thread.order_id}/#thread-{thread.pk}"' in html
    assert "Customer: Quiero cambiar la dirección de entrega" in html
    assert 'data-owed="customer"' in html and 'data-kind="conversation"' in html
    assert 'data-sla="on_time"' in html


def test_follow_up_on_an_answered_incident_is_owed_and_sorted_by_its_deadline(
    agent_client, pcc
) -> None:
    quiet = answered_incident(pcc)
    late = answered_incident(pcc, follow_up_hours_ago=58)
    recent = conversation(pcc, hours_ago=1)
    sla_sweep()

    response = agent_client.get(URL)
    # The follow-up's deadline passed: first. The conversation next; nothing owed last.
    assert keys(response) == [
        f"incident:{late.pk}",
        f"conversation:{recent.pk}",
        f"incident:{quiet.pk}",
    ]
    row = QueueEntry.objects.get(incident=late)
    assert row.sla_state() == "breached" and row.message_count == 3
    assert row.last_inbound_preview == "Sigo sin noticias, ¿me decís algo?"
    breaching = agent_client.get(URL, {"sla": ["nearing", "breached"]})
    assert keys(breaching) == [f"incident:{late.pk}"]
    assert 'data-sla="breached"' in breaching.content.decode()
    waiting = agent_client.get(URL, {"waiting": "true"})
    assert keys(waiting) == [f"incident:{late.pk}", f"conversation:{recent.pk}"]


def test_filters_by_kind_owed_and_marketplace(agent_client, pcc) -> None:
    mm = MarketplaceConnectionFactory(code="mm", name="MediaMarkt")
    to_customer = conversation(pcc, hours_ago=3)
    to_operator = conversation(mm, hours_ago=2, author=Party.OPERATOR)
    incident = answered_incident(pcc, follow_up_hours_ago=1)
    sla_sweep()

    def rows(**query) -> set[str]:
        return set(keys(agent_client.get(URL, query)))

    assert rows(kind="incident") == {f"incident:{incident.pk}"}
    assert rows(kind="conversation") == {
        f"conversation:{to_customer.pk}",
        f"conversation:{to_operator.pk}",
    }
    assert rows(owed="operator") == {f"conversation:{to_operator.pk}"}
    assert rows(owed="customer") == {
        f"conversation:{to_customer.pk}",
        f"incident:{incident.pk}",
    }
    assert rows(owed="both") == set()
    assert rows(connection=mm.pk) == {f"conversation:{to_operator.pk}"}
    assert rows(connection=mm.pk, kind="incident") == set()


def test_an_answer_takes_the_row_off_the_open_queue(agent_client, pcc) -> None:
    thread = conversation(pcc, hours_ago=2)
    sla_sweep()
    assert keys(agent_client.get(URL)) == [f"conversation:{thread.pk}"]

    MessageFactory(thread=thread, author_type=Party.SHOP, recipients=CUSTOMER)
    sla_sweep()

    assert keys(agent_client.get(URL)) == []
    assert keys(agent_client.get(URL, {"status": "closed"})) == [f"conversation:{thread.pk}"]
    assert QueueEntry.objects.get().message_count == 2


def test_an_order_that_gets_an_incident_has_one_row(agent_client, pcc) -> None:
    thread = conversation(pcc, hours_ago=2)
    sla_sweep()
    line = OrderLineFactory(order=thread.order, state="INCIDENT_OPEN")
    incident = IncidentFactory(line=line)
    sla_sweep()

    assert keys(agent_client.get(URL)) == [f"incident:{incident.pk}"]
    entry = QueueEntry.objects.get()
    assert entry.message_count == 1 and entry.owed_to == QueueEntry.Owed.CUSTOMER


def test_saved_views_are_the_queue_s(agent_client) -> None:
    response = agent_client.get(URL)
    views = {v["key"]: v for v in response.context["saved_views"]}
    assert views["waiting"]["url"].endswith("waiting=true")
    assert views["breaching"]["url"].endswith("sla=nearing&sla=breached")
    html = agent_client.get(URL, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Reply owed to" in html


def test_spanish_labels(client, agent, pcc) -> None:
    conversation(pcc, hours_ago=2)
    sla_sweep()
    client.force_login(agent)
    client.cookies["django_language"] = "es"
    html = client.get(URL).content.decode()
    for text in ("Cola", "Conversación", "Esperando nuestra respuesta", "Vencidas o por vencer"):
        assert text in html, text


def test_the_count_stops_at_a_cap(
    agent_client, pcc, monkeypatch, django_assert_max_num_queries
) -> None:
    from desk import tables, views

    monkeypatch.setattr(tables, "COUNT_AT_MOST", 3)
    monkeypatch.setattr(views, "INBOX_PAGE_SIZE", 2)
    for hours in range(5):
        conversation(pcc, hours_ago=hours + 1)
    sla_sweep()
    with django_assert_max_num_queries(15) as captured:
        response = agent_client.get(URL)
    assert len(keys(response)) == 2
    assert "More than 3 rows" in response.content.decode()
    counts = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"]]
    assert counts and all("LIMIT 4" in sql for sql in counts)


def test_a_large_shop_s_rows_written_set_based_are_those_written_one_by_one(
    pcc, monkeypatch
) -> None:
    """From ``SET_BASED_FROM`` orders on (a large shop's first sync), the rows of the
    orders are written by the set-based statements of ``sla.queue_sql``: the same rows
    as one by one, and the other orders' rows left alone."""
    from django.db import connection

    from sla import queue

    if connection.vendor != "postgresql":
        pytest.skip("the set-based statements are Postgres's")
    incident = answered_incident(pcc, follow_up_hours_ago=2)
    IncidentFactory(connection=pcc, opened_at=timezone.now() - timedelta(hours=3))
    conversation(pcc, hours_ago=3, body="  Quiero   cambiar\nla dirección " + "x" * 400)
    conversation(pcc, hours_ago=1, author=Party.OPERATOR)
    other = conversation(pcc, hours_ago=5)
    sla_sweep()
    rows = {e.pk: e for e in QueueEntry.objects.all()}
    assert len(rows) == 5
    orders = [e.order_id for e in rows.values() if e.order_id != other.order_id]
    QueueEntry.objects.exclude(order_id=other.order_id).delete()
    QueueEntry.objects.filter(order_id=other.order_id).update(reason_label="unchanged")

    monkeypatch.setattr(queue, "SET_BASED_FROM", 1)
    assert queue.queue_entries_refresh(order_ids=orders) == 4
    assert QueueEntry.objects.get(order_id=other.order_id).reason_label == "unchanged"
    assert QueueEntry.objects.get(incident=incident).reply_due_at is None
    # Written one by one, nothing differs.
    monkeypatch.setattr(queue, "SET_BASED_FROM", 10**9)
    assert queue.queue_entries_refresh(order_ids=orders) == 0


def test_a_first_sweep_with_indexes_built_after_writes_the_same_rows(pcc, monkeypatch) -> None:
    """A large shop's first sweep fills the empty items, breaches and queue tables with their
    lookup indexes set aside (``sla.indexes``): the same items, breaches and rows as
    with the indexes kept, and the same indexes afterwards."""
    from django.db import connection

    from sla import indexes
    from sla.models import SlaBreach, SlaItem, SweepState

    if connection.vendor != "postgresql":
        pytest.skip("indexes are set aside on Postgres")
    answered_incident(pcc, follow_up_hours_ago=2)
    IncidentFactory(connection=pcc, opened_at=timezone.now() - timedelta(hours=60))
    conversation(pcc, hours_ago=3, body="  Quiero   cambiar\nla dirección " + "x" * 400)
    conversation(pcc, hours_ago=47.5, author=Party.OPERATOR)
    conversation(pcc, hours_ago=50)

    def definitions() -> list[tuple[str, str]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes"
                " WHERE tablename IN ('sla_slaitem', 'sla_slabreach', 'sla_queueentry')"
                " ORDER BY indexname"
            )
            return cursor.fetchall()

    def written() -> tuple[list, list, list]:
        items = SlaItem.objects.order_by("kind", "incident_id", "thread_id", "started_at")
        return (
            list(items.values_list("kind", "incident_id", "thread_id", "audience", "state",
                                   "due_at", "warn_at", "stopped_at", "stop_reason")),
            sorted(SlaBreach.objects.values_list("item__started_at", "due_at", "answered_at")),
            list(QueueEntry.objects.order_by("order_id", "incident_id", "thread_id").values_list(
                "kind", "incident_id", "thread_id", "owed_to", "due_at", "warn_at", "is_open",
                "message_count", "last_inbound_preview")),
        )  # fmt: skip

    locked: list[str] = []
    lock = indexes._lock_at_once

    def spy(table: str) -> bool:
        locked.append(table)
        return lock(table)

    monkeypatch.setattr(indexes, "_lock_at_once", spy)
    before = definitions()
    now = timezone.now()
    monkeypatch.setattr(indexes, "BUILD_INDEXES_FROM", 1)
    with_built = sla_sweep(now=now)
    assert locked == ['"sla_slaitem"', '"sla_slabreach"', '"sla_queueentry"']
    assert definitions() == before
    rows = written()
    assert rows[0] and rows[1] and rows[2]

    for model in (QueueEntry, SlaBreach, SlaItem, SweepState):
        model.objects.all().delete()
    monkeypatch.setattr(indexes, "BUILD_INDEXES_FROM", 10**9)
    kept = sla_sweep(now=now)
    assert len(locked) == 3
    assert written() == rows
    assert with_built.as_dict() == kept.as_dict()


def test_rows_are_read_by_a_query_compiled_once(pcc, agent, django_assert_num_queries) -> None:
    """The precompiled read of a page's rows gives what the queryset gives, in the order
    asked, in two queries (the rows, their unread counts), for any page."""
    from desk.selectors import _QUEUE_ROW_FIELDS, queue_rows
    from tests.factories.incidents import IncidentAssignmentFactory

    assigned = answered_incident(pcc, follow_up_hours_ago=3)
    IncidentAssignmentFactory(incident=assigned, assignee=agent)
    answered_incident(pcc)
    conversation(pcc, hours_ago=2)
    sla_sweep()
    ids = list(QueueEntry.objects.order_by("-pk").values_list("pk", flat=True))
    expected = {
        values[0]: values
        for values in QueueEntry.objects.filter(pk__in=ids).values_list(*_QUEUE_ROW_FIELDS)
    }
    queue_rows(ids=ids[:1], user=agent)
    with django_assert_num_queries(2):
        found = queue_rows(ids=ids, user=agent)
    assert [row.pk for row in found] == ids
    for row in found:
        values = expected[row.pk]
        assert (row.kind, row.incident_id, row.thread_id, row.order_number) == (
            values[1],
            values[3],
            values[4],
            values[6],
        )
        assert (row.due_at, row.warn_at, row.opened_at) == (values[15], values[16], values[17])
        assert row.customer_name == f"{values[7]} {values[8]}".strip()
    assert found[ids.index(QueueEntry.objects.get(incident=assigned).pk)].assignee_name == (
        "Marta Ruiz"
    )
    assert queue_rows(ids=[ids[0], -1], user=agent)[0].pk == ids[0]
