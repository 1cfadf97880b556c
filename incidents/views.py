"""The incident page's own actions: assign, note, mark resolved; the audit export.

Views stay thin: a form, one service or selector, a template. An htmx request that is
not a boosted navigation gets the partial it targets (NetBox's ``htmx_partial``).
"""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from core.htmx import htmx_partial
from core.models import Order
from core.params import identifier_or_404, query_int
from core.scoping import scope_queryset
from incidents import selectors
from incidents.audit_export import AuditExportForm, audit_csv_response, audit_entries_filter
from incidents.forms import AssignForm, NoteForm, ResolveForm
from incidents.models import Incident
from incidents.panels import resolve_context
from incidents.resolution import ResolutionRefused, incident_resolve
from incidents.services import incident_assign, incident_note_add

__all__ = [
    "audit_export",
    "incident_assign_view",
    "incident_by_order",
    "incident_note_view",
    "incident_resolve_view",
]


@require_GET
@permission_required("incidents.view_incident", raise_exception=True)
def incident_by_order(request: HttpRequest, connection: str, order_id: str) -> HttpResponse:
    """``/incidents/order/<marketplace>/<Mirakl order id>/``: the order's latest incident,
    or the order's page when it has none."""
    order = get_object_or_404(
        Order, connection__code=connection, mirakl_id=identifier_or_404(order_id)
    )
    incident = order.incidents.order_by("-opened_at", "-pk").first()
    if incident is None:
        return redirect("desk:order", pk=order.pk)
    return redirect("desk:incident", pk=incident.pk)


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
    incident = get_object_or_404(scope_queryset(Incident.objects.all(), request.user), pk=pk)
    form = AssignForm(request.POST)
    if form.is_valid():
        incident_assign(
            incident=incident, assignee=form.cleaned_data["assignee"], actor=request.user
        )
    elif not htmx_partial(request):
        return HttpResponse(form.errors.as_text(), status=400)
    if htmx_partial(request):
        return _reload_panels(request, incident, "incidents/partials/_assignment.html")
    return redirect("desk:incident", pk=incident.pk)


@require_POST
@permission_required("incidents.reply_incident", raise_exception=True)
def incident_note_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Add an internal note (never sent to Mirakl)."""
    incident = get_object_or_404(scope_queryset(Incident.objects.all(), request.user), pk=pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        incident_note_add(incident=incident, author=request.user, body=form.cleaned_data["body"])
    elif not htmx_partial(request):
        return HttpResponse(form.errors.as_text(), status=400)
    if htmx_partial(request):
        return _reload_panels(
            request,
            incident,
            "incidents/partials/_notes.html",
            note_form=None if form.is_valid() else form,
        )
    return redirect(f"{reverse('desk:incident', args=[incident.pk])}#notes")


@require_POST
@permission_required("incidents.resolve_incident", raise_exception=True)
def incident_resolve_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one incident resolved with a reason; a refusal is shown inline.

    ``page`` is the incident whose page the form is on (another open incident of the
    same order can be resolved from it).
    """
    target = get_object_or_404(
        scope_queryset(Incident.objects.select_related("connection"), request.user), pk=pk
    )
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
    if not htmx_partial(request):
        if error:
            return HttpResponse(error, status=400, content_type="text/plain; charset=utf-8")
        return redirect(f"{reverse('desk:incident', args=[page.pk])}#resolve")
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
def audit_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """``/audit/export.csv``: the audit log as CSV, filtered by dates, marketplace,
    action and order id; streamed, times in Madrid. The export is audited too."""
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
