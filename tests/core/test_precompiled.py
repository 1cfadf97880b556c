"""Queries compiled once per process: each run binds its own values, with the answers of
the queryset they were compiled from."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from core.backends import UserWithPermissionsBackend
from core.precompiled import PrecompiledQuery
from core.scoping import MarketplaceAccess, visible_connection_ids
from tests.factories.core import MarketplaceConnectionFactory, UserFactory

pytestmark = pytest.mark.django_db


def _names(*, first: str, last: str):
    return (
        get_user_model()
        .objects.filter(first_name=first, last_name=last)
        .order_by("pk")
        .values_list("username", flat=True)
    )


def test_each_run_binds_its_values() -> None:
    UserFactory(username="ana", first_name="Ana", last_name="Ruiz")
    UserFactory(username="eva", first_name="Eva", last_name="Ruiz")
    query = PrecompiledQuery(_names, first="stand-in first", last="stand-in last")
    assert query.rows("default", first="Ana", last="Ruiz") == [("ana",)]
    assert query.rows("default", first="Eva", last="Ruiz") == [("eva",)]
    assert query.rows("default", first="Eva", last="Pérez") == []
    sql, params = query.bind("default", {"first": "Ana", "last": "Ruiz"})
    assert "Ana" in params and "stand-in first" not in params


def test_the_sql_is_published_after_its_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    """A thread that finds the SQL compiled finds its converters and plan too: they are
    stored before it (a gunicorn worker's threads share the query)."""
    from core import precompiled

    query = PrecompiledQuery(
        lambda *, pk: get_user_model().objects.filter(pk=pk), pk=-1_999_999_099
    )
    made = precompiled._Plan.of

    def plan_of(compiler, using):
        assert using not in query._compiled  # what another thread would see meanwhile
        return made(compiler, using)

    monkeypatch.setattr(precompiled._Plan, "of", plan_of)
    user = UserFactory()
    assert query.instances("default", pk=user.pk) == [user]


def test_a_stand_in_must_be_in_the_query_once() -> None:
    query = PrecompiledQuery(_names, first="same", last="same")
    with pytest.raises(ValueError, match="exactly once"):
        query.rows("default", first="Ana", last="Ruiz")


def test_the_user_comes_with_the_permissions_and_marketplaces_of_django_s_backend() -> None:
    from django.contrib.auth.models import Group

    agent = UserFactory()
    agent.groups.add(Group.objects.get(name="agent"))
    pcc = MarketplaceConnectionFactory(code="pcc")
    MarketplaceAccess.objects.create(user=agent, connection=pcc)

    ours = UserWithPermissionsBackend().get_user(str(agent.pk))
    theirs = ModelBackend().get_user(agent.pk)
    assert ours == agent
    assert ours.get_all_permissions() == theirs.get_all_permissions()
    assert ours.has_perm("incidents.view_incident")
    assert visible_connection_ids(ours) == frozenset({pcc.pk})
    assert UserWithPermissionsBackend().get_user(agent.pk + 1000) is None


def _fields(obj, depth: int = 0) -> dict:
    """An instance's loaded values, and those of the related objects read with it."""
    values = {k: v for k, v in vars(obj).items() if not k.startswith("_")}
    if depth < 3:
        for name, related in obj._state.fields_cache.items():
            values[name] = None if related is None else _fields(related, depth + 1)
    return values


def _page_rows(*, order_id: int, viewer_id: int):
    from django.db.models import OuterRef, Subquery

    from incidents.models import Incident, IncidentSeen

    seen = IncidentSeen.objects.filter(incident=OuterRef("pk"), user_id=viewer_id)
    return (
        Incident.objects.annotate(viewer_seen_at=Subquery(seen.values("seen_at")[:1]))
        .select_related("connection", "order__connection", "line", "assignment__assignee")
        .defer("connection__api_key", "order__connection__api_key")
        .filter(order_id=order_id)
        .order_by("pk")
    )


def test_instances_are_those_the_queryset_gives() -> None:
    from tests.factories.core import OrderLineFactory
    from tests.factories.incidents import (
        IncidentAssignmentFactory,
        IncidentFactory,
        IncidentSeenFactory,
    )

    first = IncidentFactory()
    other = IncidentFactory(line=OrderLineFactory(order=first.order, index=2), order=first.order)
    IncidentAssignmentFactory(incident=other)
    viewer = UserFactory()
    IncidentSeenFactory(incident=first, user=viewer)
    IncidentFactory()  # another order's
    query = PrecompiledQuery(_page_rows, order_id=-1_999_999_101, viewer_id=-1_999_999_102)

    ours = query.instances("default", order_id=first.order_id, viewer_id=viewer.pk)
    theirs = list(_page_rows(order_id=first.order_id, viewer_id=viewer.pk))
    assert [type(o) for o in ours] == [type(o) for o in theirs]
    assert [_fields(o) for o in ours] == [_fields(o) for o in theirs]
    assert ours[0].viewer_seen_at is not None and ours[1].viewer_seen_at is None
    assert ours[1].assignment.assignee == other.assignment.assignee
    assert ours[0].connection.get_deferred_fields() == {"api_key"}
    assert ours[0].connection.api_key == first.connection.api_key  # read when asked
    assert query.instances("default", order_id=first.order_id + 1000, viewer_id=viewer.pk) == []


def test_instances_need_a_model_query() -> None:
    query = PrecompiledQuery(_names, first="stand-in first", last="stand-in last")
    with pytest.raises(ValueError, match="model instances"):
        query.instances("default", first="Ana", last="Ruiz")


def test_rows_are_converted_as_the_queryset_gives_them() -> None:
    """Dates come back aware on every backend (SQLite answers them as text)."""
    from tests.factories.incidents import IncidentFactory

    incident = IncidentFactory()

    def opened(*, pk: int):
        from incidents.models import Incident

        return Incident.objects.filter(pk=pk).values_list("opened_at", "reason_label")

    query = PrecompiledQuery(opened, pk=-1_999_999_111)
    assert query.rows("default", pk=incident.pk) == list(opened(pk=incident.pk))
    assert query.rows("default", pk=incident.pk)[0][0].tzinfo is not None


def test_instances_are_made_as_from_db_makes_them() -> None:
    """Without Model.__init__ (no receivers, no __init__ of its own), each instance is
    what ``from_db`` makes: the same fields, deferred ones left out, saved state."""
    from django.db.models.signals import post_init

    from messaging.models import Message
    from tests.factories.messaging import MessageFactory

    message = MessageFactory(recipients=[{"type": "SHOP"}], attachments=[{"id": "a1"}])

    def messages(*, pk: int):
        return Message.objects.filter(pk=pk).defer("body")

    query = PrecompiledQuery(messages, pk=-1_999_999_121)
    ours = query.instances("default", pk=message.pk)
    theirs = list(messages(pk=message.pk))
    assert [vars(o) | {"_state": None} for o in ours] == [
        vars(o) | {"_state": None} for o in theirs
    ]
    made = ours[0]
    assert (made._state.adding, made._state.db) == (False, "default")
    assert made.get_deferred_fields() == {"body"}
    assert made.body == message.body  # read when asked
    assert made == message and made.recipients == [{"type": "SHOP"}]

    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)

    post_init.connect(receiver, sender=Message)
    try:
        assert query.instances("default", pk=message.pk)[0] == message
    finally:
        post_init.disconnect(receiver, sender=Message)
    assert seen == [message.pk]  # with receivers, from_db (and its signals) as ever


def test_json_columns_are_converted_as_the_queryset_gives_them() -> None:
    from messaging.models import Message
    from tests.factories.messaging import MessageFactory

    thread = MessageFactory(attachments=[]).thread
    MessageFactory(thread=thread, attachments=[])
    MessageFactory(thread=thread, attachments=[{"id": "a1", "name": "[]"}], recipients=[])

    def messages(*, thread_id: int):
        return Message.objects.filter(thread_id=thread_id).order_by("pk")

    query = PrecompiledQuery(messages, thread_id=-1_999_999_131)
    ours = query.instances("default", thread_id=thread.pk)
    theirs = list(messages(thread_id=thread.pk))
    assert [(m.attachments, m.recipients) for m in ours] == [
        (m.attachments, m.recipients) for m in theirs
    ]
    ours[0].attachments.append("x")  # each empty list its own
    assert ours[1].attachments == []
    rows = PrecompiledQuery(
        lambda thread_id: messages(thread_id=thread_id).values_list("attachments"),
        thread_id=-1_999_999_132,
    ).rows("default", thread_id=thread.pk)
    assert rows == list(messages(thread_id=thread.pk).values_list("attachments"))


def test_json_texts_seen_before_give_each_row_values_of_its_own() -> None:
    from messaging.models import Message
    from tests.factories.messaging import MessageFactory

    recipients = [{"type": "SHOP", "id": 7, "name": "Tienda ñ", "ok": True, "n": 1.5}]
    thread = MessageFactory(recipients=recipients, attachments=[{"id": "a1"}]).thread
    for _ in range(3):
        MessageFactory(thread=thread, recipients=recipients, attachments=[{"id": "a1"}])
    MessageFactory(thread=thread, recipients=[{"type": "CUSTOMER"}], attachments=[])

    def messages(*, thread_id: int):
        return Message.objects.filter(thread_id=thread_id).order_by("pk")

    query = PrecompiledQuery(messages, thread_id=-1_999_999_133)
    for _ in range(2):  # the second time, every text has been seen
        ours = query.instances("default", thread_id=thread.pk)
        theirs = list(messages(thread_id=thread.pk))
        assert [(m.recipients, m.attachments) for m in ours] == [
            (m.recipients, m.attachments) for m in theirs
        ]
    ours[0].recipients[0]["type"] = "OPERATOR"
    ours[0].attachments.append({"id": "a2"})
    assert ours[1].recipients == recipients
    assert ours[1].attachments == [{"id": "a1"}]
    assert query.instances("default", thread_id=thread.pk)[0].recipients == recipients


def _prepared_statements() -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements ORDER BY name")
        return [name for (name,) in cursor.fetchall()]


def test_a_run_executes_the_statement_prepared_on_the_connection() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    UserFactory(username="ana", first_name="Ana", last_name="Ruiz")
    query = PrecompiledQuery(_names, first="stand-in first", last="stand-in last")
    assert query.rows("default", first="Ana", last="Ruiz") == [("ana",)]
    prepared = set(_prepared_statements())
    with CaptureQueriesContext(connection) as captured:
        assert query.rows("default", first="Ana", last="Ruiz") == [("ana",)]
        assert query.rows("default", first="Eva", last="Ruiz") == []
    assert [q["sql"].split(" (")[0] for q in captured] == 2 * [captured[0]["sql"].split(" (")[0]]
    assert captured[0]["sql"].startswith("EXECUTE incidesk_")
    assert captured[0]["sql"].endswith("('Ana', 'Ruiz')")
    assert set(_prepared_statements()) == prepared  # prepared once


def test_a_query_without_values_is_prepared_too() -> None:
    UserFactory(username="ana")
    query = PrecompiledQuery(
        lambda: get_user_model().objects.filter(username="ana").values_list("username")
    )
    assert query.rows("default") == [("ana",)]
    assert query.rows("default") == [("ana",)]


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_the_statements_again() -> None:
    from django.db import connection

    user = UserFactory(username="ana", first_name="Ana", last_name="Ruiz")
    query = PrecompiledQuery(_names, first="stand-in first", last="stand-in last")
    by_pk = PrecompiledQuery(
        lambda *, pk: get_user_model().objects.filter(pk=pk), pk=-1_999_999_098
    )
    assert query.rows("default", first="Ana", last="Ruiz") == [("ana",)]
    connection.close()
    assert by_pk.instances("default", pk=user.pk) == [user]
    assert query.rows("default", first="Ana", last="Ruiz") == [("ana",)]
    assert len([n for n in _prepared_statements() if n.startswith("incidesk_")]) >= 2
    # A connection found unusable by the request's health check is replaced first.
    connection.health_check_done = False
    connection.connection.close()
    assert query.rows("default", first="Ana", last="Ruiz") == [("ana",)]
