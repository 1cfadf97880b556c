"""The queue's filters made per request: each FilterSet's own filters and form, the
fields its forms share, and the choices a value is checked against (kept per version)."""

from __future__ import annotations

import copy
import re

import django_filters
import pytest
from django import forms
from django.db import connection
from django.http import QueryDict
from django.test import RequestFactory
from django.urls import reverse

from core.scoping import MarketplaceAccess
from desk.filtersets import QueueFilterSet, filters_version, form_choices
from sla.models import QueueEntry
from sla.queue import queue_entries_refresh
from tests.factories.core import (
    MarketplaceConnectionFactory,
    MarketplaceReasonFactory,
    OrderFactory,
    OrderLineFactory,
    UserFactory,
)
from tests.factories.incidents import IncidentAssignmentFactory, IncidentFactory

pytestmark = pytest.mark.django_db

URL = reverse("desk:inbox")


@pytest.fixture
def shops(db):
    """Two marketplaces with an open incident each; a user scoped to the first."""
    found = {}
    for code, name in (("mm", "MediaMarkt"), ("pcc", "PcComponentes")):
        connection = MarketplaceConnectionFactory(code=code, name=name)
        order = OrderFactory(connection=connection, mirakl_id=f"{code.upper()}-1")
        incident = IncidentFactory(line=OrderLineFactory(order=order, state="INCIDENT_OPEN"))
        found[code] = {"connection": connection, "incident": incident}
    scoped = UserFactory(username="scoped", role="agent")
    MarketplaceAccess.objects.create(user=scoped, connection=found["mm"]["connection"])
    found["scoped"] = scoped
    found["agent"] = UserFactory(username="agent", role="agent")
    queue_entries_refresh()
    return found


def filterset(user, **query) -> QueueFilterSet:
    request = RequestFactory().get(URL, query)
    request.user = user
    return QueueFilterSet(request.GET, queryset=QueueEntry.objects.all(), request=request)


def test_each_filterset_has_filters_of_its_own(shops) -> None:
    first, second = filterset(shops["scoped"]), filterset(shops["agent"])
    base = QueueFilterSet.base_filters
    for name in base:
        assert first.filters[name] is not second.filters[name]
        assert first.filters[name].parent is first and second.filters[name].parent is second
    # A method filter calls its own FilterSet's method.
    assert first.filters["owed"].filter.method.__self__ is first
    assert second.filters["owed"].filter.method.__self__ is second
    # The scoped queryset is the scoped FilterSet's alone; the class's filters untouched.
    scoped_ids = set(first.filters["connection"].queryset.values_list("pk", flat=True))
    assert scoped_ids == {shops["mm"]["connection"].pk}
    assert second.filters["connection"].queryset.count() == 2
    assert base["connection"].queryset.count() == 2
    assert base["connection"].extra["queryset"].count() == 2
    assert first.filters["connection"].extra is not base["connection"].extra
    assert "parent" not in vars(base["owed"])


def test_forms_share_only_the_fields_a_request_does_not_change(shops) -> None:
    first, second = filterset(shops["scoped"]).form, filterset(shops["agent"]).form
    for name in ("connection", "assignee", "reason"):
        assert first.fields[name] is not second.fields[name]
    for name in ("q", "status", "state", "sla", "kind", "owed", "opened", "waiting"):
        assert first.fields[name] is second.fields[name]
    html = {form: str(form["connection"]) for form in (first, second)}
    assert "PcComponentes" not in html[first] and "MediaMarkt" in html[first]
    assert "PcComponentes" in html[second] and "MediaMarkt" in html[second]


def test_the_form_draws_what_django_filter_s_would(shops) -> None:
    """Ours shares fields; django-filter's deep-copies them: the same HTML."""
    query = {"q": "pedido", "state": ["new"], "sla": ["breached"], "owed": "customer"}
    ours = filterset(shops["scoped"], **query)
    filters = copy.deepcopy(QueueFilterSet.base_filters)
    for filter_ in filters.values():
        filter_.model = QueueEntry
    fields = {name: filter_.field for name, filter_ in filters.items()}
    theirs = type("TheirForm", (forms.Form,), fields)(ours.data)
    theirs.fields["connection"].queryset = ours.filters["connection"].queryset
    assert str(ours.form) == str(theirs)
    assert ours.form.cleaned_data == theirs.cleaned_data


@pytest.mark.parametrize("who", ["scoped", "agent"])
def test_a_marketplace_is_checked_against_the_user_s_without_a_query(
    shops, who, django_assert_num_queries
) -> None:
    user = shops[who]
    mm, pcc = shops["mm"]["connection"], shops["pcc"]["connection"]
    filterset(user, connection=mm.pk).form.is_valid()  # the choices kept for this version
    for shop, valid in ((mm, True), (pcc, who == "agent"), ("x", False), (10**9, False)):
        fs = filterset(user, connection=getattr(shop, "pk", shop))
        with django_assert_num_queries(0):
            assert fs.form.is_valid() is valid
        if valid:
            cleaned = fs.form.cleaned_data["connection"]
            assert (cleaned.pk, cleaned.name) == (shop.pk, shop.name)
            assert cleaned.code == shop.code  # read when asked for


def test_assignee_and_reason_are_checked_against_kept_choices(
    shops, django_assert_num_queries
) -> None:
    mm = shops["mm"]["connection"]
    MarketplaceReasonFactory(connection=mm, type="INCIDENT_OPEN", code="3", label="Roto")
    user = shops["agent"]
    filterset(user, assignee="me").form.is_valid()
    for query, valid in (
        ({"assignee": "me"}, True),
        ({"assignee": "none"}, True),
        ({"assignee": str(shops["scoped"].pk)}, True),
        ({"assignee": "999999"}, False),
        ({"reason": "3"}, True),
        ({"reason": "4"}, False),
    ):
        fs = filterset(user, **query)
        with django_assert_num_queries(0):
            assert fs.form.is_valid() is valid, query


def test_a_new_choice_counts_at_once(shops) -> None:
    """A marketplace, a user or a reason added changes the version: checked anew."""
    user = shops["agent"]
    assert filterset(user, assignee="me").form.is_valid()
    newcomer = UserFactory(username="nuevo")
    carrefour = MarketplaceConnectionFactory(code="carrefour", name="Carrefour")
    MarketplaceReasonFactory(connection=carrefour, type="INCIDENT_OPEN", code="9", label="Tarde")
    for query in ({"assignee": str(newcomer.pk)}, {"connection": carrefour.pk}, {"reason": "9"}):
        assert filterset(user, **query).form.is_valid(), query


def test_the_checked_values_filter_the_queue(shops, client) -> None:
    mm, pcc = shops["mm"], shops["pcc"]
    IncidentAssignmentFactory(incident=pcc["incident"], assignee=shops["agent"])
    queue_entries_refresh()

    def orders(user, **query) -> set[str]:
        client.force_login(user)
        html = client.get(URL, query).content.decode()
        return set(re.findall(r'class="order-link">([^<]+)<', html))

    assert orders(shops["agent"], connection=pcc["connection"].pk) == {"PCC-1"}
    assert orders(shops["agent"], assignee="me") == {"PCC-1"}
    assert orders(shops["agent"], assignee="none") == {"MM-1"}
    # Out of the user's scope: the filter is refused and only their rows are listed.
    assert orders(shops["scoped"], connection=pcc["connection"].pk) == {"MM-1"}
    assert orders(shops["scoped"], connection=mm["connection"].pk) == {"MM-1"}


def test_the_version_is_read_once_per_request(shops, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr("desk.filtersets.inbox_filters_version", lambda: calls.append(1) or 7)
    request = RequestFactory().get(URL)
    assert filters_version(request) == 7 and filters_version(request) == 7
    assert calls == [1]
    assert form_choices(7) is form_choices(7)


def test_without_the_cache_a_value_is_checked_by_the_database(shops, monkeypatch) -> None:
    monkeypatch.setattr("desk.filtersets.inbox_filters_version", lambda: 0)
    user = shops["scoped"]
    assert filterset(user, connection=shops["mm"]["connection"].pk).form.is_valid()
    assert not filterset(user, connection=shops["pcc"]["connection"].pk).form.is_valid()
    assert filterset(user, assignee="me").form.is_valid()


def test_api_filtersets_keep_plain_assignee_and_reason(shops) -> None:
    from desk.api.filtersets import QueueApiFilterSet

    request = RequestFactory().get(URL)
    request.user = shops["agent"]
    data = QueryDict(f"assignee=me&reason=3&connection={shops['mm']['connection'].pk}")
    fs = QueueApiFilterSet(data, queryset=QueueEntry.objects.all(), request=request)
    assert fs.form.is_valid(), fs.form.errors
    assert isinstance(fs.filters["assignee"], django_filters.CharFilter)
    assert fs.form.cleaned_data["assignee"] == "me"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="Postgres indexes")
@pytest.mark.parametrize(
    ("query", "index"),
    [
        ({"owed": "operator"}, "queue_open_due_idx"),
        ({"sla": ["nearing", "breached"]}, "queue_open_due_idx"),
        ({"waiting": "on"}, "queue_open_due_idx"),
        ({"kind": "conversation", "state": ["new", "contested"]}, "queue_open_due_idx"),
        ({"connection": "{pcc}", "owed": "customer", "sla": "breached"}, "queue_open_conn_due_idx"),
        ({"connection": "{pcc}", "state": ["new", "in_progress"]}, "queue_open_conn_due_idx"),
    ],
)
def test_the_default_order_s_indexes_hold_every_filtered_column(shops, query, index) -> None:
    """Every column a filter reads is in the index of the queue's default order, so
    Postgres checks the filter on the index alone (an index-only scan) for the page and
    its capped count, instead of reading each row from the table; a scoped user's
    marketplaces too."""
    from desk.selectors import queue_list
    from desk.tables import COUNT_AT_MOST

    pcc = shops["pcc"]["connection"].pk
    query = {k: v.format(pcc=pcc) if isinstance(v, str) else v for k, v in query.items()}
    request = RequestFactory().get(URL, query)
    request.user = shops["scoped"]
    _filterset, entries = queue_list(filters=request.GET, user=shops["scoped"], request=request)
    sql, _params = entries.order_by()[: COUNT_AT_MOST + 1].values("pk").query.sql_with_params()
    where = sql.split(" WHERE ", 1)[1]
    read = set(re.findall(r'"sla_queueentry"\."(\w+)"', where))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_indexdef(%s::regclass)", [index])
        definition = cursor.fetchone()[0]
    held = set(re.findall(r"\b(\w+)\b", definition.split(" USING ", 1)[1]))
    assert read and read <= held, (read - held, definition)


def test_a_search_s_few_orders_filter_the_queue(shops, client) -> None:
    """Few matching orders are read first and passed as one array; none, no query."""
    from messaging.search import order_search_documents_refresh

    order_search_documents_refresh(order_ids=[shops["mm"]["incident"].order_id])
    client.force_login(shops["agent"])
    html = client.get(URL, {"q": "MM-1"}).content.decode()
    assert set(re.findall(r'class="order-link">([^<]+)<', html)) == {"MM-1"}
    nothing = filterset(shops["agent"], q="no-order-has-this-9z")
    assert nothing.qs.query.is_empty()
