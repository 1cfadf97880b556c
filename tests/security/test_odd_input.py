"""Odd input never answers 500: pages fall back to their default, the API answers 400.

The cases the hardening review found (non-ASCII digits, negative and huge page numbers,
NUL bytes in filters and path ids, a non-integer ``canned=``, forged cursors, a NUL in
the inbox search) and their neighbours, one test each (``core.params``).
"""

from __future__ import annotations

import base64
from urllib.parse import quote, urlencode

import pytest
from django.test import Client

from core.params import (
    ParameterError,
    identifier_or_404,
    parse_identifier,
    parse_int,
    query_int,
    search_text,
)
from core.roles import Role
from tests.api import conftest as api_fixtures

pytestmark = pytest.mark.django_db

desk = api_fixtures.desk
make_user = api_fixtures.make_user
api_client_for = api_fixtures.api_client_for

NUL = "\x00"
HUGE = "99999999999999999999"


def _cursor(raw: str) -> str:
    """A cursor as DRF encodes one, around whatever the caller puts in it."""
    return base64.b64encode(raw.encode()).decode()


FORGED_CURSORS = {
    "not-base64": "garbage%%",
    "nul-position": _cursor("p=" + NUL),
    "text-position": _cursor("p=abc"),
    "date-position": _cursor("p=2026-01-01"),
    "json-text": _cursor(urlencode({"p": '["x"]'})),
    "json-infinity": _cursor(urlencode({"p": "[1e999]"})),
    "huge-offset": _cursor("o=" + HUGE + "&p=1"),
    "bad-month": _cursor(urlencode({"p": '["2026-13-01T00:00:00+00:00", 1]'})),
}

#: (path, role) of every API list with a cursor.
API_LISTS = [
    ("/api/v1/incidents/", Role.AGENT),
    ("/api/v1/orders/", Role.AGENT),
    ("/api/v1/threads/", Role.AGENT),
    ("/api/v1/refunds/", Role.AGENT),
    ("/api/v1/refund-requests/", Role.AGENT),
    ("/api/v1/sla/breaches/", Role.ACCOUNT_MANAGER),
]


# --------------------------------------------------------------------------- pages


@pytest.fixture
def agent_browser(make_user) -> Client:
    client = Client()
    client.force_login(make_user(Role.AGENT))
    return client


@pytest.mark.parametrize(
    "query",
    [
        "page=٣",  # Arabic-Indic three
        "page=²",
        "page=-1",
        "page=0",
        f"page={HUGE}",
        "page=2147483648",
        "page=1.5",
        f"page={quote(NUL)}",
        "per_page=-1",
        "per_page=0",
        "per_page=٣",
        "per_page=100000",
        "assignee=²",
        "assignee=٣",
        f"assignee={quote(NUL)}",
        f"connection={quote(NUL)}",
        "connection=²",
        "sort=" + quote(NUL),
        "q=" + quote("\x01\x02"),
        "status=" + quote(NUL),
        "opened_min=" + quote(NUL),
    ],
)
def test_inbox_answers_odd_input_with_its_default(agent_browser, desk, query) -> None:
    response = agent_browser.get(f"/incidents/?{query}")
    assert response.status_code == 200
    html = response.content.decode()
    # The first page of the default inbox: the desk's open incident is on it.
    assert desk["order"].mirakl_id in html


def test_a_page_beyond_the_last_shows_the_first(agent_browser, desk) -> None:
    response = agent_browser.get("/incidents/?page=5")
    assert response.status_code == 200
    assert desk["order"].mirakl_id in response.content.decode()


def test_a_nul_in_the_inbox_search_searches_around_it(agent_browser, desk) -> None:
    from tests.factories.incidents import IncidentFactory

    other = IncidentFactory(line__order__connection=desk["connection"])
    response = agent_browser.get("/incidents/", {"q": desk["order"].mirakl_id + NUL})
    html = response.content.decode()
    assert response.status_code == 200
    assert desk["order"].mirakl_id in html
    assert other.order.mirakl_id not in html  # the search was kept, not dropped
    nothing = agent_browser.get("/incidents/", {"q": "nadie-coincide" + NUL + "zzz"})
    assert desk["order"].mirakl_id not in nothing.content.decode()


@pytest.mark.parametrize("canned", ["abc", "²", "٣", "1.5", "-1", "", HUGE, quote(NUL), "%25"])
def test_a_canned_reply_that_is_not_an_id_is_a_404(agent_browser, desk, canned) -> None:
    url = f"/incidents/{desk['incident'].pk}/canned/?prefix=new&canned={canned}"
    assert agent_browser.get(url).status_code == 404


@pytest.mark.parametrize("order_id", [quote(NUL), quote("a" + NUL + "b"), quote("\x01x")])
def test_an_order_id_with_a_control_character_is_a_404(agent_browser, desk, order_id) -> None:
    url = f"/incidents/order/{desk['connection'].code}/{order_id}/"
    assert agent_browser.get(url).status_code == 404


@pytest.mark.parametrize("shown", ["²", "٣", "-5", HUGE, quote(NUL)])
def test_conversation_poll_counts_with_its_default(agent_browser, desk, shown) -> None:
    url = f"/incidents/{desk['incident'].pk}/conversations/?n={shown}"
    assert agent_browser.get(url).status_code == 200


@pytest.mark.parametrize("page", ["٣", "²", "-1", HUGE, quote(NUL)])
def test_sla_review_pages_with_their_default(make_user, desk, page) -> None:
    client = Client()
    client.force_login(make_user(Role.ACCOUNT_MANAGER))
    assert client.get(f"/sla/?page={page}").status_code == 200
    assert client.get(f"/sla/breaches.csv?marketplace={page}").status_code == 200


@pytest.mark.parametrize("order", [NUL, "\x01x", "a\nb"])
def test_the_audit_export_refuses_an_order_id_with_a_control_character(make_user, order) -> None:
    client = Client()
    client.force_login(make_user(Role.ACCOUNT_MANAGER))
    response = client.get("/audit/export.csv", {"order": order})
    assert response.status_code == 400
    assert "order" in response.content.decode()


@pytest.mark.parametrize("page", ["²", "٣", "-1", HUGE])
def test_resolving_from_another_incidents_page_with_an_odd_page_id(
    agent_browser, desk, page
) -> None:
    url = f"/incidents/{desk['incident'].pk}/resolve/"
    response = agent_browser.post(url, {"reason_code": "nope", "page": page})
    assert response.status_code == 400  # the unknown reason, as without ``page``


# --------------------------------------------------------------------------- API


@pytest.mark.parametrize(("path", "role"), API_LISTS, ids=[p for p, _r in API_LISTS])
@pytest.mark.parametrize("cursor", FORGED_CURSORS.values(), ids=FORGED_CURSORS.keys())
def test_a_forged_cursor_is_a_400(api_client_for, desk, path, role, cursor) -> None:
    response = api_client_for(role).get(f"{path}?cursor={quote(cursor)}")
    assert response.status_code == 400, response.content[:300]
    assert "cursor" in response.json()


@pytest.mark.parametrize(("path", "role"), API_LISTS, ids=[p for p, _r in API_LISTS])
@pytest.mark.parametrize("size", ["٣", "²", "-1", "0", "abc", HUGE, quote(NUL)])
def test_a_page_size_that_is_not_a_positive_integer_is_a_400(
    api_client_for, desk, path, role, size
) -> None:
    response = api_client_for(role).get(f"{path}?page_size={size}")
    assert response.status_code == 400
    assert "page_size" in response.json()


@pytest.mark.parametrize(("path", "role"), API_LISTS, ids=[p for p, _r in API_LISTS])
def test_a_page_size_above_the_maximum_is_the_maximum(api_client_for, desk, path, role) -> None:
    assert api_client_for(role).get(f"{path}?page_size=100000").status_code == 200


@pytest.mark.parametrize(
    ("path", "role", "name"),
    [
        ("/api/v1/incidents/", Role.AGENT, "order"),
        ("/api/v1/incidents/", Role.AGENT, "marketplace"),
        ("/api/v1/orders/", Role.AGENT, "marketplace"),
        ("/api/v1/threads/", Role.AGENT, "order"),
        ("/api/v1/threads/", Role.AGENT, "marketplace"),
        ("/api/v1/refunds/", Role.AGENT, "order"),
        ("/api/v1/refunds/", Role.AGENT, "marketplace"),
        ("/api/v1/refund-requests/", Role.AGENT, "order"),
        ("/api/v1/refund-requests/", Role.AGENT, "marketplace"),
        ("/api/v1/sla/breaches/", Role.ACCOUNT_MANAGER, "marketplace"),
        ("/api/v1/orders/59400123-A/", Role.AGENT, "marketplace"),
        ("/api/v1/threads/thread-1/", Role.AGENT, "marketplace"),
    ],
)
@pytest.mark.parametrize("value", [NUL, "a" + NUL + "b", "\x01x", "x\ny", "x" * 300])
def test_an_identifier_with_a_control_character_is_a_400(
    api_client_for, desk, path, role, name, value
) -> None:
    response = api_client_for(role).get(path, {name: value})
    assert response.status_code == 400, response.content[:300]
    assert name in response.json()


@pytest.mark.parametrize("assignee", ["²", "٣", "-1", "abc", HUGE, "1.5"])
def test_an_assignee_that_is_not_me_none_or_an_id_is_a_400(api_client_for, desk, assignee) -> None:
    response = api_client_for(Role.AGENT).get("/api/v1/incidents/", {"assignee": assignee})
    assert response.status_code == 400
    assert "assignee" in response.json()


def test_an_unknown_refund_request_state_is_a_400(api_client_for, desk) -> None:
    client = api_client_for(Role.AGENT)
    response = client.get("/api/v1/refund-requests/", {"state": "bogus"})
    assert response.status_code == 400
    assert "state" in response.json()
    assert client.get("/api/v1/refund-requests/", {"state": "queued"}).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orders/{}/",
        "/api/v1/threads/{}/",
        "/api/v1/incidents/{}/",
        "/api/v1/refund-requests/{}/",
        "/api/v1/marketplaces/{}/",
    ],
)
@pytest.mark.parametrize("value", [NUL, "a" + NUL + "b", "²", HUGE])
def test_a_path_id_that_cannot_exist_is_a_404(api_client_for, desk, path, value) -> None:
    url = path.format(quote(value, safe=""))
    assert api_client_for(Role.AGENT).get(url).status_code == 404


def test_a_nul_in_the_api_search_searches_around_it(api_client_for, desk) -> None:
    response = api_client_for(Role.AGENT).get(
        "/api/v1/incidents/", {"q": desk["order"].mirakl_id + NUL}
    )
    assert response.status_code == 200
    assert [row["order"] for row in response.json()["results"]] == [desk["order"].mirakl_id]


def test_a_refund_idempotency_key_with_a_control_character_is_a_400(api_client_for, desk) -> None:
    response = api_client_for(Role.AGENT).post(
        "/api/v1/refunds/",
        {"order": desk["order"].mirakl_id, "kind": "full", "reason_code": "17"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="key\x01with-control",
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()


# --------------------------------------------------------------------------- the helpers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12", 12),
        (" 7 ", 7),
        ("-1", None),
        ("0", None),
        ("٣", None),
        ("²", None),
        ("1.5", None),
        ("1e3", None),
        (HUGE, None),
        ("2147483648", None),
        ("", None),
        (None, None),
        (NUL, None),
    ],
)
def test_parse_int_takes_ascii_digits_within_bounds(value, expected) -> None:
    assert parse_int(value, minimum=1) == expected


def test_query_int_default_or_400() -> None:
    assert query_int({"page": "x"}, "page", default=1) == 1
    assert query_int({}, "page", default=1) == 1
    assert query_int({"page": "3"}, "page", default=1) == 3
    with pytest.raises(ParameterError) as error:
        query_int({"page": "٣"}, "page", strict=True)
    assert "page" in error.value.detail


def test_identifiers_and_search_text() -> None:
    assert parse_identifier(" 59400123-A ") == "59400123-A"
    assert parse_identifier("a\x00b") is None
    assert parse_identifier("a\tb") is None
    assert parse_identifier("x" * 256) is None
    assert search_text("teclado\x00roto\r\n") == "teclado roto"
    assert identifier_or_404("thread-1") == "thread-1"
    from django.http import Http404

    with pytest.raises(Http404):
        identifier_or_404("thread\x00")
