"""The sync service against the live Mirakl sandbox."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from core.models import MarketplaceReason, Order, OrderLine
from core.sync import orders as sync_orders
from core.sync.locks import sync_lock
from core.sync.models import SyncCursor, SyncRun
from core.sync.runner import SyncAlreadyRunning, marketplace_sync, marketplaces_sync
from incidents.models import AuditEntry, Incident
from messaging.models import Message, Party, Thread
from mirakl.client import MiraklClient
from mirakl.schemas import Recipient
from refunds.models import Refund
from tests.conftest import SANDBOX_KEY
from tests.core.snapshots import audit_log_truncate, db_snapshot
from tests.factories.core import MarketplaceConnectionFactory

pytestmark = pytest.mark.django_db


def control(sandbox, path: str, payload: dict | None = None) -> dict:
    """Play another party through the sandbox's control API."""
    url = f"{sandbox.base_url}/_sandbox/{path}"
    headers = {"Authorization": SANDBOX_KEY}
    if payload is None:
        response = requests.get(url, headers=headers, timeout=5)
    else:
        response = requests.post(url, json=payload, headers=headers, timeout=5)
    response.raise_for_status()
    return response.json() if response.content else {}


def by_resource(results) -> dict:
    return {r.resource: r for r in results}


def test_first_sync_fills_every_table(connection, sandbox_client, sandbox) -> None:
    results = by_resource(marketplace_sync(connection=connection, client=sandbox_client))

    assert all(r.ok for r in results.values()), results
    state = control(sandbox, "state")
    assert Order.objects.count() == state["orders"]
    assert Thread.objects.count() == state["threads"]
    assert Message.objects.count() == state["messages"]
    assert Incident.objects.filter(closed_at__isnull=True).count() == state["open_incidents"]
    for model in (OrderLine, Refund, AuditEntry, MarketplaceReason, SyncRun):
        assert model.objects.exists(), model.__name__
    assert results["orders"].created == state["orders"]
    # Threads link to their orders; every author type is present.
    assert not Thread.objects.filter(entity_type="MMP_ORDER", order__isnull=True).exists()
    assert set(Message.objects.values_list("author_type", flat=True)) == set(Party.values)
    # Derived states: something still untouched, something already handled.
    states = set(Incident.objects.values_list("state", flat=True))
    assert {Incident.State.NEW, Incident.State.IN_PROGRESS} <= states
    cursors = SyncCursor.objects.filter(connection=connection)
    assert all(c.updated_since and not c.in_progress for c in cursors)


def test_sync_twice_changes_nothing(connection, sandbox_client) -> None:
    marketplace_sync(connection=connection, client=sandbox_client)
    before = db_snapshot()
    events = AuditEntry.objects.count()

    results = by_resource(marketplace_sync(connection=connection, client=sandbox_client))

    assert db_snapshot() == before
    assert AuditEntry.objects.count() == events
    for resource in ("orders", "threads"):
        assert results[resource].created == results[resource].updated == 0
        # Nothing changed: one request per resource.
        assert results[resource].requests <= 2


def test_the_collector_is_paused_while_a_connection_syncs(
    connection, sandbox_client, monkeypatch
) -> None:
    import gc

    from core.sync import orders

    seen: list[bool] = []
    real_store = orders.orders_page_store

    def store(**kwargs):
        seen.append(gc.isenabled())
        return real_store(**kwargs)

    monkeypatch.setattr("core.sync.orders.orders_page_store", store)
    assert gc.isenabled()
    marketplace_sync(connection=connection, client=sandbox_client)
    assert seen and not any(seen)
    assert gc.isenabled()


def test_full_sync_twice_changes_nothing(connection, sandbox_client) -> None:
    marketplace_sync(connection=connection, client=sandbox_client, full=True)
    before = db_snapshot()
    marketplace_sync(connection=connection, client=sandbox_client, full=True)
    assert db_snapshot() == before


def test_incremental_sync_sees_new_incident_and_messages(connection, sandbox_client, sandbox):
    marketplace_sync(connection=connection, client=sandbox_client)
    order = Order.objects.filter(has_incident=False, state="RECEIVED").first()
    assert order is not None
    line = order.lines.first()
    control(
        sandbox,
        "incidents",
        {"order_id": order.mirakl_id, "line_id": line.mirakl_id, "reason_code": "3"},
    )

    results = by_resource(marketplace_sync(connection=connection, client=sandbox_client))

    assert results["orders"].updated >= 1
    incident = Incident.objects.get(line=line, closed_at__isnull=True)
    assert incident.state == Incident.State.NEW
    assert incident.reason_code == "3"
    opened = incident.audit_entries.get()
    assert (opened.action, opened.source) == (AuditEntry.Action.INCIDENT_OPENED, "sync")

    # The customer writes; the shop answers: the incident is being handled.
    control(
        sandbox,
        "messages",
        {"order_id": order.mirakl_id, "party": "CUSTOMER", "body": "El ratón no enciende."},
    )
    marketplace_sync(connection=connection, client=sandbox_client)
    thread = Thread.objects.filter(order=order, shop_reply_needed_since__isnull=False).first()
    assert thread is not None
    customer = next(p for p in thread.authorized_participants if p["type"] == "CUSTOMER")
    sandbox_client.reply_to_thread(
        thread.mirakl_id,
        body="Sentimos las molestias, le enviamos uno nuevo hoy mismo.",
        to=[Recipient(type="CUSTOMER", id=customer.get("id"))],
    )
    marketplace_sync(connection=connection, client=sandbox_client)
    thread.refresh_from_db()
    incident.refresh_from_db()
    assert thread.shop_reply_needed_since is None
    assert incident.state == Incident.State.IN_PROGRESS


def test_reopened_incident_is_a_new_episode(connection, sandbox_client, sandbox) -> None:
    marketplace_sync(connection=connection, client=sandbox_client)
    incident = (
        Incident.objects.filter(closed_at__isnull=True).select_related("order", "line").first()
    )
    order_id, line_id = incident.order.mirakl_id, incident.line.mirakl_id
    reasons = sandbox_client.list_reasons()
    close_reason = next(r.code for r in reasons if r.type == "INCIDENT_CLOSE")
    sandbox_client.resolve_incident(order_id, line_id, reason_code=close_reason)
    sandbox.state.advance(3600 * 24 * 7)
    control(sandbox, "tick", {})
    marketplace_sync(connection=connection, client=sandbox_client)
    incident.refresh_from_db()
    assert incident.state == Incident.State.CLOSED
    assert incident.closed_at is not None

    control(sandbox, "incidents", {"order_id": order_id, "line_id": line_id, "reason_code": "3"})
    marketplace_sync(connection=connection, client=sandbox_client)

    episodes = Incident.objects.filter(line=incident.line).order_by("episode")
    assert [(e.episode, e.is_open) for e in episodes] == [(1, False), (2, True)]
    assert episodes[1].audit_entries.get().action == AuditEntry.Action.INCIDENT_REOPENED
    closed = episodes[0].audit_entries.get(action=AuditEntry.Action.INCIDENT_CLOSED)
    assert closed.to_state == Incident.State.CLOSED and closed.source == "sync"


def test_threads_longer_than_one_page_of_messages_are_read_in_full(
    connection, sandbox_client, sandbox
) -> None:
    marketplace_sync(connection=connection, client=sandbox_client)
    long_threads = Thread.objects.filter(message_count__gt=100)
    assert long_threads.exists()
    for thread in long_threads:
        assert thread.messages.count() == thread.message_count


def test_crash_mid_sync_resumes_without_losing_or_duplicating(
    connection, sandbox_client, monkeypatch, db
) -> None:
    real_store = sync_orders.orders_page_store
    calls = {"n": 0}

    def crashing_store(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real_store(**kwargs)

    monkeypatch.setattr("core.sync.orders.orders_page_store", crashing_store)
    # Small pages so that the crash happens in the middle.
    monkeypatch.setattr(
        MiraklClient,
        "iter_order_record_pages",
        _with_page_size(MiraklClient.iter_order_record_pages, 25),
    )
    first = by_resource(marketplace_sync(connection=connection, client=sandbox_client))
    assert not first["orders"].ok
    cursor = SyncCursor.objects.get(connection=connection, resource="orders")
    assert cursor.in_progress and cursor.run_offset == 25
    assert Order.objects.count() == 25

    monkeypatch.setattr("core.sync.orders.orders_page_store", real_store)
    second = by_resource(marketplace_sync(connection=connection, client=sandbox_client))
    assert second["orders"].ok and second["orders"].resumed
    cursor.refresh_from_db()
    assert not cursor.in_progress
    crashed = db_snapshot()

    # Compare with a clean run into an empty database.
    audit_log_truncate()
    Message.objects.all().delete()
    Thread.objects.all().delete()
    Order.objects.all().delete()
    SyncCursor.objects.all().delete()
    MarketplaceReason.objects.all().delete()
    marketplace_sync(connection=connection, client=sandbox_client)
    assert db_snapshot() == crashed


def _with_page_size(method, size: int):
    def wrapper(self, **kwargs):
        kwargs["max"] = size
        return method(self, **kwargs)

    return wrapper


def test_sync_converges_under_faults(connection, sandbox, sandbox_client) -> None:
    marketplace_sync(connection=connection, client=sandbox_client)
    clean = db_snapshot()
    audit_log_truncate()
    Message.objects.all().delete()
    Thread.objects.all().delete()
    Order.objects.all().delete()
    SyncCursor.objects.all().delete()

    control(sandbox, "faults", {"spec": "429=0.1,500=0.1,retry_after=0"})
    for _attempt in range(10):
        results = marketplace_sync(connection=connection, client=sandbox_client)
        if all(r.ok for r in results):
            break
    control(sandbox, "faults", {"spec": ""})
    assert all(r.ok for r in results)
    assert db_snapshot() == clean
    assert sandbox_client.request_count > 0


def test_one_marketplace_failing_does_not_stop_another(connection, settings) -> None:
    settings.MIRAKL_MAX_RETRIES = 0
    MarketplaceConnectionFactory(code="broken", base_url="http://127.0.0.1:9", api_key="x")

    outcome = marketplaces_sync()

    assert not all(r.ok for r in outcome["broken"])
    assert all(r.ok for r in outcome["pccomponentes"])
    assert Order.objects.filter(connection=connection).exists()
    broken_cursor = SyncCursor.objects.get(connection__code="broken", resource="orders")
    assert broken_cursor.last_error
    assert SyncRun.objects.filter(connection__code="broken", status="failed").exists()


def test_two_syncs_of_one_connection_never_overlap(connection, sandbox_client) -> None:
    with sync_lock(f"sync-{connection.pk}") as held:
        assert held is not None
        with pytest.raises(SyncAlreadyRunning):
            marketplace_sync(connection=connection, client=sandbox_client)
    assert not Order.objects.exists()


def test_reasons_are_stored_by_type_and_code_and_relabelled_by_a_later_sync(
    connection, sandbox, sandbox_client, client
) -> None:
    from datetime import timedelta

    from core.constants import SYNC_RESOURCE_REASONS
    from core.reasons import connection_reasons
    from mirakl.sandbox.reasons import REASONS
    from tests.factories.core import UserFactory

    first = by_resource(marketplace_sync(connection=connection, client=sandbox_client))

    stored = {
        (r.type, r.code): (r.label, r.is_shop_right)
        for r in MarketplaceReason.objects.filter(connection=connection)
    }
    assert stored == {(r.type, r.code): (r.label, r.is_shop_right) for r in REASONS}
    assert stored[("ORDER_MESSAGING", "21")] == ("Solicitud de factura", True)
    assert stored[("INCIDENT_CLOSE", "INC_CLOSED_OPERATOR")] == (
        "Cerrada por el operador tras su revisión",
        False,
    )
    assert (first["reasons"].created, first["reasons"].updated) == (len(REASONS), 0)
    # The choices the forms offer: the shop's usable reasons only, by type.
    choices = connection_reasons(connection_id=connection.pk)
    assert ("21", "Solicitud de factura") in choices["ORDER_MESSAGING"]
    assert "INC_CLOSED_OPERATOR" not in dict(choices["INCIDENT_CLOSE"])
    assert "INCIDENT_OPEN" not in choices  # every one of them is the operator's

    control(
        sandbox, "reasons", {"type": "ORDER_MESSAGING", "code": "21", "label": "Factura del pedido"}
    )
    # Within the hour the reasons are not read again.
    marketplace_sync(connection=connection, client=sandbox_client)
    unchanged = MarketplaceReason.objects.get(
        connection=connection, type="ORDER_MESSAGING", code="21"
    )
    assert unchanged.label == "Solicitud de factura"

    SyncCursor.objects.filter(connection=connection, resource=SYNC_RESOURCE_REASONS).update(
        last_success_at=timezone.now() - timedelta(hours=1, minutes=1)
    )
    later = by_resource(marketplace_sync(connection=connection, client=sandbox_client))

    assert (later["reasons"].created, later["reasons"].updated) == (0, len(REASONS))
    assert MarketplaceReason.objects.filter(connection=connection).count() == len(REASONS)
    relabelled = MarketplaceReason.objects.get(
        connection=connection, type="ORDER_MESSAGING", code="21"
    )
    assert (relabelled.label, relabelled.is_shop_right) == ("Factura del pedido", True)
    # The cached choices were forgotten: the forms show the new label at once.
    choices = connection_reasons(connection_id=connection.pk)
    assert ("21", "Factura del pedido") in choices["ORDER_MESSAGING"]
    assert "Solicitud de factura" not in dict(choices["ORDER_MESSAGING"]).values()
    incident = Incident.objects.filter(connection=connection, closed_at__isnull=True).first()
    client.force_login(UserFactory(username="ana", role="agent"))
    page = client.get(reverse("desk:incident", args=[incident.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert '<option value="21">Factura del pedido</option>' in html
    assert "Solicitud de factura" not in html


def test_pages_are_prepared_by_the_reading_thread_and_written_as_without(
    connection, sandbox_client, monkeypatch
) -> None:
    from core.sync import registry

    preparing_threads: list[threading.Thread] = []

    def spied(prepare):
        def prepare_and_note(connection_id, payload):
            preparing_threads.append(threading.current_thread())
            return prepare(connection_id, payload)

        return prepare_and_note

    resources = {name: registry._resources[name] for name in ("orders", "threads")}
    for name, resource in resources.items():
        monkeypatch.setitem(
            registry._resources, name, replace(resource, prepare=spied(resource.prepare))
        )
    assert all(r.ok for r in marketplace_sync(connection=connection, client=sandbox_client))
    assert preparing_threads
    assert threading.main_thread() not in preparing_threads
    prepared = db_snapshot()

    # The same pages written by a sync that prepares nothing ahead: the same rows.
    audit_log_truncate()
    Message.objects.all().delete()
    Thread.objects.all().delete()
    Order.objects.all().delete()
    SyncCursor.objects.all().delete()
    for name, resource in resources.items():
        monkeypatch.setitem(registry._resources, name, replace(resource, prepare=None))
    assert all(r.ok for r in marketplace_sync(connection=connection, client=sandbox_client))
    assert db_snapshot() == prepared


def test_the_switch_interval_is_short_while_a_connection_syncs(
    connection, sandbox_client, monkeypatch
) -> None:
    import sys

    from core.sync.prefetch import SWITCH_INTERVAL

    seen: list[float] = []
    real_store = sync_orders.orders_page_store

    def store(**kwargs):
        seen.append(sys.getswitchinterval())
        return real_store(**kwargs)

    monkeypatch.setattr("core.sync.orders.orders_page_store", store)
    before = sys.getswitchinterval()
    marketplace_sync(connection=connection, client=sandbox_client)
    assert seen and all(interval == pytest.approx(SWITCH_INTERVAL) for interval in seen)
    assert sys.getswitchinterval() == before


def test_a_page_whose_preparation_fails_is_prepared_by_its_write(
    connection, sandbox_client, monkeypatch
) -> None:
    from core.sync import registry

    def failing(connection_id, payload):
        raise ValueError("a value nobody foresaw")

    resource = registry._resources["orders"]
    monkeypatch.setitem(registry._resources, "orders", replace(resource, prepare=failing))
    results = by_resource(marketplace_sync(connection=connection, client=sandbox_client))
    assert results["orders"].ok and results["orders"].created == Order.objects.count() > 0


@pytest.mark.django_db(transaction=True)  # each page commits: its bump is on commit
def test_the_inbox_stamp_moves_a_few_times_per_sync_and_not_when_nothing_changed(
    connection, sandbox_client, monkeypatch
) -> None:
    from core import freshness

    bumps: list[str] = []
    monkeypatch.setattr(
        freshness, "_bump", lambda key: key == freshness.INBOX_STAMP_KEY and bumps.append(key)
    )
    started = time.monotonic()
    results = marketplace_sync(connection=connection, client=sandbox_client)
    elapsed = time.monotonic() - started
    pages = sum(r.pages for r in results)
    # A bump per page written, coalesced: at most one a second, and one at the end.
    assert pages > 4
    assert 1 <= len(bumps) <= min(pages, int(elapsed) + 2), (bumps, pages, elapsed)

    bumps.clear()
    results = marketplace_sync(connection=connection, client=sandbox_client)
    assert all(r.created == r.updated == 0 for r in results)
    assert bumps == []  # pages read again unchanged: the inbox's refresh is left alone


def test_run_scopes_wrap_every_run_also_a_failed_one(
    connection, sandbox_client, monkeypatch
) -> None:
    from contextlib import contextmanager

    from core.sync import registry

    events: list[tuple[str, str]] = []

    @contextmanager
    def scope(conn, resource):
        assert conn == connection
        events.append(("enter", resource))
        try:
            yield
        finally:
            events.append(("exit", resource))

    def failing_store(**kwargs):
        events.append(("page", "orders"))
        raise RuntimeError("Postgres went away")

    monkeypatch.setattr(registry, "_run_scopes", [*registry.run_scopes(), scope])
    monkeypatch.setattr("core.sync.orders.orders_page_store", failing_store)
    results = by_resource(marketplace_sync(connection=connection, client=sandbox_client))

    assert not results["orders"].ok and results["threads"].ok
    assert events[events.index(("enter", "orders")) :][:3] == [
        ("enter", "orders"),
        ("page", "orders"),
        ("exit", "orders"),
    ]
    assert ("enter", "threads") in events and events[-1] == ("exit", "threads")


def test_a_large_threads_run_leaves_the_search_documents_to_a_job(
    connection, sandbox_client, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from datetime import datetime

    from django.conf import settings

    from messaging import sync_threads
    from messaging.models import OrderSearchDocument
    from messaging.search import order_search_documents_refresh
    from messaging.tasks import order_search_documents_task

    queued: list[tuple] = []
    monkeypatch.setattr(order_search_documents_task, "delay", lambda *args: queued.append(args))
    monkeypatch.setattr(sync_threads, "INLINE_REFRESH_MAX", 0)
    with django_capture_on_commit_callbacks(execute=True):
        results = by_resource(marketplace_sync(connection=connection, client=sandbox_client))

    assert results["threads"].created > 0
    assert not OrderSearchDocument.objects.exists()  # left to the job
    cursor = SyncCursor.objects.get(connection=connection, resource="threads")
    [(connection_id, since)] = queued
    assert connection_id == connection.pk
    assert datetime.fromisoformat(since) == cursor.updated_since + settings.SYNC_OVERLAP

    # The job, as a worker runs it: the documents an inline rebuild would have written.
    assert order_search_documents_task(*queued[0]) > 0
    with_threads = Thread.objects.filter(order__isnull=False).values_list("order_id", flat=True)
    assert OrderSearchDocument.objects.count() == len(set(with_threads))
    assert order_search_documents_refresh(order_ids=with_threads) == 0
    assert order_search_documents_task(*queued[0]) == 0  # again: nothing to change


def test_a_small_threads_run_rebuilds_its_search_documents_itself(
    connection, sandbox_client, sandbox, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from messaging.models import OrderSearchDocument
    from messaging.search import order_search
    from messaging.tasks import order_search_documents_task

    queued: list[tuple] = []
    monkeypatch.setattr(order_search_documents_task, "delay", lambda *args: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        marketplace_sync(connection=connection, client=sandbox_client)
    assert queued == []
    assert OrderSearchDocument.objects.count() == len(
        set(Thread.objects.filter(order__isnull=False).values_list("order_id", flat=True))
    )

    thread = Thread.objects.filter(order__isnull=False).first()
    control(
        sandbox,
        "messages",
        {"thread_id": thread.mirakl_id, "party": "CUSTOMER", "body": "zarzaparrilla"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        marketplace_sync(connection=connection, client=sandbox_client)
    assert queued == []
    assert set(order_search("zarzaparrilla").values_list("pk", flat=True)) == {thread.order_id}


def test_a_resumed_threads_run_leaves_the_search_documents_to_a_job(
    connection, sandbox_client, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from messaging import sync_threads
    from messaging.tasks import order_search_documents_task

    queued: list[tuple] = []
    monkeypatch.setattr(order_search_documents_task, "delay", lambda *args: queued.append(args))
    real_store = sync_threads.threads_page_store

    def crashing_store(**kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(sync_threads, "threads_page_store", crashing_store)
    first = by_resource(marketplace_sync(connection=connection, client=sandbox_client))
    assert not first["threads"].ok and queued == []
    started = SyncCursor.objects.get(connection=connection, resource="threads").run_started_at

    monkeypatch.setattr(sync_threads, "threads_page_store", real_store)
    with django_capture_on_commit_callbacks(execute=True):
        second = by_resource(marketplace_sync(connection=connection, client=sandbox_client))
    assert second["threads"].resumed
    # It does not know what its predecessor wrote: the job rebuilds from the first start.
    assert queued == [(connection.pk, started.isoformat())]
