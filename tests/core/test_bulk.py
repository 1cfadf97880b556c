"""core.bulk: rows written in one statement, as Postgres holds them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DataError, connection, transaction
from django.db.models.expressions import DatabaseDefault, Value
from django.utils import timezone

from core.bulk import insert_rows, instance_rows, update_rows, upsert, values_by_keys
from core.models import Order
from incidents.models import AuditEntry, Incident
from mirakl.schemas import AddressRecord
from tests.factories.core import OrderFactory, OrderLineFactory

pytestmark = pytest.mark.django_db


def test_insert_rows_returns_the_keys_of_every_row() -> None:
    line = OrderLineFactory()
    now = timezone.now()
    incidents = [
        Incident(
            connection_id=line.order.connection_id,
            order_id=line.order_id,
            line_id=line.pk,
            episode=episode,
            opened_at=now,
            closed_at=now if episode == 1 else None,
            created_at=now,
            updated_at=now,
        )
        for episode in (1, 2)
    ]
    rows = instance_rows(incidents)
    assert "id" not in rows[0]
    stored = insert_rows(Incident, rows, returning=("id", "episode"))
    assert sorted(episode for _pk, episode in stored) == [1, 2]
    assert {pk for pk, _episode in stored} == set(
        Incident.objects.filter(line=line).values_list("pk", flat=True)
    )


def test_a_field_left_to_its_database_default_is_sent_with_the_default() -> None:
    line = OrderLineFactory()
    now = timezone.now()
    incident = Incident(
        connection_id=line.order.connection_id,
        order_id=line.order_id,
        line_id=line.pk,
        opened_at=now,
        created_at=now,
        updated_at=now,
    )
    field = Incident._meta.get_field("watch")
    incident.watch = DatabaseDefault(Value(""), output_field=field)
    (pk,) = insert_rows(Incident, instance_rows([incident]), returning=("id",))[0]
    assert Incident.objects.get(pk=pk).watch == ""


def test_audit_entries_keep_their_data() -> None:
    order = OrderFactory()
    entry = AuditEntry(
        connection_id=order.connection_id,
        order_id=order.pk,
        source=AuditEntry.Source.SYNC,
        action=AuditEntry.Action.INCIDENT_OPENED,
        data={"episode": 2, "text": "año"},
    )
    ((pk,),) = insert_rows(AuditEntry, instance_rows([entry]), returning=("id",))
    assert AuditEntry.objects.get(pk=pk).data == {"episode": 2, "text": "año"}


def test_upsert_keeps_exact_amounts_and_cleans_nul_characters() -> None:
    order = OrderFactory()
    row = instance_rows([order])[0]
    row["customer_first_name"] = "Ana\x00"
    row["total_price"] = Decimal("10.50")
    (stored,) = upsert(
        Order,
        [row],
        unique_fields=["connection", "mirakl_id"],
        update_fields=["customer_first_name", "total_price"],
    )
    order.refresh_from_db()
    assert stored == (order.pk,)
    assert order.customer_first_name == "Ana"
    assert order.total_price == Decimal("10.50")


def test_values_by_keys_reads_the_rows_of_those_keys_within_the_scope() -> None:
    ours = OrderFactory(mirakl_id="A-1")
    OrderFactory(connection=ours.connection, mirakl_id="A-2")
    OrderFactory(mirakl_id="A-1")  # another connection's order of the same number
    found = values_by_keys(
        Order,
        ("mirakl_id", "id", "last_updated_date"),
        key="mirakl_id",
        keys=["A-1", "A-404"],
        scope={"connection_id": ours.connection_id},
    )
    assert found == [("A-1", ours.pk, ours.last_updated_date)]
    assert (
        values_by_keys(
            Order, ("id",), key="mirakl_id", keys=[], scope={"connection_id": ours.connection_id}
        )
        == []
    )


def test_values_by_keys_reads_each_row_once_and_never_by_a_cut_key() -> None:
    ours = OrderFactory(mirakl_id="B" * 64)
    found = values_by_keys(
        Order,
        ("id",),
        key="mirakl_id",
        keys=["B" * 64, "B" * 64, "B" * 65],
        scope={"connection_id": ours.connection_id},
    )
    assert found == [(ours.pk,)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="Postgres only")
def test_upsert_tells_the_rows_it_inserted_from_those_it_updated() -> None:
    held = OrderFactory(mirakl_id="C-1")
    fresh = instance_rows([OrderFactory.build(connection=held.connection, mirakl_id="C-2")])[0]
    again = instance_rows([held])[0]
    stored = upsert(
        Order,
        [again, fresh],
        unique_fields=["connection", "mirakl_id"],
        update_fields=["state"],
        returning=("mirakl_id",),
        inserted=True,
    )
    assert sorted(stored) == [("C-1", False), ("C-2", True)]


def test_a_record_kept_as_it_is_in_a_json_value_is_stored_without_its_missing_fields() -> None:
    order = OrderFactory()
    (row,) = instance_rows([order])
    row["billing_address"] = AddressRecord(city="Mad\x00rid", zip_code="28001")
    upsert(
        Order,
        [row],
        unique_fields=["connection", "mirakl_id"],
        update_fields=["billing_address"],
    )
    order.refresh_from_db()
    # The NUL character Postgres refuses is removed, as from any other value.
    assert order.billing_address == {"city": "Madrid", "zip_code": "28001"}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="Postgres only")
def test_a_text_longer_than_its_column_is_refused_rather_than_cut() -> None:
    order = OrderFactory()
    (row,) = instance_rows([order])
    row["commercial_id"] = "X" * (Order._meta.get_field("commercial_id").max_length + 1)
    with pytest.raises(DataError), transaction.atomic():
        upsert(
            Order,
            [row],
            unique_fields=["connection", "mirakl_id"],
            update_fields=["commercial_id"],
        )
    order.refresh_from_db()
    assert order.commercial_id != row["commercial_id"]


def test_json_values_of_every_kind_are_stored_as_they_were_given() -> None:
    order = OrderFactory()
    values = ["año", 7, [1, None, "x"], {"a": None, "b": [True, 1.5]}, {}]
    entries = [
        AuditEntry(
            connection_id=order.connection_id,
            order_id=order.pk,
            source=AuditEntry.Source.SYNC,
            action=AuditEntry.Action.INCIDENT_OPENED,
            data=value,
        )
        for value in values
    ]
    stored = insert_rows(AuditEntry, instance_rows(entries), returning=("id",))
    by_pk = dict(AuditEntry.objects.filter(order=order).values_list("pk", "data"))
    assert sorted((by_pk[pk] for (pk,) in stored), key=repr) == sorted(values, key=repr)


def test_a_row_without_a_field_of_the_first_row_gives_it_as_null() -> None:
    line = OrderLineFactory()
    now = timezone.now()
    rows = instance_rows(
        [
            Incident(
                connection_id=line.order.connection_id,
                order_id=line.order_id,
                line_id=line.pk,
                episode=episode,
                opened_at=now,
                closed_at=now,
                created_at=now,
                updated_at=now,
            )
            for episode in (1, 2)
        ]
    )
    del rows[1]["closed_at"]
    insert_rows(Incident, rows, returning=("id",))
    closed = dict(Incident.objects.filter(line=line).values_list("episode", "closed_at"))
    assert closed == {1: now, 2: None}


def test_update_rows_sets_those_fields_of_those_rows_only() -> None:
    first, second = OrderFactory(state="SHIPPING"), OrderFactory(state="SHIPPING")
    updated = update_rows(
        Order,
        [{"id": first.pk, "state": "SHIPPED", "shipping_tracking": "TRK-1"}],
        fields=["state", "shipping_tracking"],
    )
    assert updated == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, first.shipping_tracking) == ("SHIPPED", "TRK-1")
    assert second.state == "SHIPPING"


def test_update_rows_makes_its_statement_once_per_shape_and_takes_a_relation_by_name(
    monkeypatch,
) -> None:
    from core import bulk
    from tests.factories.core import MarketplaceConnectionFactory

    order = OrderFactory(state="SHIPPING")
    other = MarketplaceConnectionFactory()
    made: list[tuple] = []
    real = bulk._update_sql
    monkeypatch.setattr(bulk, "_UPDATE_SQL", {})
    monkeypatch.setattr(bulk, "_update_sql", lambda *args: made.append(args) or real(*args))

    for state in ("SHIPPED", "RECEIVED"):
        update_rows(Order, [{"id": order.pk, "state": state}], fields=["state"])
    # A relation named by its field or by its attname: the same statement, the same row.
    update_rows(Order, [{"id": order.pk, "connection": other.pk}], fields=["connection"])
    update_rows(Order, [{"id": order.pk, "connection_id": other.pk}], fields=["connection"])

    assert len(made) == 2  # one per set of fields
    order.refresh_from_db()
    assert (order.state, order.connection_id) == ("RECEIVED", other.pk)


def test_upsert_returning_nothing_writes_the_rows_and_returns_nothing() -> None:
    order = OrderFactory(state="SHIPPING")
    (row,) = instance_rows([order])
    row["state"] = "SHIPPED"
    fresh = instance_rows([OrderFactory.build(connection=order.connection, mirakl_id="D-2")])
    stored = upsert(
        Order,
        [row, *fresh],
        unique_fields=["connection", "mirakl_id"],
        update_fields=["state"],
        returning=(),
    )
    assert stored == []
    order.refresh_from_db()
    assert order.state == "SHIPPED"
    assert Order.objects.filter(connection=order.connection, mirakl_id="D-2").exists()
