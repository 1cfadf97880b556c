"""``GET /api/v1/incidents/``: the inbox's filters, saved views and sorts select and
order the right rows, and cursor pages walk every sort without losing or repeating one."""

from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.models import Incident
from tests.factories.core import (
    MarketplaceConnectionFactory,
    OrderFactory,
    OrderLineFactory,
    UserFactory,
)
from tests.factories.incidents import IncidentAssignmentFactory, IncidentFactory
from tests.factories.messaging import ThreadFactory, ThreadNoReplyFactory
from tests.factories.sla import SlaItemFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/incidents/"


def incident(connection, *, opened_hours_ago: float, **kwargs) -> Incident:
    order_kwargs = {k[6:]: kwargs.pop(k) for k in list(kwargs) if k.startswith("order_")}
    order = OrderFactory(connection=connection, **order_kwargs)
    line = OrderLineFactory(order=order, state="INCIDENT_OPEN")
    opened_at = timezone.now() - timedelta(hours=opened_hours_ago)
    return IncidentFactory(line=line, opened_at=opened_at, **kwargs)


@pytest.fixture
def inbox(api_client_for) -> dict:
    """Five incidents on two marketplaces, the API client of an agent ("agent-user").

    - ``new``: PcComponentes, NEW, assigned to the agent, due in 5 h, opened 10 h ago
    - ``contested``: MediaMarkt, CONTESTED, past due 2 h ago, opened 20 h ago
    - ``nearing``: PcComponentes, in progress, due in 1 h, customer "Eustaquio Zubiri",
      assigned to someone else, opened 5 h ago
    - ``thread``: PcComponentes, in progress, a thread waits for the shop, no SLA wait,
      opened 1 h ago
    - ``closed``: PcComponentes, closed (only with ``status``)
    """
    client = api_client_for("agent")
    agent = User.objects.get(username="agent-user")
    now = timezone.now()
    pcc = MarketplaceConnectionFactory(code="pccomponentes")
    mm = MarketplaceConnectionFactory(code="mediamarkt")
    rows = {
        "new": incident(pcc, opened_hours_ago=10, state=Incident.State.NEW),
        "contested": incident(
            mm, opened_hours_ago=20, state=Incident.State.CONTESTED, order_mirakl_id="88800001-A"
        ),
        "nearing": incident(
            pcc,
            opened_hours_ago=5,
            state=Incident.State.IN_PROGRESS,
            order_customer_first_name="Eustaquio",
            order_customer_last_name="Zubiri",
        ),
        "thread": incident(pcc, opened_hours_ago=1, state=Incident.State.IN_PROGRESS),
        "closed": incident(
            pcc,
            opened_hours_ago=30,
            state=Incident.State.CLOSED,
            closed_at=now - timedelta(hours=2),
        ),
    }
    IncidentAssignmentFactory(incident=rows["new"], assignee=agent)
    IncidentAssignmentFactory(incident=rows["nearing"], assignee=UserFactory(username="otra"))
    wait(rows["new"], started=now - timedelta(hours=10), due=now + timedelta(hours=5))
    wait(
        rows["contested"],
        started=now - timedelta(hours=20),
        due=now - timedelta(hours=2),
        state="breached",
    )
    wait(
        rows["nearing"],
        started=now - timedelta(hours=5),
        due=now + timedelta(hours=1),
        state="nearing",
    )
    ThreadFactory(
        connection=pcc,
        order=rows["thread"].order,
        shop_reply_needed_since=now - timedelta(minutes=30),
        last_message_at=now - timedelta(minutes=30),
    )
    # Marked "no reply required" since its last message: not waiting.
    marked = ThreadFactory(
        connection=pcc,
        order=rows["nearing"].order,
        shop_reply_needed_since=now - timedelta(hours=3),
        last_message_at=now - timedelta(hours=3),
    )
    ThreadNoReplyFactory(thread=marked, last_message_at=now - timedelta(hours=3))
    return {"client": client, "rows": rows, "pcc": pcc, "mm": mm}


def wait(incident: Incident, *, started, due, state: str = "on_time") -> None:
    """An open SLA wait of the incident, warned an hour before it is due."""
    SlaItemFactory(
        incident=incident,
        state=state,
        started_at=started,
        warn_at=due - timedelta(hours=1),
        due_at=due,
    )


def _names(inbox: dict, response) -> list[str]:
    assert response.status_code == 200, response.content[:500]
    by_pk = {row.pk: name for name, row in inbox["rows"].items()}
    return [by_pk[row["id"]] for row in response.json()["results"]]


def _select(inbox: dict, **query) -> set[str]:
    return set(_names(inbox, inbox["client"].get(URL, query)))


def test_search_by_order_number_and_customer_name(inbox) -> None:
    assert _select(inbox, q="88800001") == {"contested"}
    assert _select(inbox, q="eustaquio zubiri") == {"nearing"}
    assert _select(inbox, q="nadie-se-llama-asi") == set()


def test_sla_waiting_and_assignee_filters(inbox) -> None:
    assert _select(inbox) == {"new", "contested", "nearing", "thread"}
    assert _select(inbox, sla="breached") == {"contested"}
    assert _select(inbox, sla=["nearing", "breached"]) == {"contested", "nearing"}
    assert _select(inbox, sla="on_time") == {"new"}
    # NEW incidents, and those with a thread the shop owes an answer (unless marked).
    assert _select(inbox, waiting="true") == {"new", "thread"}
    assert _select(inbox, waiting="false") == {"new", "contested", "nearing", "thread"}
    assert _select(inbox, assignee="me") == {"new"}
    assert _select(inbox, assignee="none") == {"contested", "thread"}


def test_marketplace_filter_by_code_and_connection_by_pk(inbox) -> None:
    assert _select(inbox, marketplace="mediamarkt") == {"contested"}
    assert _select(inbox, marketplace="pccomponentes") == {"new", "nearing", "thread"}
    assert _select(inbox, marketplace="pccomponentes", status="all") == {
        "new",
        "nearing",
        "thread",
        "closed",
    }
    assert _select(inbox, marketplace="nope") == set()
    assert _select(inbox, connection=inbox["mm"].pk) == {"contested"}
    for row in inbox["client"].get(URL, {"marketplace": "mediamarkt"}).json()["results"]:
        assert row["marketplace"] == "mediamarkt"


def test_saved_views_are_the_inboxs(inbox) -> None:
    assert _select(inbox, view="mine") == {"new"}
    assert _select(inbox, view="breaching") == {"contested", "nearing"}
    assert _select(inbox, view="contested") == {"contested"}
    assert _select(inbox, view="waiting") == {"new", "thread"}
    # A view narrows the other filters rather than replacing them.
    assert _select(inbox, view="breaching", marketplace="pccomponentes") == {"nearing"}
    assert _select(inbox, view="waiting", assignee="none") == {"thread"}
    assert _select(inbox, view="contested", state="new") == set()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"view": "open"}, "view"),  # only the views that are more than a status
        ({"view": "everything"}, "view"),
        ({"ordering": "-due"}, "ordering"),
        ({"ordering": "reply_due_at"}, "ordering"),
    ],
)
def test_unknown_view_or_ordering_is_a_400(inbox, query, field) -> None:
    response = inbox["client"].get(URL, query)
    assert response.status_code == 400
    [message] = response.json()[field]
    assert query[field] in message


def test_ordering(inbox) -> None:
    client = inbox["client"]
    newest_first = ["thread", "nearing", "new", "contested"]
    assert _names(inbox, client.get(URL)) == newest_first
    assert _names(inbox, client.get(URL, {"ordering": "-opened_at"})) == newest_first
    assert _names(inbox, client.get(URL, {"ordering": "opened_at"})) == newest_first[::-1]
    # Soonest due first; nothing due (no open SLA wait) last.
    due = client.get(URL, {"ordering": "due"})
    assert _names(inbox, due) == ["contested", "nearing", "new", "thread"]
    dues = [row["sla_due_at"] for row in due.json()["results"]]
    assert dues[:3] == sorted(dues[:3]) and dues[3] is None


def _walk(client, query: dict) -> tuple[list[int], list[int]]:
    """Every id page by page through ``next``, then back through ``previous``."""
    forward: list[list[int]] = []
    page = client.get(URL, query).json()
    forward.append([row["id"] for row in page["results"]])
    while page["next"]:
        page = client.get(page["next"]).json()
        forward.append([row["id"] for row in page["results"]])
    backward: list[list[int]] = [forward[-1]]
    while page["previous"]:
        page = client.get(page["previous"]).json()
        backward.append([row["id"] for row in page["results"]])
    return [pk for ids in forward for pk in ids], [pk for ids in backward[::-1] for pk in ids]


@pytest.mark.parametrize("ordering", ["due", "-opened_at", "opened_at"])
def test_cursor_pages_keep_every_row_once_in_every_ordering(inbox, ordering) -> None:
    # Ties on every key but the id: six incidents opened at the same instant, two of
    # them due at the same time, four with no due time (like "thread").
    now = timezone.now()
    same_time = now - timedelta(hours=7)
    tied = [
        IncidentFactory(line__order__connection=inbox["pcc"], opened_at=same_time) for _ in range(6)
    ]
    for row in tied[:2]:
        wait(row, started=same_time, due=now + timedelta(hours=3))
    t = [row.pk for row in tied]
    r = {name: row.pk for name, row in inbox["rows"].items()}
    expected = {
        "due": [r["contested"], r["nearing"], t[0], t[1], r["new"], *t[2:], r["thread"]],
        "-opened_at": [r["thread"], r["nearing"], *t[::-1], r["new"], r["contested"]],
        "opened_at": [r["contested"], r["new"], *t, r["nearing"], r["thread"]],
    }[ordering]
    client = inbox["client"]
    everything = client.get(URL, {"ordering": ordering, "page_size": 200}).json()["results"]
    assert [row["id"] for row in everything] == expected

    forward, backward = _walk(client, {"ordering": ordering, "page_size": 3})

    assert forward == expected
    assert backward == expected


def test_the_due_sort_reads_rows_with_a_due_time_apart_from_those_without(inbox) -> None:
    """No query sorts NULLs last over the join to the queue's rows: that sort needs
    every open incident before the first page (about 140 ms at 28,000 of them); each
    region is read in the order of its own index."""
    client = inbox["client"]
    with CaptureQueriesContext(connection) as queries:
        first = client.get(URL, {"ordering": "due", "page_size": 2}).json()
        client.get(first["next"])
    sql = [
        query["sql"] for query in queries.captured_queries if "incidents_incident" in query["sql"]
    ]
    sorts = [statement.rsplit("ORDER BY", 1)[-1] for statement in sql]
    assert sorts and not any("NULLS LAST" in sort for sort in sorts)
    assert any('"reply_due_at" IS NOT NULL' in statement for statement in sql)
    assert any('"reply_due_at" IS NULL' in statement for statement in sql)


def _cursor(position: str) -> str:
    """A cursor as DRF encodes it, around a position of the caller's choosing."""
    return base64.b64encode(urlencode({"p": position}).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        _cursor('["x"]'),
        _cursor("not-json"),
        _cursor('{"a": 1}'),
        _cursor('[null, "2026-01-01T10:00:00", 1]'),  # a time without its offset
        _cursor("[null, null, 1]"),  # opened_at is never NULL
        _cursor('[{"a": 1}, "2026-01-01T10:00:00+00:00", 1]'),
        _cursor('["tomorrow", "2026-01-01T10:00:00+00:00", 1]'),
        _cursor('[null, "2026-01-01T10:00:00+00:00", "x"]'),
        _cursor('[null, "2026-01-01T10:00:00+00:00", true]'),
    ],
)
def test_a_forged_cursor_is_a_400(inbox, cursor) -> None:
    response = inbox["client"].get(URL, {"ordering": "due", "cursor": cursor})
    assert response.status_code == 400
    assert response.json()["cursor"]


def test_a_position_beyond_every_row_is_an_empty_page(inbox) -> None:
    client = inbox["client"]
    last = _cursor('[null, "2999-01-01T10:00:00+00:00", 99999999999999999999]')
    response = client.get(URL, {"ordering": "due", "cursor": last})
    assert response.status_code == 200
    assert response.json()["results"] == []
