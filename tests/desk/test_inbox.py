"""The queue at /incidents/ (incidents and conversations without incident): filters,
search, sorting, pages, saved views, query budget."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident
from messaging.models import Party
from messaging.search import (
    order_search_candidates,
    order_search_documents_refresh,
)
from sla.models import QueueEntry
from sla.queue import queue_entries_refresh
from tests.factories.core import (
    MarketplaceConnectionFactory,
    MarketplaceReasonFactory,
    OrderFactory,
    OrderLineFactory,
    UserFactory,
)
from tests.factories.incidents import (
    IncidentAssignmentFactory,
    IncidentFactory,
    IncidentSeenFactory,
)
from tests.factories.messaging import MessageFactory, ThreadFactory, ThreadNoReplyFactory
from tests.factories.sla import SlaItemFactory
from tests.messaging import fixtures

pytestmark = pytest.mark.django_db

# Fixtures shared with the messaging tests.
agent = fixtures.agent
synced = fixtures.synced


@pytest.fixture
def agent_client(client, agent, settings):
    """The agent's client (English); each ``get`` first writes the queue's rows again,
    as the SLA sweep does every minute. ``plain_get`` does not (query budgets)."""
    client.force_login(agent)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    get = client.get

    def refreshed_get(*args, **kwargs):
        queue_entries_refresh()
        return get(*args, **kwargs)

    client.get = refreshed_get
    client.plain_get = get
    return client


URL = reverse("desk:inbox")


def rows(response, pattern: str = r"\d+") -> list[int]:
    """Incident ids of the table's rows, in order (every row's with ``pattern``
    ``\\d*``: a conversation's is 0)."""
    found = re.findall(rf'data-incident="({pattern})"', response.content.decode())
    return [int(pk or 0) for pk in found]


def incident(**kwargs) -> Incident:
    order_kwargs = {k[6:]: kwargs.pop(k) for k in list(kwargs) if k.startswith("order_")}
    connection = kwargs.pop("connection", None) or MarketplaceConnectionFactory(code="pcc")
    order = OrderFactory(connection=connection, **order_kwargs)
    line = OrderLineFactory(order=order, state="INCIDENT_OPEN")
    return IncidentFactory(line=line, **kwargs)


# --------------------------------------------------------------------------- access


def test_inbox_needs_login(client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_inbox_needs_the_view_permission(client) -> None:
    client.force_login(UserFactory(username="nobody"))
    assert client.get(URL).status_code == 403


def test_nav_links_to_the_inbox(agent_client) -> None:
    response = agent_client.get(reverse("desk:overview"))
    assert f'href="{URL}"' in response.content.decode()


# --------------------------------------------------------------------------- rows


def test_default_lists_open_incidents_most_urgent_first(agent_client) -> None:
    now = timezone.now()
    old = incident(opened_at=now - timedelta(days=3))
    recent = incident(opened_at=now - timedelta(hours=1))
    urgent = incident(opened_at=now - timedelta(hours=2))
    SlaItemFactory(incident=urgent, started_at=now - timedelta(hours=47))
    SlaItemFactory(incident=recent, started_at=now - timedelta(hours=1))
    closed = incident(opened_at=now - timedelta(days=9), closed_at=now, state="closed")

    response = agent_client.get(URL)

    assert response.status_code == 200
    assert rows(response) == [urgent.pk, recent.pk, old.pk]  # due time, then oldest opened
    assert closed.pk not in rows(response)
    html = response.content.decode()
    assert 'data-sla="on_time"' in html
    assert f'href="{reverse("desk:incident", args=[urgent.pk])}"' in html


def test_row_shows_every_column(agent_client, agent) -> None:
    opened = datetime(2026, 1, 15, 23, 30, tzinfo=UTC)  # 00:30 on the 16th in Madrid
    row = incident(
        opened_at=opened,
        reason_label="Artículo defectuoso",
        state=Incident.State.CONTESTED,
        order_mirakl_id="59499999-A",
        order_customer_first_name="Lucía",
        order_customer_last_name="Martín",
    )
    IncidentAssignmentFactory(incident=row, assignee=agent)

    html = agent_client.get(URL).content.decode()

    for text in (
        "Pcc",
        "59499999-A",
        "Lucía Martín",
        "Artículo defectuoso",
        "16/01/2026 00:30",
        'data-state="contested"',
        "Marta Ruiz",
    ):
        assert text in html, text


def test_unread_counts_inbound_messages_not_answered_nor_seen(agent_client, agent) -> None:
    row = incident()
    thread = ThreadFactory(connection=row.connection, order=row.order)
    now = timezone.now()
    MessageFactory(thread=thread, date_created=now - timedelta(hours=5))
    MessageFactory(thread=thread, author_type=Party.SHOP, date_created=now - timedelta(hours=4))
    MessageFactory(thread=thread, date_created=now - timedelta(hours=3))
    MessageFactory(thread=thread, author_type=Party.OPERATOR, date_created=now - timedelta(hours=2))

    table = agent_client.get(URL).context["table"]
    assert table.rows[0].unread_count == 2  # after the shop's answer

    IncidentSeenFactory(incident=row, user=agent, seen_at=now - timedelta(hours=2, minutes=30))
    table = agent_client.get(URL).context["table"]
    assert table.rows[0].unread_count == 1  # the operator's, after the visit


# --------------------------------------------------------------------------- filters


def test_filters(agent_client, agent) -> None:
    now = timezone.now()
    pcc = MarketplaceConnectionFactory(code="pcc", name="PcComponentes")
    mm = MarketplaceConnectionFactory(code="mm", name="MediaMarkt")
    MarketplaceReasonFactory(connection=pcc, type="INCIDENT_OPEN", code="3", label="Defectuoso")
    MarketplaceReasonFactory(connection=pcc, type="INCIDENT_OPEN", code="5", label="Desistimiento")
    a = incident(connection=pcc, reason_code="3", opened_at=now - timedelta(days=10))
    b = incident(connection=mm, reason_code="5", state=Incident.State.IN_PROGRESS)
    c = incident(connection=pcc, reason_code="5", state=Incident.State.CONTESTED)
    d = incident(connection=mm, closed_at=now, state=Incident.State.CLOSED)
    IncidentAssignmentFactory(incident=a, assignee=agent)
    IncidentAssignmentFactory(incident=c, assignee=UserFactory(username="otro"))
    SlaItemFactory(incident=b, state="breached", started_at=now - timedelta(hours=60))
    SlaItemFactory(incident=c, state="nearing", started_at=now - timedelta(hours=40))

    def ids(**query) -> set[int]:
        return set(rows(agent_client.get(URL, query)))

    assert ids() == {a.pk, b.pk, c.pk}
    assert ids(connection=mm.pk) == {b.pk}
    assert ids(status="closed") == {d.pk}
    assert ids(status="all") == {a.pk, b.pk, c.pk, d.pk}
    assert ids(state=["contested", "in_progress"]) == {b.pk, c.pk}
    assert ids(reason="5") == {b.pk, c.pk}
    start = (now - timedelta(days=11)).date().isoformat()
    end = (now - timedelta(days=9)).date().isoformat()
    assert ids(opened_after=start, opened_before=end) == {a.pk}
    assert ids(sla="breached") == {b.pk}
    assert ids(sla=["nearing", "breached"]) == {b.pk, c.pk}
    assert ids(assignee="me") == {a.pk}
    assert ids(assignee="none") == {b.pk}
    assert ids(assignee=str(agent.pk)) == {a.pk}
    assert ids(waiting="on") == {b.pk, c.pk}  # what has an open wait


def test_waiting_for_us_lists_follow_ups_unless_marked_no_reply(agent_client) -> None:
    """Once the shop answered an incident, the customer's next message puts it back."""
    from sla.services import sla_sweep

    now = timezone.now()
    waiting = incident(state=Incident.State.IN_PROGRESS, opened_at=now - timedelta(hours=3))
    marked = incident(state=Incident.State.IN_PROGRESS, opened_at=now - timedelta(hours=3))
    answered = incident(state=Incident.State.IN_PROGRESS, opened_at=now - timedelta(hours=3))
    for row in (waiting, marked, answered):
        thread = ThreadFactory(
            connection=row.connection, order=row.order, last_message_at=now - timedelta(minutes=5)
        )
        MessageFactory(thread=thread, date_created=now - timedelta(hours=2, minutes=50))
        MessageFactory(thread=thread, author_type=Party.SHOP, date_created=now - timedelta(hours=2))
        MessageFactory(thread=thread, date_created=now - timedelta(minutes=5))
        if row is answered:
            MessageFactory(
                thread=thread, author_type=Party.SHOP, date_created=now - timedelta(minutes=1)
            )
        if row is marked:
            ThreadNoReplyFactory(thread=thread, last_message_at=now - timedelta(minutes=5))
    sla_sweep()

    assert set(rows(agent_client.get(URL, {"waiting": "on"}))) == {waiting.pk}
    breaching = {"sla": ["nearing", "breached", "on_time"]}
    assert set(rows(agent_client.get(URL, breaching))) == {waiting.pk}


def test_search_by_order_customer_and_message_text(agent_client) -> None:
    by_order = incident(order_mirakl_id="77700001-A")
    by_name = incident(order_customer_first_name="Eustaquio", order_customer_last_name="Pérez")
    by_text = incident()
    thread = ThreadFactory(connection=by_text.connection, order=by_text.order)
    MessageFactory(thread=thread, body="El ratón inalámbrico no funciona y el teclado llegó roto.")
    # What the threads sync does once it has written an order's messages.
    order_search_documents_refresh(order_ids=[by_text.order_id])

    def ids(q: str) -> set[int]:
        return set(rows(agent_client.get(URL, {"q": q})))

    assert ids("77700001") == {by_order.pk}
    assert ids("eustaquio pérez") == {by_name.pk}
    assert ids("Pérez") == {by_name.pk}
    assert ids("ratón inalámbrico") == {by_text.pk}
    assert ids("pantalla rota") == set()
    if connection.vendor == "postgresql":
        # Spanish full-text search: other forms of the same words match (the SQLite
        # demo falls back to a plain substring search).
        assert ids("funcionar") == {by_text.pk}
        assert ids("teclados rotos") == {by_text.pk}


def test_search_pages_without_counting_every_match(
    agent_client, monkeypatch, django_assert_max_num_queries
) -> None:
    from desk import views

    monkeypatch.setattr(views, "INBOX_PAGE_SIZE", 2)
    matching = [incident(order_customer_last_name="Zubizarreta") for _ in range(3)]
    incident(order_customer_last_name="Otro")

    queue_entries_refresh()
    with django_assert_max_num_queries(15) as captured:
        first = agent_client.plain_get(URL, {"q": "zubizarreta"})
    assert not [q for q in captured.captured_queries if q["sql"].startswith("SELECT COUNT(")]
    assert "Matches 1–2, more on the next page" in first.content.decode()
    second = agent_client.get(URL, {"q": "zubizarreta", "page": 2})
    assert "3 matches" in second.content.decode()
    assert set(rows(first)) | set(rows(second)) == {i.pk for i in matching}

    assert "1 match" in agent_client.get(URL, {"q": "otro"}).content.decode()
    # Without a search, the inbox counts every row.
    assert "4 rows" in agent_client.get(URL).content.decode()


def test_search_finds_synced_messages_and_follows_new_ones(
    agent_client, synced, sandbox, sandbox_client
) -> None:
    from core.sync.runner import marketplace_sync
    from tests.core.test_sync import control

    shown = Incident.objects.filter(closed_at__isnull=True).order_by("pk").first()
    assert set(rows(agent_client.get(URL, {"q": "murciélago"}))) == set()

    control(
        sandbox, "messages", {"order_id": shown.order.mirakl_id, "body": "Llegó un murciélago."}
    )
    marketplace_sync(connection=synced, client=sandbox_client)

    assert set(rows(agent_client.get(URL, {"q": "murciélagos"}))) == {shown.pk}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="Postgres indexes")
def test_search_uses_the_order_indexes(db) -> None:
    """A precise search reads the orders by number and name on their trigram indexes,
    and the documents by text on their GIN index."""

    sql, params = order_search_candidates("59400 pérez").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        candidates = "\n".join(row[0] for row in cursor.fetchall())
    for index in (
        "order_mirakl_id_trgm_idx",
        "order_last_name_trgm_idx",
        "order_search_doc_gin_idx",
    ):
        assert index in candidates


# --------------------------------------------------------------------------- table


def test_sorting_and_pages(agent_client) -> None:
    now = timezone.now()
    made = [incident(opened_at=now - timedelta(hours=n)) for n in range(30)]

    first = agent_client.get(URL)
    assert len(rows(first)) == 25
    second = agent_client.get(URL, {"page": 2})
    assert len(rows(second)) == 5
    assert set(rows(first)) | set(rows(second)) == {i.pk for i in made}

    newest_first = agent_client.get(URL, {"sort": "-opened_at"})
    assert rows(newest_first)[0] == made[0].pk
    html = first.content.decode()
    assert 'hx-push-url="true"' in html and "sort=opened_at" in html
    assert "30 rows" in html


def test_sort_links_say_the_order_and_keep_the_query(agent_client) -> None:
    incident()
    html = agent_client.get(URL, {"sort": "-messages", "page": 1, "kind": "incident"})
    html = html.content.decode()
    # The sorted column says which way and links to the other; the others sort up.
    assert '<th class="desc num orderable">' in html
    assert 'href="?sort=messages&amp;page=1&amp;kind=incident"' in html
    assert "Messages ↓" in html
    assert 'href="?sort=opened_at&amp;page=1&amp;kind=incident"' in html
    assert "?sort=-opened_at" not in html
    # Unknown columns are left out, as are unsortable ones.
    assert rows(agent_client.get(URL, {"sort": "nope,select"}))


def test_a_row_shows_its_changes_at_once(agent_client, agent) -> None:
    """The rows' cells are kept in the cache by what they show: an assignment, a new
    state or a new reason shows on the next request."""
    from incidents.services import incident_assign

    row = incident(state=Incident.State.NEW, reason_label="Artículo defectuoso")
    before = agent_client.get(URL, HTTP_HX_REQUEST="true").content.decode()
    assert "Artículo defectuoso" in before and 'data-state="new"' in before
    assert agent.get_full_name() not in before

    incident_assign(incident=row, assignee=agent, actor=agent)
    Incident.objects.filter(pk=row.pk).update(
        state=Incident.State.IN_PROGRESS, reason_label="Pedido incompleto"
    )
    after = agent_client.get(URL, HTTP_HX_REQUEST="true").content.decode()
    assert agent.get_full_name() in after
    assert 'data-state="in_progress"' in after
    assert "Pedido incompleto" in after and "Artículo defectuoso" not in after


def test_htmx_request_gets_the_table_only(agent_client) -> None:
    incident()
    partial = agent_client.get(URL, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    html = partial.content.decode()
    assert "<html" not in html
    assert 'id="incident-table"' in html
    assert 'hx-trigger="every 10s' in html  # live refresh of the rows
    boosted = agent_client.get(URL, HTTP_HX_REQUEST="true", HTTP_HX_BOOSTED="true")
    assert "<html" in boosted.content.decode()


def test_saved_views(agent_client) -> None:
    response = agent_client.get(URL, {"state": "contested"})
    views = {v["key"]: v for v in response.context["saved_views"]}
    assert set(views) == {"mine", "waiting", "breaching", "contested", "open", "closed"}
    assert views["contested"]["active"]
    assert not views["open"]["active"]
    assert views["breaching"]["url"].endswith("sla=nearing&sla=breached")
    assert views["mine"]["url"].endswith("assignee=me")
    assert 'data-view="contested"' in response.content.decode()


# --------------------------------------------------------------------------- query budget


@pytest.mark.parametrize("count", [3, 40])
def test_queries_do_not_grow_with_the_data(
    agent_client, agent, django_assert_max_num_queries, count
) -> None:
    now = timezone.now()
    for n in range(count):
        row = incident(opened_at=now - timedelta(hours=n))
        IncidentAssignmentFactory(incident=row, assignee=agent)
        SlaItemFactory(incident=row)
        thread = ThreadFactory(connection=row.connection, order=row.order)
        MessageFactory(thread=thread)
    order_search_documents_refresh(order_ids=Incident.objects.values_list("order_id", flat=True))
    query = {"q": "pedido", "waiting": "on", "sla": "on_time", "state": "new"}
    queue_entries_refresh()
    with django_assert_max_num_queries(15):
        full = agent_client.plain_get(URL, query)
    with django_assert_max_num_queries(15):
        partial = agent_client.plain_get(URL, query, HTTP_HX_REQUEST="true")
    assert len(rows(full)) == min(count, 25)
    assert len(rows(partial)) == min(count, 25)


def test_synced_shop_inbox(agent_client, synced, django_assert_max_num_queries) -> None:
    from sla.services import sla_sweep

    sla_sweep()
    with django_assert_max_num_queries(15) as captured:
        response = agent_client.plain_get(URL)
    open_count = QueueEntry.objects.filter(is_open=True).count()
    assert open_count > Incident.objects.filter(closed_at__isnull=True).count()
    assert response.context["table"].paginator.count == open_count
    assert len(rows(response, "\\d*")) == min(open_count, 25)
    assert len(captured.captured_queries) <= 15


def test_filter_form_is_kept_rendered_until_its_choices_change(agent_client) -> None:
    row = incident()
    first = agent_client.get(URL).content.decode()
    assert agent_client.get(URL).content.decode().count('name="connection"') == 1

    # A new marketplace, a new reason, a new user: each shows in the form at once.
    MarketplaceConnectionFactory(code="carrefour", name="Carrefour")
    MarketplaceReasonFactory(
        connection=row.connection, type="INCIDENT_OPEN", code="77", label="Llegó tarde"
    )
    UserFactory(username="nuevo", first_name="Nuria", last_name="Vega")
    page = agent_client.get(URL).content.decode()
    for text in ("Carrefour", "Llegó tarde", "Nuria Vega"):
        assert text not in first
        assert text in page
    # The chosen values are part of the key: the form shows what was asked for.
    filtered = agent_client.get(URL, {"q": "zzz-buscado"}).content.decode()
    assert 'value="zzz-buscado"' in filtered


def test_banners_and_filters_version_are_read_in_one_round_trip(agent_client, monkeypatch) -> None:
    """The page asks the cache for the shops' banners and the filter form's version at
    once, and for neither of them again."""
    from django.core.cache import cache

    from core.freshness import INBOX_FILTERS_KEY
    from sla.health.banner import CACHE_KEY as BANNERS_KEY

    incident()
    agent_client.get(URL)  # both now in the cache
    asked: list[object] = []
    for name in ("get", "get_many"):
        method = getattr(cache, name)
        monkeypatch.setattr(
            cache, name, lambda key, *a, _m=method, **k: asked.append(key) or _m(key, *a, **k)
        )
    assert agent_client.get(URL).status_code == 200
    assert [BANNERS_KEY, INBOX_FILTERS_KEY] in asked
    assert BANNERS_KEY not in asked and INBOX_FILTERS_KEY not in asked


# --------------------------------------------------------------------------- live refresh


def test_unchanged_refresh_is_a_304(
    agent_client, agent, django_capture_on_commit_callbacks, django_assert_max_num_queries
) -> None:
    from incidents.services import incident_assign, incident_mark_seen

    shown = incident()
    first = agent_client.get(URL, HTTP_HX_REQUEST="true")
    etag = first["ETag"]
    assert first.status_code == 200
    assert "no-cache" in first["Cache-Control"]
    assert "HX-Request" in first["Vary"]
    with django_assert_max_num_queries(1):  # the session's user, nothing rendered
        again = agent_client.plain_get(URL, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    # Another view of the inbox, or the whole page, is never answered from the refresh.
    assert agent_client.get(URL, {"status": "closed"}, HTTP_HX_REQUEST="true").status_code == 200
    page = agent_client.get(URL, HTTP_IF_NONE_MATCH=etag)
    assert page.status_code == 200
    assert not page.has_header("ETag")

    # A change anyone sees: a new ETag and the rows again.
    with django_capture_on_commit_callbacks(execute=True):
        incident_assign(incident=shown, assignee=agent, actor=agent)
    changed = agent_client.get(URL, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert rows(changed) == [shown.pk]

    # The agent's own visit changes their unread counts.
    with django_capture_on_commit_callbacks(execute=True):
        incident_mark_seen(incident=shown, user=agent)
    seen = agent_client.get(URL, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=changed["ETag"])
    assert seen.status_code == 200
