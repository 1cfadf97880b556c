"""Pages of the SLA app: the account managers' review, its CSVs, and notifications.

Thin: a filterset or form, one selector or KPI call, a template (or a CSV writer).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from core.cache_ahead import cache_read_ahead
from core.csv_safety import SafeCsvWriter
from core.htmx import htmx_partial
from core.models import MarketplaceConnection
from core.params import query_int
from core.scoping import scope_queryset
from sla import selectors
from sla.alerts import notifications_mark_read, notifications_unread_count
from sla.filtersets import SlaBreachFilterSet
from sla.forms import KpiPeriodForm
from sla.health.banner import CACHE_KEY as BANNERS_CACHE_KEY
from sla.kpis import KPIS_STAMP_KEY, MarketplaceKpis, kpis_cached, kpis_compute
from sla.models import SlaBreach
from sla.policies import policy_for, policy_summary
from sla.subjects import wait_order_number, wait_path, wait_reason_label

__all__ = ["breaches_csv", "kpis_csv", "notification_bell", "notification_list", "review"]

BREACH_PAGE_SIZE = 50


def _chart_data(kpis: list[MarketplaceKpis]) -> dict[str, Any]:
    """Daily series per marketplace, as plain JSON for Chart.js."""
    days = [d["day"].isoformat() for d in kpis[0].daily] if kpis else []

    def series(key: str) -> list[dict[str, Any]]:
        return [
            {
                "label": k.connection.name,
                "data": [None if d[key] is None else float(d[key]) for d in k.daily],
            }
            for k in kpis
        ]

    charts = (
        ("compliance", _("Reply-time compliance (%)"), "compliance_pct"),
        ("first_reply", _("Median first reply (hours)"), "first_reply_median_h"),
        (
            "incident_rate",
            _("Incident rate, last 7 days (%)"),
            "incident_rate_7d_pct",
        ),
        ("active", _("Active incidents at day end"), "active_incidents"),
        ("breaches", _("Missed deadlines"), "breaches"),
    )
    return {
        "labels": days,
        "charts": [{"id": i, "title": title, "series": series(key)} for i, title, key in charts],
    }


def _visible(request: HttpRequest) -> list[MarketplaceConnection]:
    """The marketplaces the user sees (:mod:`core.scoping`), by name."""
    connections = scope_queryset(MarketplaceConnection.objects.all(), request.user, "pk")
    return list(connections.order_by("name", "pk"))


def _offer_marketplaces(field: Any, connections: list[MarketplaceConnection]) -> None:
    """The filter's marketplaces offered from those the page read already (the same
    ones, scoped alike and by name) rather than by a query of their own; a choice sent
    is still checked against the filter's queryset."""
    iterator = field.iterator(field)
    offered = [("", field.empty_label)] if field.empty_label is not None else []
    if field.null_label is not None:
        offered.append((field.null_value, field.null_label))
    offered += [iterator.choice(connection) for connection in connections]
    field.widget.choices = offered


def _breakdown(*, breaches: QuerySet[SlaBreach], count: int) -> dict[str, list[dict]]:
    """The breakdown of ``breaches`` (``count`` of them, as the pager counted): none to
    count asks the database nothing more (three grouped queries otherwise)."""
    if count == 0:
        return {"by_day": [], "by_marketplace": [], "by_agent": []}
    return selectors.sla_breach_breakdown(breaches=breaches)


@require_GET
@permission_required("incidents.review_sla", raise_exception=True)
def review(request: HttpRequest) -> HttpResponse:
    """Breaches by day, marketplace and agent (filterable) and KPIs per marketplace."""
    now = timezone.now()
    filterset = SlaBreachFilterSet(
        request.GET,
        queryset=scope_queryset(selectors.sla_breach_list(now=now), request.user),
        request=request,
    )
    breaches = filterset.qs
    page = Paginator(breaches, BREACH_PAGE_SIZE).get_page(query_int(request.GET, "page", default=1))
    if not page.paginator.count:
        # Nothing matches (the pager counted): no page query to compile (its joins and
        # ordering cost more than the rest of the view) for rows that cannot be there.
        page.object_list = []
    for breach in page:
        breach.late_hours = breach.lateness_at_now.total_seconds() / 3600
        breach.reason_label = wait_reason_label(incident=breach.incident, thread=breach.thread)
    context: dict[str, Any] = {"filterset": filterset, "page": page, "now": now}
    if htmx_partial(request):
        return render(request, "sla/partials/_breach_table.html", context)
    # The shops' banners and the KPIs' stamp, read in one round trip to the cache.
    with cache_read_ahead((BANNERS_CACHE_KEY, KPIS_STAMP_KEY)):
        period_form = KpiPeriodForm(request.GET)
        period = period_form.period(now=now)
        connections = _visible(request)
        _offer_marketplaces(filterset.form.fields["marketplace"], connections)
        kpis = kpis_cached(period=period, now=now, connections=connections)
        for k in kpis:  # the policy in force, in words ("24 h en días laborables")
            k.policy_text = policy_summary(policy_for(k.connection))
        keep = request.GET.copy()
        for key in ("page", "marketplace", "date_from", "date_to"):
            keep.pop(key, None)
        context.update(
            {
                "drill_query": keep.urlencode(),
                "breakdown": _breakdown(breaches=breaches, count=page.paginator.count),
                "period_form": period_form,
                "period": period,
                "kpis": kpis,
                "chart_data": _chart_data(kpis),
            }
        )
        return render(request, "sla/review.html", context)


def _csv_response(filename: str) -> tuple[HttpResponse, SafeCsvWriter]:
    """A CSV download and its writer: no cell is a formula (``core.csv_safety``)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response, SafeCsvWriter(response)


def _local(value) -> str:
    return "" if value is None else timezone.localtime(value).isoformat()


def _num(value) -> str:
    return "" if value is None else str(value)


@require_GET
@permission_required("incidents.review_sla", raise_exception=True)
@permission_required("incidents.export_data", raise_exception=True)
def breaches_csv(request: HttpRequest) -> HttpResponse:
    """The filtered breaches as CSV (times in Madrid, lateness in hours)."""
    now = timezone.now()
    filterset = SlaBreachFilterSet(
        request.GET,
        queryset=scope_queryset(selectors.sla_breach_list(now=now), request.user),
        request=request,
    )
    response, writer = _csv_response("sla-breaches.csv")
    writer.writerow(
        ["marketplace", "kind", "incident", "order", "thread", "reason", "due_at",
         "breached_at", "answered_at", "lateness_hours", "url"]
    )  # fmt: skip
    base = getattr(settings, "SITE_URL", "").rstrip("/")
    for b in filterset.qs.iterator(chunk_size=2000):
        order = wait_order_number(incident=b.incident, thread=b.thread)
        reason = wait_reason_label(incident=b.incident, thread=b.thread)
        url = base + wait_path(incident_id=b.incident_id, thread=b.thread)
        lateness = round(b.lateness_at_now.total_seconds() / 3600, 1)
        writer.writerow(
            [b.connection.name, b.kind, b.incident_id or "", order, b.thread_id or "", reason,
             _local(b.due_at), _local(b.breached_at), _local(b.answered_at), f"{lateness:.1f}",
             url]
        )  # fmt: skip
    return response


@require_GET
@permission_required("incidents.review_sla", raise_exception=True)
@permission_required("incidents.export_data", raise_exception=True)
def kpis_csv(request: HttpRequest) -> HttpResponse:
    """KPIs per marketplace: one row for the period, then one per day."""
    now = timezone.now()
    period = KpiPeriodForm(request.GET).period(now=now)
    kpis = kpis_compute(period=period, now=now, connections=_visible(request))
    response, writer = _csv_response(f"sla-kpis-{period.first}-{period.last}.csv")
    writer.writerow(
        ["marketplace", "day", "items_due", "items_on_time", "compliance_pct",
         "first_reply_median_h", "first_reply_p90_h", "incidents_opened", "orders_created",
         "incident_rate_pct", "active_incidents", "breaches", "open_breaches_now",
         "incident_rate_risk", "active_incidents_risk"]
    )  # fmt: skip
    for k in kpis:
        writer.writerow(
            [k.connection.name, f"{period.first}/{period.last}", k.items_due, k.items_on_time,
             _num(k.compliance_pct), _num(k.first_reply_median_h), _num(k.first_reply_p90_h),
             k.incidents_opened, k.orders_created, _num(k.incident_rate_pct),
             _num(k.active_incidents_avg), sum(d["breaches"] for d in k.daily), k.open_breaches,
             k.incident_rate_risk, k.active_incidents_risk]
        )  # fmt: skip
        for d in k.daily:
            writer.writerow(
                [k.connection.name, d["day"].isoformat(), d["items_due"], d["items_on_time"],
                 _num(d["compliance_pct"]), _num(d["first_reply_median_h"]), "",
                 d["incidents_opened"], d["orders_created"], _num(d["incident_rate_pct"]),
                 d["active_incidents"], d["breaches"], "", "", ""]
            )  # fmt: skip
    return response


@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    """The user's notifications; opening the page marks them read."""
    notifications = selectors.notification_list(user=request.user)
    unread_ids = {n.pk for n in notifications if n.read_at is None}
    notifications_mark_read(user=request.user)
    return render(
        request,
        "sla/notification_list.html",
        {"notifications": notifications, "unread_ids": unread_ids},
    )


@require_GET
def notification_bell(request: HttpRequest) -> HttpResponse:
    """The bell with the unread count (loaded by htmx, so pages pay no query for it)."""
    return render(
        request,
        "sla/partials/_bell.html",
        {"unread": notifications_unread_count(user=request.user)},
    )
