"""Views of the order documents: the panel, a download (OR73), an upload (OR74).

Thin: a selector or a service, a template. The panel answers htmx with its body and a
plain request with a page of its own (without JavaScript the incident page links to it).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.clients import client_for
from core.htmx import htmx_partial
from core.models import Order
from core.scoping import scope_queryset
from documents.forms import DocumentUploadForm
from documents.panels import UPLOAD_PERMISSION, documents_panel_context
from documents.selectors import order_document, upload_type_choices
from documents.services import document_upload_queue
from incidents.models import Incident
from mirakl.errors import MiraklError

__all__ = ["document_download", "document_upload", "documents_panel"]

BODY_TEMPLATE = "documents/partials/_documents_body.html"
PAGE_TEMPLATE = "documents/order_documents.html"


def _order(pk: int, user: Any) -> Order:
    """The order, 404 when it is not there or not in a marketplace ``user`` sees."""
    return get_object_or_404(
        scope_queryset(Order.objects.select_related("connection"), user), pk=pk
    )


def _incident_pk(request: HttpRequest, order: Order) -> int | None:
    """The incident page the panel sits on (``incident``), when it is one of the order's."""
    raw = request.GET.get("incident") or request.POST.get("incident") or ""
    if not raw.isdigit():
        return None
    pk = int(raw)
    return pk if Incident.objects.filter(pk=pk, order=order).exists() else None


def _render(request: HttpRequest, order: Order, **context: object) -> HttpResponse:
    incident_pk = _incident_pk(request, order)
    data = documents_panel_context(
        request,
        order,
        incident_pk=incident_pk,
        form=context.get("form"),  # type: ignore[arg-type]
        notice=str(context.get("notice") or ""),
    )
    template = BODY_TEMPLATE if htmx_partial(request) else PAGE_TEMPLATE
    return render(request, template, data)


@require_GET
@permission_required("incidents.view_incident", raise_exception=True)
def documents_panel(request: HttpRequest, order_pk: int) -> HttpResponse:
    """The order's documents: Mirakl's (OR72), our uploads, the upload form."""
    return _render(request, _order(order_pk, request.user))


@require_POST
@permission_required(UPLOAD_PERMISSION, raise_exception=True)
def document_upload(request: HttpRequest, order_pk: int) -> HttpResponse:
    """Queue a document (an invoice) for OR74; the worker sends it."""
    order = _order(order_pk, request.user)
    form = DocumentUploadForm(
        request.POST, request.FILES, types=upload_type_choices(connection=order.connection)
    )
    if not form.is_valid() or form.checked is None:
        return _render(request, order, form=form)
    incident_pk = _incident_pk(request, order)
    file = form.cleaned_data["file"]
    upload = document_upload_queue(
        order=order,
        type_code=form.cleaned_data["type_code"],
        type_label=form.type_label,
        file_name=form.checked.name,
        content_type=form.checked.content_type,
        content=file.read(),
        actor=request.user,
        incident=Incident.objects.filter(pk=incident_pk).first() if incident_pk else None,
    )
    text = _("«%(name)s» is queued: it will be uploaded to Mirakl in a moment.") % {
        "name": upload.file_name
    }
    if htmx_partial(request):
        return _render(request, order, notice=text)
    messages.success(request, text)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("documents:panel", args=[order.pk])
    return redirect(target)


@require_GET
@permission_required("incidents.view_incident", raise_exception=True)
def document_download(request: HttpRequest, order_pk: int, document_id: str) -> HttpResponse:
    """One of the order's documents, fetched from Mirakl (OR73), always as a download.

    Only ids OR72 lists for this order are fetched.
    """
    order = _order(order_pk, request.user)
    document = order_document(order=order, document_id=document_id)
    if document is None:
        raise Http404(_("No such document on this order."))
    try:
        with client_for(order.connection) as client:
            file = client.download_order_document(document.id)
    except MiraklError:
        return HttpResponse(
            _("Mirakl did not return the document; try again in a minute."),
            status=502,
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponse(file.content, content_type="application/octet-stream")
    response["Content-Disposition"] = (
        content_disposition_header(True, document.file_name or file.file_name or "document")
        or "attachment"
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
