"""Refund pages: the refunds panel of the order and incident pages, full and partial
refunds, approvals.

Views stay thin: a form, one service, a template. Both refund forms have two steps:
the server validates what was typed and shows the exact total, then a confirm POST
(same values, same idempotency key) creates the request. A resubmitted or
double-clicked form carries the same key and finds the request already made.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from core.htmx import htmx_partial
from core.scoping import scope_queryset
from core.templatetags.incidesk import eur
from incidents.subject import PageSubject, page_subject
from refunds import selectors
from refunds.approvals import refund_approval_check
from refunds.balance import refund_balance_check
from refunds.forms import FullRefundForm, PartialRefundForm, RejectForm
from refunds.guides import WITHDRAWAL_SHIPPING_WARNING, withdrawal_shipping_left_out
from refunds.models import RefundRequest
from refunds.panels import panel_context
from refunds.rules import (
    REFUND_PERMISSION,
    RefundApprovalError,
    RefundValidationError,
    refund_full_lines,
    refund_reason_choices,
    refund_remainders,
)
from refunds.services import (
    refund_request_approve,
    refund_request_create,
    refund_request_reject,
    refund_request_validate,
)

__all__ = [
    "refund_approvals",
    "refund_approve",
    "refund_full",
    "refund_partial",
    "refund_reject",
    "refunds_panel",
]


def _subject(incident_pk: int | None, order_pk: int | None, user: Any) -> PageSubject:
    """The page's order (and incident): 404 when not there or not in a marketplace
    ``user`` sees."""
    return page_subject(incident_pk=incident_pk, order_pk=order_pk, user=user)


def _panel_url(subject: PageSubject) -> str:
    return subject.url("refunds")


@require_GET
@permission_required("incidents.view_incident", raise_exception=True)
def refunds_panel(
    request: HttpRequest, incident_pk: int | None = None, order_pk: int | None = None
) -> HttpResponse:
    """The refunds panel, polled while a request is pending: 204 when nothing changed
    (``v`` is the version the page shows), so nothing being typed is lost."""
    context = panel_context(request, _subject(incident_pk, order_pk, request.user))
    if request.GET.get("v") == context["refunds"].version:
        return HttpResponse(status=204)
    return render(request, "refunds/partials/_refunds.html", context)


def _created(
    request: HttpRequest, subject: PageSubject, refund_request: RefundRequest, created: bool
) -> HttpResponse:
    """Back to the page the refund was asked from, with what happened."""
    if not created:
        messages.info(request, _("This refund was already requested; nothing was sent twice."))
    elif refund_request.needs_approval:
        messages.warning(
            request,
            _("Refund of %(total)s requested: it waits for approval by a second person.")
            % {"total": eur(refund_request.total)},
        )
    else:
        messages.success(
            request,
            _("Refund of %(total)s queued: it is being sent to Mirakl.")
            % {"total": eur(refund_request.total)},
        )
    if htmx_partial(request):
        return HttpResponseClientRedirect(_panel_url(subject))
    return redirect(_panel_url(subject))


def _already(
    request: HttpRequest, subject: PageSubject, form: FullRefundForm | PartialRefundForm
) -> HttpResponse | None:
    """The request made with this form's key already (double click, resubmit)."""
    if not form.is_valid() or not form.cleaned_data.get("confirmed"):
        return None
    existing = selectors.refund_request_by_key(
        connection=subject.connection,
        idempotency_key=str(form.cleaned_data["idempotency_key"]),
    )
    return _created(request, subject, existing, False) if existing else None


def _render_form(
    request: HttpRequest, subject: PageSubject, kind: str, context: dict[str, Any]
) -> HttpResponse:
    summary = context.get("summary")
    context = {
        "incident": subject.incident,
        "order": subject.order,
        "approval": refund_approval_check(
            user=request.user, order=subject.order, total=summary.total
        )
        if summary is not None
        else None,
        "balance": refund_balance_check(connection=subject.connection, total=summary.total)
        if summary is not None
        else None,
        **context,
    }
    if htmx_partial(request):
        return render(request, f"refunds/partials/_{kind}_form.html", context)
    return render(request, f"refunds/refund_{kind}.html", context)


def _create(
    request: HttpRequest,
    subject: PageSubject,
    form: FullRefundForm | PartialRefundForm,
    *,
    lines: list,
    kind: str,
) -> HttpResponse | None:
    """Ask the service for the refund; None (and errors on the form) when it refuses."""
    try:
        refund_request, created = refund_request_create(
            order=subject.order,
            lines=lines,
            reason_code=form.cleaned_data["reason_code"],
            actor=request.user,
            idempotency_key=str(form.cleaned_data["idempotency_key"]),
            kind=kind,
            incident=subject.incident,
        )
    except RefundValidationError as exc:
        form.apply_service_errors(exc.errors)
        return None
    return _created(request, subject, refund_request, created)


def _valid(
    subject: PageSubject, form: FullRefundForm | PartialRefundForm, *, lines: list, kind: str
) -> bool:
    """Whether the service would take this refund now; its errors go on the form."""
    try:
        refund_request_validate(
            order=subject.order,
            lines=lines,
            kind=kind,
            reason_code=form.cleaned_data["reason_code"],
        )
    except RefundValidationError as exc:
        form.apply_service_errors(exc.errors)
        return False
    return True


@require_http_methods(["GET", "POST"])
@permission_required(REFUND_PERMISSION, raise_exception=True)
def refund_full(
    request: HttpRequest, incident_pk: int | None = None, order_pk: int | None = None
) -> HttpResponse:
    """Refund everything left on the order: a reason, then the summary to confirm."""
    subject = _subject(incident_pk, order_pk, request.user)
    reasons = refund_reason_choices(connection=subject.connection)
    form = FullRefundForm(request.POST or None, reasons=reasons)
    if (done := _already(request, subject, form)) is not None:
        return done
    lines = refund_full_lines(order=subject.order)
    summary = selectors.refund_summary(order=subject.order, lines=lines)
    changed = confirm = False
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if data["confirmed"] and data["expected_total"] == summary.total:
            response = _create(request, subject, form, lines=lines, kind=RefundRequest.Kind.FULL)
            if response is not None:
                return response
        elif _valid(subject, form, lines=lines, kind=RefundRequest.Kind.FULL):
            changed = bool(data["confirmed"])
            form.confirm_step(summary.total)
            confirm = True
    return _render_form(
        request,
        subject,
        "full",
        {"form": form, "summary": summary, "changed": changed, "confirm": confirm},
    )


@require_http_methods(["GET", "POST"])
@permission_required(REFUND_PERMISSION, raise_exception=True)
def refund_partial(
    request: HttpRequest, incident_pk: int | None = None, order_pk: int | None = None
) -> HttpResponse:
    """A detailed refund: per line what to refund, then the summary with the total to
    confirm. "Change" (``edit``) goes back to the inputs with what was typed."""
    subject = _subject(incident_pk, order_pk, request.user)
    reasons = refund_reason_choices(connection=subject.connection)
    remainders = refund_remainders(order=subject.order)
    form = PartialRefundForm(request.POST or None, remainders=remainders, reasons=reasons)
    if request.method == "POST" and (line := request.POST.get("propose")):
        # Amounts and taxes proposed from the quantities, shown for the agent to edit.
        form = PartialRefundForm(
            initial=form.proposal_initial(request.POST, line=line),
            remainders=remainders,
            reasons=reasons,
        )
        return _render_form(request, subject, "partial", {"form": form, "summary": None})
    if (done := _already(request, subject, form)) is not None:
        return done
    summary = None
    changed = confirm = False
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        lines = form.refund_lines()
        summary = selectors.refund_summary(order=subject.order, lines=lines)
        if "edit" in request.POST:
            summary = None
        elif data["confirmed"] and data["expected_total"] == summary.total:
            response = _create(request, subject, form, lines=lines, kind=RefundRequest.Kind.PARTIAL)
            if response is not None:
                return response
            summary = None
        elif _valid(subject, form, lines=lines, kind=RefundRequest.Kind.PARTIAL):
            changed = bool(data["confirmed"])
            form.confirm_step(summary.total)
            confirm = True
        else:
            summary = None
    return _render_form(
        request,
        subject,
        "partial",
        {
            "form": form,
            "summary": summary,
            "changed": changed,
            "confirm": confirm,
            "withdrawal_shipping": WITHDRAWAL_SHIPPING_WARNING
            if summary is not None
            and withdrawal_shipping_left_out(
                reason_label=subject.reason_label,
                lines=form.refund_lines(),
                remainders=remainders,
            )
            else None,
        },
    )


def _approval_response(
    request: HttpRequest,
    refund_request: RefundRequest,
    *,
    error: str | None = None,
    reject_form: RejectForm | None = None,
) -> HttpResponse:
    """The refunds panel (order or incident page) or the approvals list, whichever
    posted."""
    from_approvals = request.POST.get("origin") == "approvals"
    subject = _subject(refund_request.incident_id, refund_request.order_id, request.user)
    if not htmx_partial(request):
        if error:
            messages.error(request, error)
        elif reject_form is not None and reject_form.errors:
            messages.error(request, reject_form.errors.as_text())
        if from_approvals or subject.incident is None:
            return redirect("refunds:approvals")
        return redirect(_panel_url(subject))
    errors = {refund_request.pk: [error]} if error else {}
    reject_forms = {refund_request.pk: reject_form} if reject_form is not None else {}
    if from_approvals:
        return render(
            request,
            "refunds/partials/_approvals_list.html",
            _approvals_context(request, errors=errors, reject_forms=reject_forms),
        )
    return render(
        request,
        "refunds/partials/_refunds.html",
        panel_context(request, subject, errors=errors, reject_forms=reject_forms),
    )


def _request(pk: int, user: Any) -> RefundRequest:
    requests = scope_queryset(RefundRequest.objects.select_related("incident", "order"), user)
    return get_object_or_404(requests, pk=pk)


@require_POST
@permission_required(REFUND_PERMISSION, raise_exception=True)
def refund_approve(request: HttpRequest, pk: int) -> HttpResponse:
    """A second person approves a request above its author's limit."""
    refund_request = _request(pk, request.user)
    try:
        refund_request_approve(refund_request=refund_request, approver=request.user)
    except RefundApprovalError as exc:
        return _approval_response(request, refund_request, error=_message(exc))
    if not htmx_partial(request):
        messages.success(request, _("Refund approved: it is being sent to Mirakl."))
    return _approval_response(request, refund_request)


@require_POST
@permission_required(REFUND_PERMISSION, raise_exception=True)
def refund_reject(request: HttpRequest, pk: int) -> HttpResponse:
    """A second person rejects a request, saying why; nothing is sent to Mirakl."""
    refund_request = _request(pk, request.user)
    form = RejectForm(request.POST, prefix=f"reject-{refund_request.pk}")
    if not form.is_valid():
        return _approval_response(request, refund_request, reject_form=form)
    try:
        refund_request_reject(
            refund_request=refund_request, approver=request.user, reason=form.cleaned_data["reason"]
        )
    except RefundApprovalError as exc:
        return _approval_response(request, refund_request, error=_message(exc))
    if not htmx_partial(request):
        messages.success(request, _("Refund rejected: nothing was sent to Mirakl."))
    return _approval_response(request, refund_request)


def _message(exc: RefundApprovalError) -> str:
    return str(getattr(exc, "message", None) or exc)


def _approvals_context(
    request: HttpRequest,
    *,
    errors: dict[int, list[str]] | None = None,
    reject_forms: dict[int, RejectForm] | None = None,
) -> dict[str, Any]:
    requests = list(selectors.refund_requests_awaiting_approval())
    for refund_request in requests:
        refund_request.approval_errors = (errors or {}).get(refund_request.pk, [])
        refund_request.reject_form = (reject_forms or {}).get(refund_request.pk) or RejectForm(
            prefix=f"reject-{refund_request.pk}"
        )
    return {"requests": requests, "user": request.user, "can_refund": True, "origin": "approvals"}


@require_GET
@permission_required(REFUND_PERMISSION, raise_exception=True)
def refund_approvals(request: HttpRequest) -> HttpResponse:
    """Every refund request waiting for a second person."""
    context = _approvals_context(request)
    if htmx_partial(request):
        return render(request, "refunds/partials/_approvals_list.html", context)
    return render(request, "refunds/refund_approvals.html", context)
