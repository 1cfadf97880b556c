"""Pages of the incidents app: overview, inbox, incident page and its desk actions.

Views stay thin: a form, one service or selector, a template. An htmx request that is
not a boosted navigation gets the partial it targets (NetBox's ``htmx_partial``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import condition, require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_tables2 import RequestConfig

from incidents import selectors
from incidents.filtersets import SAVED_VIEWS, STATUS_OPEN
from incidents.forms import AssignForm, NoteForm, ResolveForm
from incidents.freshness import inbox_etag
from incidents.models import Incident, Order
from incidents.params import identifier_or_404, query_int
from incidents.presence import presence_here
from incidents.services import incident_assign, incident_mark_seen, incident_note_add
from incidents.tables import IncidentTable

__all__ = [
    "audit_export",
    "incident_assign_view",
    "incident_by_order",
    "incident_detail",
    "incident_list",
    "incident_note_view",
    "incident_page_context",
    "incident_resolve_view",
    "overview",
    "presence_context",
]

INBOX_PAGE_SIZE = 25


def _htmx_partial(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted


@permission_required("incidents.view_incident", raise_exception=True)
def overview(request: HttpRequest) -> HttpResponse:
    """Every marketplace at a glance: open incidents by state, waiting threads, sync.

    Figures of every marketplace: only for roles that read incidents, as the inbox."""
    context = {"overviews": selectors.connections_overview()}
    template = "incidents/overview.html"
    if _htmx_partial(request):
        template = "incidents/partials/_overview_cards.html"
    return render(request, template, context)


def _saved_views(request: HttpRequest) -> list[dict[str, Any]]:
    current = {k: sorted(v) for k, v in request.GET.lists() if k not in ("page", "sort") and v}
    if not current:
        current = {"status": [STATUS_OPEN]}  # what the inbox lists by default
    views = []
    for key, label, query in SAVED_VIEWS:
        normalised = {k: sorted(v if isinstance(v, list) else [v]) for k, v in query.items()}
        views.append(
            {
                "key": key,
                "label": label,
                "url": f"{reverse('incidents:list')}?{urlencode(query, doseq=True)}",
                "active": normalised == current,
            }
        )
    return views


@require_GET
@permission_required("incidents.view_incident", raise_exception=True)
@vary_on_headers("HX-Request")
@cache_control(private=True, no_cache=True)
@condition(etag_func=lambda request: inbox_etag(request))
def incident_list(request: HttpRequest) -> HttpResponse:
    """The inbox: filters, saved views, the sortable and paginated table.

    Its live refresh (the htmx partial) carries an ETag: unchanged, it is a 304
    (:mod:`incidents.freshness`)."""
    filterset, incidents = selectors.incident_list(
        filters=request.GET, user=request.user, request=request
    )
    table = IncidentTable(
        incidents,
        row_loader=lambda ids: selectors.incident_rows(ids=ids, user=request.user),
        page_size=INBOX_PAGE_SIZE,
    )
    RequestConfig(request, paginate=True).configure(table)
    context = {"filterset": filterset, "table": table, "saved_views": _saved_views(request)}
    if _htmx_partial(request):
        return render(request, "incidents/partials/_incident_table.html", context)
    return render(request, "incidents/incident_list.html", context)


def presence_context(request: HttpRequest, incident: Incident) -> dict[str, Any]:
    """Record the viewer on the incident and name the others there (header and warning
    above the conversations, on the first render and every live refresh)."""
    present = presence_here(incident_id=incident.pk, user=request.user)
    return {"present": present, "present_names": ", ".join(p.name for p in present)}


def incident_page_context(
    request: HttpRequest, incident: Incident, **conversation: Any
) -> dict[str, Any]:
    """Everything the incident page shows; ``conversation`` goes to the messages panel
    (a bound reply form with its errors, for instance).

    Each thing is read once and shared by the panels that show it: the marketplace's
    reasons (resolution and new conversation), the order's lines (details and refunds),
    its messages (conversations and documents). ``incident`` comes from
    :func:`incidents.selectors.incident_detail`. Who else is on the incident comes from
    the cache, without a query.
    """
    from incidents.resolution import RESOLUTION_REASON_TYPE
    from messaging.constants import MESSAGING_REASON_TYPE
    from messaging.selectors import order_conversations
    from messaging.views import conversation_context
    from refunds.views import panel_context

    user = request.user
    reasons = selectors.connection_reasons(connection_id=incident.connection_id)
    views = order_conversations(order_id=incident.order_id)
    refunds = panel_context(request, incident)
    return {
        "incident": incident,
        "order": incident.order,
        "lines": [row.line for row in refunds["refunds"].lines],
        "history": selectors.incident_history(incident=incident),
        "notes": selectors.incident_notes(incident=incident),
        "documents": selectors.incident_documents(
            order_id=incident.order_id,
            messages=[i.message for v in views for i in v.items if i.message is not None],
        ),
        "assign_form": AssignForm(
            initial={"assignee": getattr(getattr(incident, "assignment", None), "assignee", None)}
        )
        if user.has_perm("incidents.assign_incident")
        else None,
        "note_form": NoteForm() if user.has_perm("incidents.reply_incident") else None,
        **refunds,
        **presence_context(request, incident),
        **resolve_context(
            request,
            incident,
            reasons=reasons.get(RESOLUTION_REASON_TYPE, []),
        ),
        **conversation_context(
            request,
            incident,
            views=views,
            reasons=reasons.get(MESSAGING_REASON_TYPE, []),
            **conversation,
        ),
    }


@require_GET
@permission_required("incidents.view_incident", raise_exception=True)
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The incident page: header, details, shipping, messages, history, documents."""
    try:
        incident = selectors.incident_detail(pk=pk, viewer=request.user)
    except Incident.DoesNotExist:
        raise Http404(_("No such incident.")) from None
    context = incident_page_context(request, incident)
    # Remembered only when it changes the viewer's unread count: a first visit, or a
    # message nobody answered newer than their last visit (no write on a plain revisit).
    seen_at = incident.viewer_seen_at
    views = [entry["view"] for entry in context["threads"]]
    unanswered = [at for at in (view.unanswered_since for view in views) if at is not None]
    if seen_at is None or (unanswered and max(unanswered) > seen_at):
        incident_mark_seen(incident=incident, user=request.user)
    return render(request, "incidents/incident_detail.html", context)


@require_GET
@permission_required("incidents.view_incident", raise_exception=True)
def incident_by_order(request: HttpRequest, connection: str, order_id: str) -> HttpResponse:
    """``/incidents/order/<marketplace>/<Mirakl order id>/``: the order's latest incident."""
    order = get_object_or_404(
        Order, connection__code=connection, mirakl_id=identifier_or_404(order_id)
    )
    incident = order.incidents.order_by("-opened_at", "-pk").first()
    if incident is None:
        raise Http404(_("This order has no incident."))
    return redirect("incidents:detail", pk=incident.pk)


def _reload_panels(
    request: HttpRequest, incident: Incident, template: str, *, note_form: NoteForm | None = None
) -> HttpResponse:
    incident = selectors.incident_detail(pk=incident.pk)
    context = {
        "incident": incident,
        "history": selectors.incident_history(incident=incident),
        "notes": selectors.incident_notes(incident=incident),
        "assign_form": AssignForm(
            initial={"assignee": getattr(getattr(incident, "assignment", None), "assignee", None)}
        ),
        "note_form": note_form
        or (NoteForm() if request.user.has_perm("incidents.reply_incident") else None),
        "oob_history": True,
    }
    return render(request, template, context)


@require_POST
@permission_required("incidents.assign_incident", raise_exception=True)
def incident_assign_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Assign the incident to someone, to me (``assignee`` = my id) or to nobody."""
    incident = get_object_or_404(Incident, pk=pk)
    form = AssignForm(request.POST)
    if form.is_valid():
        incident_assign(
            incident=incident, assignee=form.cleaned_data["assignee"], actor=request.user
        )
    elif not _htmx_partial(request):
        return HttpResponse(form.errors.as_text(), status=400)
    if _htmx_partial(request):
        return _reload_panels(request, incident, "incidents/partials/_assignment.html")
    return redirect("incidents:detail", pk=incident.pk)


@require_POST
@permission_required("incidents.reply_incident", raise_exception=True)
def incident_note_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Add an internal note (never sent to Mirakl)."""
    incident = get_object_or_404(Incident, pk=pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        incident_note_add(incident=incident, author=request.user, body=form.cleaned_data["body"])
    elif not _htmx_partial(request):
        return HttpResponse(form.errors.as_text(), status=400)
    if _htmx_partial(request):
        return _reload_panels(
            request,
            incident,
            "incidents/partials/_notes.html",
            note_form=None if form.is_valid() else form,
        )
    return redirect(f"{reverse('incidents:detail', args=[incident.pk])}#notes")


def resolve_context(
    request: HttpRequest,
    incident: Incident,
    *,
    errors: dict[int, str] | None = None,
    reasons: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """The resolution panel: one "mark resolved" form per open incident of the order
    (``reasons``: see :func:`incidents.resolution.resolution_panels`)."""
    from incidents.resolution import resolution_panels

    can_resolve = request.user.has_perm("incidents.resolve_incident")
    panels = resolution_panels(incident=incident, reasons=reasons)
    for panel in panels:
        target = panel["incident"]
        panel["form"] = (
            ResolveForm(choices=panel["reasons"], auto_id=f"id_resolve_{target.pk}_%s")
            if can_resolve and target.state in ACTIONABLE_STATES
            else None
        )
        panel["error"] = (errors or {}).get(target.pk)
    return {"resolve_panels": panels, "resolution": panels[0]["status"]}


#: States an agent may mark resolved from (the state machine decides the rest).
ACTIONABLE_STATES = (Incident.State.NEW, Incident.State.IN_PROGRESS, Incident.State.CONTESTED)


@require_POST
@permission_required("incidents.resolve_incident", raise_exception=True)
def incident_resolve_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one incident resolved with a reason; a refusal is shown inline.

    ``page`` is the incident whose page the form is on (another open incident of the
    same order can be resolved from it).
    """
    from incidents.resolution import ResolutionRefused, incident_resolve

    target = get_object_or_404(Incident.objects.select_related("connection"), pk=pk)
    page_pk = query_int(request.POST, "page")
    page = target
    if page_pk is not None and page_pk != target.pk:
        page = get_object_or_404(Incident, pk=page_pk, order_id=target.order_id)
    form = ResolveForm(request.POST, connection=target.connection_id)
    error = None
    if form.is_valid():
        try:
            incident_resolve(
                incident=target, reason_code=form.cleaned_data["reason_code"], actor=request.user
            )
        except ResolutionRefused as exc:
            error = " ".join(exc.messages)
    else:
        error = str(_("Choose a resolution reason from the marketplace's list."))
    if not _htmx_partial(request):
        if error:
            return HttpResponse(error, status=400, content_type="text/plain; charset=utf-8")
        return redirect(f"{reverse('incidents:detail', args=[page.pk])}#resolve")
    page = selectors.incident_detail(pk=page.pk)
    context = {
        "incident": page,
        "history": selectors.incident_history(incident=page),
        "oob_history": True,
        **resolve_context(request, page, errors={target.pk: error} if error else None),
    }
    return render(request, "incidents/partials/_resolve.html", context)


@require_GET
@permission_required("incidents.export_data", raise_exception=True)
def audit_export(request: HttpRequest) -> HttpResponse:
    """``/audit/export.csv``: the audit log as CSV, filtered by dates, marketplace,
    action and order id; streamed, times in Madrid. The export is audited too."""
    from incidents.audit_export import AuditExportForm, audit_csv_response, audit_entries_filter

    form = AuditExportForm(request.GET)
    if not form.is_valid():
        return HttpResponse(
            form.errors.as_text(), status=400, content_type="text/plain; charset=utf-8"
        )
    return audit_csv_response(
        entries=audit_entries_filter(filters=form.cleaned_data),
        actor=request.user,
        filters=form.cleaned_data,
    )
