"""The data migration that makes PcComponentes' strict reading the ``pccomponentes``
preset: a database made before it, with a connection and open waits on the old
9:00-18:00 preset, migrated forward."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from sla.policies import calendar_install
from tests.sla.conftest import madrid

#: The orders as they are today (their historical model must match the table: the search
#: document left it in ``core.0007``).
BEFORE = [("sla", "0005_slapolicy_close_after_days"), ("core", "0007_order_search_document_moved")]
AFTER = [("sla", "0006_pccomponentes_strict")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_connections_on_the_old_preset_move_to_the_strict_one_and_deadlines_follow() -> None:
    apps = _migrate(BEFORE)
    try:
        policy_model = apps.get_model("sla", "SlaPolicy")
        calendar_model = apps.get_model("sla", "BusinessCalendar")
        # The database as it was: one "pccomponentes" policy, the 9:00-18:00 reading,
        # with an admin's edit (a higher warning window) that must survive.
        policy_model.objects.filter(preset="pccomponentes_office_hours").delete()
        policy_model.objects.filter(preset="pccomponentes").delete()
        calendar_model.objects.filter(name__contains="0:00-24:00").delete()
        # (An earlier transactional test may have emptied the tables: made again if so.)
        office_calendar = calendar_install(apps=apps, key="office_hours")
        old = policy_model.objects.create(
            preset="pccomponentes",
            name="PcComponentes",
            clock="business",
            reply_hours=Decimal(24),
            warn_fraction=Decimal("0.30"),
            calendar=office_calendar,
        )
        connection_model = apps.get_model("core", "MarketplaceConnection")
        pcc = connection_model.objects.create(
            code="pcc", name="PcComponentes", base_url="http://x", api_key="k",
            sla_policy="pccomponentes",
        )  # fmt: skip
        mm = connection_model.objects.create(
            code="mm", name="MediaMarkt", base_url="http://y", api_key="k", sla_policy="mediamarkt"
        )
        order_model = apps.get_model("core", "Order")
        line_model = apps.get_model("core", "OrderLine")
        incident_model = apps.get_model("incidents", "Incident")
        item_model = apps.get_model("sla", "SlaItem")
        friday = madrid(2026, 12, 4, 17)
        incidents = []
        for conn in (pcc, mm):
            order = order_model.objects.create(
                connection=conn, mirakl_id=f"o-{conn.code}", state="SHIPPED",
                created_date=friday, last_updated_date=friday,
            )  # fmt: skip
            line = line_model.objects.create(
                order=order, mirakl_id="l1", state="INCIDENT_OPEN", price=Decimal(10)
            )
            incident = incident_model.objects.create(
                connection=conn, order=order, line=line, opened_at=friday,
                reply_due_at=madrid(2026, 12, 10, 14),
            )  # fmt: skip
            incidents.append(incident)
            item_model.objects.create(
                kind="incident", connection_id=conn.pk, incident=incident, policy_id=old.pk,
                started_at=friday, due_at=madrid(2026, 12, 10, 14),
                warn_at=madrid(2026, 12, 9, 15), state="on_time",
            )  # fmt: skip
        answered = item_model.objects.create(
            kind="incident", connection_id=pcc.pk, incident=incidents[0], policy_id=old.pk,
            started_at=madrid(2026, 11, 30, 10), due_at=madrid(2026, 12, 2, 13),
            warn_at=madrid(2026, 12, 2, 10), state="stopped", stopped_at=madrid(2026, 12, 1, 9),
            stop_reason="shop_reply",
        )  # fmt: skip

        apps = _migrate(AFTER)

        policy_model = apps.get_model("sla", "SlaPolicy")
        item_model = apps.get_model("sla", "SlaItem")
        office = policy_model.objects.get(preset="pccomponentes_office_hours")
        assert office.pk == old.pk and office.warn_fraction == Decimal("0.30")  # kept as edited
        assert office.name == "PcComponentes (horario de oficina)"
        strict = policy_model.objects.select_related("calendar").get(preset="pccomponentes")
        assert (strict.clock, strict.reply_hours, strict.warn_hours) == ("business", 24, 4)
        assert strict.calendar.name.endswith("0:00-24:00")
        # The open wait on PcComponentes: 7 h on Friday, 17 h on Monday; warning at 20 h.
        item = item_model.objects.get(incident_id=incidents[0].pk, stopped_at__isnull=True)
        assert item.due_at == datetime(2026, 12, 7, 16, tzinfo=UTC)
        assert item.warn_at == datetime(2026, 12, 7, 12, tzinfo=UTC)
        assert item.policy_id == strict.pk
        assert item.state == "on_time"  # the next sweep moves it on
        incident_model = apps.get_model("incidents", "Incident")
        assert incident_model.objects.get(pk=incidents[0].pk).reply_due_at == item.due_at
        # Answered waits and other marketplaces' waits are left alone.
        assert item_model.objects.get(pk=answered.pk).due_at == madrid(2026, 12, 2, 13)
        other = item_model.objects.get(incident_id=incidents[1].pk)
        assert other.due_at == madrid(2026, 12, 10, 14)
        assert incident_model.objects.get(pk=incidents[1].pk).reply_due_at == other.due_at
    finally:
        _migrate(executor_leaves())


def executor_leaves() -> list[tuple[str, str]]:
    """Every app's latest migration (the database as the other tests expect it)."""
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_a_new_database_keeps_both_presets_as_shipped() -> None:
    _migrate(BEFORE)
    try:
        apps = _migrate(AFTER)
        presets = set(apps.get_model("sla", "SlaPolicy").objects.values_list("preset", flat=True))
        assert {"pccomponentes", "pccomponentes_office_hours"} <= presets
        strict = apps.get_model("sla", "SlaPolicy").objects.get(preset="pccomponentes")
        assert strict.warn_hours == 4
    finally:
        _migrate(executor_leaves())
