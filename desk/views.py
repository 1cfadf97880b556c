"""The pages that compose several apps: the overview, the queue, the order and incident
pages.

Views stay thin: a selector or a page module, a template. An htmx request that is not
a boosted navigation gets the partial it targets (:func:`core.htmx.htmx_partial`).
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import condition, require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from core.cache_ahead import cache_read_ahead
from core.freshness import INBOX_FILTERS_KEY, inbox_etag
from core.htmx import htmx_partial
from core.models import Order
from core.scoping import can_see_connection, scope_queryset, visible_connection_ids
from desk import selectors
from desk.bulk import BULK_PERMISSIONS, BulkAction, queue_bulk_apply
from desk.filtersets import QUEUE_VIEWS, STATUS_OPEN
from desk.forms import BulkForm
from desk.pages.incident import incident_page_context
from desk.pages.order import TEMPLATE, order_page_context, page_cache_keys
from desk.pages.order_history import order_history_context
from desk.tables import QueueTable
from incidents.models import Incident
from incidents.selectors import incident_detail as incident_read
from incidents.services import incident_mark_seen
from sla.health.banner import CACHE_KEY as BANNERS_CACHE_KEY

__all__ = [
    "bulk_bar_context",
    "inbox",
    "incident_detail",
    "order_detail",
    "order_history",
    "overview",
    "queue_bulk",
]

INBOX_PAGE_SIZE = 25


@permission_required("incidents.view_incident", raise_exception=True)
def overview(request: HttpRequest) -> HttpResponse:
    """Every marketplace at a glance: open incidents by state, waiting threads, sync.

    Figures of every marketplace: only for roles that read incidents, as the inbox."""
    context = {"overviews": selectors.connections_overview(user=request.user)}
    template = "desk/overview.html"
    if htmx_partial(request):
        template = "desk/partials/_overview_cards.html"
    return render(request, template, context)


@functools.cache
def _saved_view_links(
    urlconf: str | None, prefix: str
) -> tuple[tuple[str, Any, str, dict[str, list[str]]], ...]:
    """(key, label, address, query as compared) of each saved view, made once per
    URLconf and prefix (its labels translated when drawn)."""
    inbox = reverse("desk:inbox", urlconf=urlconf)
    return tuple(
        (
            key,
            label,
            f"{inbox}?{urlencode(query, doseq=True)}",
            {k: sorted(v if isinstance(v, list) else [v]) for k, v in query.items()},
        )
        for key, label, query in QUEUE_VIEWS
    )


def _saved_views(request: HttpRequest) -> list[dict[str, Any]]:
    current = {k: sorted(v) for k, v in request.GET.lists() if k not in ("page", "sort") and v}
    if not current:
        current = {"status": [STATUS_OPEN]}  # what the inbox lists by default
    return [
        {"key": key, "label": label, "url": url, "active": normalised == current}
        for key, label, url, normalised in _saved_view_links(get_urlconf(), get_script_prefix())
    ]


@require_GET
@permission_required("incidents.view_incident", raise_exception=True)
@vary_on_headers("HX-Request")
@cache_control(private=True, no_cache=True)
@condition(etag_func=lambda request: inbox_etag(request))
def inbox(request: HttpRequest) -> HttpResponse:
    """The queue of what the shop owes (incidents and conversations without incident):
    filters, saved views, the sortable and paginated table.

    Its live refresh (the htmx partial) carries an ETag: unchanged, it is a 304
    (:mod:`core.freshness`)."""
    partial = htmx_partial(request)
    # A whole page reads the shops' banners and the filter form's version (its drawn
    # HTML, and the choices a filter is checked against): both in one round trip.
    with cache_read_ahead(() if partial else (BANNERS_CACHE_KEY, INBOX_FILTERS_KEY)):
        filterset, entries = selectors.queue_list(
            filters=request.GET, user=request.user, request=request
        )
        table = QueueTable(
            entries,
            request=request,
            row_loader=lambda ids: selectors.queue_rows(ids=ids, user=request.user),
            page_size=INBOX_PAGE_SIZE,
        )
        scope = visible_connection_ids(request.user)
        context = {
            "filterset": filterset,
            "table": table,
            "saved_views": _saved_views(request),
            # The form's marketplaces are the user's: its drawn HTML is kept per scope.
            "filters_scope_key": "all" if scope is None else ",".join(map(str, sorted(scope))),
        }
        if partial:
            return render(request, "desk/partials/_inbox_table.html", context)
        context |= bulk_bar_context(request)
        return render(request, "desk/inbox.html", context)


@require_GET
@permission_required("incidents.view_incident", raise_exception=True)
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The incident page: header, details, shipping, messages, history, documents."""
    try:
        incident = incident_read(pk=pk, viewer=request.user)
    except Incident.DoesNotExist:
        raise Http404(_("No such incident.")) from None
    if not can_see_connection(request.user, incident.connection_id):
        raise Http404(_("No such incident."))
    with cache_read_ahead(page_cache_keys(incident.order, incident=incident)):
        context = incident_page_context(request, incident)
        # Remembered only when it changes the viewer's unread count: a first visit, or a
        # message nobody answered newer than their last visit (no write on a plain
        # revisit).
        seen_at = incident.viewer_seen_at
        views = [entry["view"] for entry in context["threads"]]
        unanswered = [at for at in (view.unanswered_since for view in views) if at is not None]
        if seen_at is None or (unanswered and max(unanswered) > seen_at):
            # Seen up to the newest message shown, even one dated after our clock (the
            # marketplace's runs ahead at times): otherwise it stays unread, and every
            # later visit writes again.
            now = timezone.now()
            incident_mark_seen(incident=incident, user=request.user, now=max([now, *unanswered]))
        return render(request, TEMPLATE, context)


@require_GET
@permission_required("incidents.view_incident", raise_exception=True)
def order_history(request: HttpRequest, order_pk: int) -> HttpResponse:
    """The order's history: Mirakl's dates, incidents and refunds, and our audit log.

    Loaded by the order's pages once they are shown (htmx), so it costs them nothing;
    a plain request gets a page of its own."""
    orders = scope_queryset(Order.objects.select_related("connection"), request.user)
    order = get_object_or_404(orders, pk=order_pk)
    context = {"order": order, **order_history_context(order=order, lines=list(order.lines.all()))}
    if htmx_partial(request):
        return render(request, "desk/partials/_order_history_list.html", context)
    return render(request, "desk/order_history.html", context)


def bulk_bar_context(request: HttpRequest) -> dict[str, Any]:
    """The bulk action bar of the queue (``desk/partials/_bulk_bar.html``): the actions
    the user may take, and its form."""
    allowed = [
        (value, label)
        for value, label in BulkAction.choices
        if request.user.has_perm(BULK_PERMISSIONS[value])
    ]
    scope = visible_connection_ids(request.user)
    return {
        "bulk_actions": allowed,
        # Made only when the bar is drawn: the inbox keeps the drawn bar in its cache.
        "bulk_form": SimpleLazyObject(lambda: BulkForm(user=request.user)) if allowed else None,
        # What the drawn bar depends on besides the choices' version: the actions and
        # the marketplaces whose reasons it offers.
        "bulk_cache_key": ",".join(
            [*(value for value, _label in allowed), *map(str, sorted(scope or ()))]
        ),
    }


@require_POST
@permission_required("incidents.view_incident", raise_exception=True)
def queue_bulk(request: HttpRequest) -> HttpResponse:
    """Apply a bulk action to the selected rows of the queue: one result per row.

    Each row goes through the single action's service (:mod:`desk.bulk`); the action's
    own permission is needed (403 otherwise). The answer lists each row, done or
    refused with the reason; an htmx answer also tells the queue to refresh.
    """
    form = BulkForm(request.POST, user=request.user)
    if not form.is_valid():
        context: dict[str, Any] = {"errors": form.errors}
        template = "desk/partials/_bulk_results.html"
        if not htmx_partial(request):
            template = "desk/bulk_results.html"
        return render(request, template, context, status=400)
    data = form.cleaned_data
    if not request.user.has_perm(BULK_PERMISSIONS[data["action"]]):
        raise PermissionDenied
    results = queue_bulk_apply(
        action=data["action"],
        user=request.user,
        incident_ids=data["incident_ids"],
        thread_ids=data["thread_ids"],
        assignee=data.get("assignee"),
        reason=data.get("reason") or "",
        reason_code=data.get("reason_code") or "",
        confirmed=bool(data.get("confirm")),
    )
    context = {
        "results": results,
        "action_label": BulkAction(data["action"]).label,
        "done": sum(1 for r in results if r.ok),
        "refused": sum(1 for r in results if not r.ok),
    }
    if htmx_partial(request):
        response = render(request, "desk/partials/_bulk_results.html", context)
        response["HX-Trigger"] = "queue-changed"
        return response
    return render(request, "desk/bulk_results.html", context)


@require_GET
@permission_required("incidents.view_incident", raise_exception=True)
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The order page: lines, shipping, every conversation, refunds, history, documents,
    whether or not the order has an incident."""
    try:
        order = scope_queryset(Order.objects.select_related("connection"), request.user).get(pk=pk)
    except Order.DoesNotExist:
        raise Http404(_("No such order.")) from None
    with cache_read_ahead(page_cache_keys(order)):
        return render(request, TEMPLATE, order_page_context(request, order))
