"""The account managers' SLA review page and its CSV exports."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.cache.backends.redis import RedisCache
from django.forms.renderers import DjangoTemplates
from django.urls import reverse
from django.utils import timezone

from core.form_rendering import WidgetRenderer
from sla.health.banner import CACHE_KEY as BANNERS_CACHE_KEY
from sla.kpis import KPIS_STAMP_KEY
from sla.models import SlaBreach
from tests.factories.core import UserFactory
from tests.factories.incidents import IncidentFactory
from tests.factories.sla import SlaBreachFactory, SlaItemFactory
from tests.sla.conftest import madrid

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)


@pytest.fixture
def manager(db):
    return UserFactory(username="marta", role="account_manager")


@pytest.fixture
def agent(db):
    return UserFactory(username="ana", role="agent")


def breach(connection, due, answered=None, **kwargs):
    inc = IncidentFactory(
        line__order__connection=connection,
        connection=connection,
        opened_at=due - 50 * H,
        **kwargs,
    )
    item = SlaItemFactory(
        incident=inc, started_at=due - 48 * H, warn_at=due - 12 * H, due_at=due, state="breached"
    )
    return SlaBreachFactory(item=item, answered_at=answered)


@pytest.fixture
def breaches(mediamarkt, pccomponentes):
    now = timezone.now()
    return [
        breach(mediamarkt, now - 30 * H, answered=now - 20 * H),
        breach(mediamarkt, now - 10 * H),
        breach(pccomponentes, now - 5 * H),
        breach(pccomponentes, madrid(2026, 1, 5, 12), answered=madrid(2026, 1, 5, 18)),
    ]


URLS = ["sla:review", "sla:breaches_csv", "sla:kpis_csv"]


@pytest.mark.parametrize("name", URLS)
def test_an_account_manager_gets_it(client, manager, breaches, name) -> None:
    client.force_login(manager)
    assert client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", URLS)
def test_an_agent_is_forbidden(client, agent, name) -> None:
    client.force_login(agent)
    assert client.get(reverse(name)).status_code == 403


@pytest.mark.parametrize("name", URLS)
def test_anonymous_goes_to_the_login(client, name) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_csv_needs_the_export_permission(client, db) -> None:
    reviewer = UserFactory(username="reviewer")
    reviewer.user_permissions.add(Permission.objects.get(codename="review_sla"))
    client.force_login(reviewer)

    assert client.get(reverse("sla:review")).status_code == 200
    assert client.get(reverse("sla:breaches_csv")).status_code == 403
    assert client.get(reverse("sla:kpis_csv")).status_code == 403


def test_the_page_shows_breakdowns_kpis_charts_and_drill_down(
    client, manager, breaches, django_assert_max_num_queries
) -> None:
    client.force_login(manager)

    # 23: the incident rate's 7-day window counts the incidents opened per day.
    with django_assert_max_num_queries(23):
        response = client.get(reverse("sla:review"))

    assert response.status_code == 200
    page = response.content.decode()
    breakdown = response.context["breakdown"]
    by_marketplace = {r["connection__name"]: r["n"] for r in breakdown["by_marketplace"]}
    assert by_marketplace == {"MediaMarkt": 2, "PcComponentes": 2}
    assert sum(r["n"] for r in breakdown["by_day"]) == 4
    assert breakdown["by_agent"] == [{"n": 4, "open": 2, "agent": None}]
    assert [k.open_breaches for k in response.context["kpis"]] == [1, 1]
    assert f'href="/incidents/{breaches[1].incident_id}/"' in page
    assert 'id="sla-chart-data"' in page and "chart-4.6.1.umd.min.js" in page
    data = json.loads(page.split('id="sla-chart-data" type="application/json">')[1].split("<")[0])
    assert len(data["labels"]) == 30
    assert [s["label"] for s in data["charts"][0]["series"]] == ["MediaMarkt", "PcComponentes"]
    assert reverse("sla:review") in page  # the nav item


def test_query_count_does_not_grow_with_breaches(
    client, manager, mediamarkt, django_assert_max_num_queries
) -> None:
    now = timezone.now()
    for hours in range(5, 65, 2):
        breach(mediamarkt, now - hours * H)
    client.force_login(manager)

    with django_assert_max_num_queries(23):
        assert client.get(reverse("sla:review")).status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get(reverse("sla:breaches_csv")).status_code == 200


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, 4),
        ({"status": "open"}, 2),
        ({"status": "answered"}, 2),
        ({"kind": "thread"}, 0),
        ({"date_from": "2026-01-05", "date_to": "2026-01-05"}, 1),
        ({"date_to": "2026-01-04"}, 0),
    ],
)
def test_filters(client, manager, breaches, query, expected) -> None:
    client.force_login(manager)
    response = client.get(reverse("sla:review"), query)
    assert response.context["page"].paginator.count == expected


@pytest.mark.parametrize("htmx", [False, True])
def test_a_filter_matching_nothing_compiles_no_page_query(
    client, manager, breaches, htmx, monkeypatch
) -> None:
    """Nothing matches (the pager counted none): the empty page is drawn without its
    rows' query, which is never compiled."""
    from django.db.models.sql.compiler import SQLCompiler

    compiled: list[str] = []
    as_sql = SQLCompiler.as_sql

    def spy(self, *args, **kwargs):
        if self.query.model is SlaBreach and self.query.is_sliced:  # a page of rows
            compiled.append(self.query)
        return as_sql(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", spy)
    client.force_login(manager)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.get(reverse("sla:review"), {"kind": "thread"}, **headers)
    assert response.status_code == 200
    assert '<td colspan="8" class="muted">' in response.content.decode()  # none match
    assert list(response.context["page"]) == []
    assert compiled == []


def test_filter_by_marketplace(client, manager, breaches, mediamarkt) -> None:
    client.force_login(manager)
    response = client.get(reverse("sla:review"), {"marketplace": mediamarkt.pk})
    assert {b.connection for b in response.context["page"]} == {mediamarkt}


def test_htmx_filtering_returns_the_table_only(client, manager, breaches) -> None:
    client.force_login(manager)
    response = client.get(reverse("sla:review"), {"status": "open"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "sla/partials/_breach_table.html"


def test_breaches_csv_follows_the_filters(client, manager, breaches) -> None:
    client.force_login(manager)
    response = client.get(reverse("sla:breaches_csv"), {"status": "answered"})

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["marketplace", "kind", "incident"]
    assert len(rows) == 3
    last = rows[-1]
    assert last[0] == "PcComponentes"
    assert last[rows[0].index("due_at")] == "2026-01-05T12:00:00+01:00"  # Madrid time
    assert last[rows[0].index("lateness_hours")] == "6.0"
    # The order, the reason in words and the page where it is answered.
    assert last[rows[0].index("reason")] == "Artículo defectuoso"
    assert last[rows[0].index("url")].endswith(f"/incidents/{last[2]}/")


def test_kpis_csv_has_a_period_row_then_days(client, manager, breaches) -> None:
    client.force_login(manager)
    response = client.get(
        reverse("sla:kpis_csv"), {"period_from": "2026-01-01", "period_to": "2026-01-07"}
    )

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][0:2] == ["marketplace", "day"]
    pcc = [r for r in rows[1:] if r[0] == "PcComponentes"]
    assert pcc[0][1] == "2026-01-01/2026-01-07"
    assert pcc[0][rows[0].index("breaches")] == "1"
    assert [r[1] for r in pcc[1:]] == [f"2026-01-0{d}" for d in range(1, 8)]


def test_an_invalid_period_falls_back_to_the_last_30_days(client, manager, db) -> None:
    client.force_login(manager)
    response = client.get(
        reverse("sla:review"), {"period_from": "2026-02-01", "period_to": "2026-01-01"}
    )
    assert response.status_code == 200
    period = response.context["period"]
    assert (period.last - period.first).days == 29
    assert response.context["period_form"].errors


def test_each_form_carries_the_other_forms_values(client, manager, mediamarkt) -> None:
    client.force_login(manager)
    query = {"period_from": "2026-11-01", "period_to": "2026-11-20", "status": "open"}

    page = client.get(reverse("sla:review"), query).content.decode()

    assert '<input type="hidden" name="status" value="open">' in page
    assert '<input type="hidden" name="period_from" value="2026-11-01">' in page


def test_breakdown_rows_drill_down_keeping_the_other_filters(
    client, manager, breaches, pccomponentes
) -> None:
    client.force_login(manager)

    page = client.get(reverse("sla:review"), {"status": "answered"}).content.decode()

    assert f'href="?status=answered&amp;marketplace={pccomponentes.pk}"' in page
    assert 'href="?status=answered&amp;date_from=2026-01-05&amp;date_to=2026-01-05"' in page


def test_the_review_page_shows_the_policy_in_force(client, django_user_model) -> None:
    from django.utils import translation

    from tests.factories.core import MarketplaceConnectionFactory, UserFactory

    MarketplaceConnectionFactory(code="pcc", name="PcComponentes", sla_policy="pccomponentes")
    client.force_login(UserFactory(role="account_manager"))
    with translation.override("es"):
        html = client.get("/sla/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "24 h en días laborables" in html


@pytest.mark.parametrize(
    "query",
    [{}, {"period_from": "2026-11-01", "period_to": "2026-13-01", "kind": "x", "status": "open"}],
)
def test_its_forms_draw_as_django_templates_do(client, manager, mediamarkt, query) -> None:
    """The review's forms are drawn by the widgets written in Python
    (:mod:`core.form_rendering`): the same HTML as Django's widget templates."""
    client.force_login(manager)
    context = client.get(reverse("sla:review"), query).context
    for form in (context["period_form"], context["filterset"].form):
        assert isinstance(form.renderer, WidgetRenderer)
        fast = {name: (str(form[name]), str(form[name].errors)) for name in form.fields}
        form.renderer = DjangoTemplates()
        assert fast == {name: (str(form[name]), str(form[name].errors)) for name in form.fields}


def test_the_banners_and_kpis_stamp_are_read_in_one_round_trip(
    client, manager, mediamarkt, monkeypatch
) -> None:
    client.force_login(manager)
    client.get(reverse("sla:review"))  # the KPIs computed and kept
    read: list[list[str]] = []
    get, get_many = RedisCache.get, RedisCache.get_many

    def one(self, key, *args, **kwargs):
        read.append([key])
        return get(self, key, *args, **kwargs)

    def many(self, keys, *args, **kwargs):
        read.append(list(keys))
        return get_many(self, keys, *args, **kwargs)

    monkeypatch.setattr(RedisCache, "get", one)
    monkeypatch.setattr(RedisCache, "get_many", many)

    assert client.get(reverse("sla:review")).status_code == 200

    assert [BANNERS_CACHE_KEY, KPIS_STAMP_KEY] in read
    assert [key for keys in read for key in keys].count(KPIS_STAMP_KEY) == 1
    assert [key for keys in read for key in keys].count(BANNERS_CACHE_KEY) == 1
