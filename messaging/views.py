"""The incident page's conversations: reply, start a thread, no reply, retry, poll.

Each POST validates a form, calls one service and answers with the fragment it
changed (htmx) or a redirect back to the incident page (plain form post).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from incidents.models import Incident
from incidents.params import query_int
from messaging.constants import BACK_OFFICE_ORDER_PATH, MESSAGING_REASON_TYPE
from messaging.forms import NewThreadForm, NoReplyForm, ReplyForm
from messaging.linter import is_withdrawal_reason, reply_confirmations, reply_lint
from messaging.models import CannedReply, OutboundMessage
from messaging.selectors import (
    ThreadView,
    canned_replies_active,
    canned_replies_cached,
    order_conversations,
)
from messaging.services import (
    canned_reply_render,
    outbound_message_retry,
    outbound_reply_queue,
    outbound_thread_queue,
    thread_no_reply_mark,
)
from mirakl.errors import MiraklError

__all__ = [
    "attachment_download",
    "canned_reply_fill",
    "conversation_context",
    "conversations_poll",
    "new_thread",
    "outbound_retry",
    "reply_lint_view",
    "thread_no_reply",
    "thread_reply",
]

NEW_THREAD_PREFIX = "new"


def _htmx_partial(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted


def _prefix(view: ThreadView) -> str:
    return f"thread-{view.key}"


def _reply_form(view: ThreadView, data: Any = None, files: Any = None) -> ReplyForm:
    last = view.last_message
    return ReplyForm(
        data,
        files,
        prefix=_prefix(view),
        customer_allowed=view.customer_participant,
        initial={
            "recipient": view.default_choice,
            "last_message_id": last.mirakl_id if last else "",
        },
    )


def _canned_texts(incident: Incident, canned: list[CannedReply]) -> list[str]:
    return [canned_reply_render(canned=c, order=incident.order) for c in canned]


def _thread_entry(
    view: ThreadView, *, form: ReplyForm | None = None, confirm: list | None = None
) -> dict[str, Any]:
    return {
        "view": view,
        "form": form or (_reply_form(view) if view.thread is not None else None),
        "no_reply_form": NoReplyForm(prefix=f"{_prefix(view)}-noreply"),
        "confirm": confirm or [],
    }


def _reasons(incident: Incident) -> list[tuple[str, str]]:
    from incidents.selectors import order_reasons

    return order_reasons(connection_id=incident.connection_id, reason_type=MESSAGING_REASON_TYPE)


def conversation_context(
    request: HttpRequest,
    incident: Incident,
    *,
    overrides: dict[str, dict[str, Any]] | None = None,
    new_thread_form: NewThreadForm | None = None,
    new_thread_confirm: list | None = None,
    views: list[ThreadView] | None = None,
    reasons: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """What the messages panel needs: threads with their reply boxes, canned replies.

    ``views`` (the order's conversations) and ``reasons`` (ORDER_MESSAGING) when the
    page already read them."""
    overrides = overrides or {}
    if views is None:
        views = order_conversations(order_id=incident.order_id)
    canned = canned_replies_cached()
    return {
        "threads": [{**_thread_entry(view), **overrides.get(view.key, {})} for view in views],
        "thread_count": len(views),
        "new_thread_form": new_thread_form
        or NewThreadForm(
            prefix=NEW_THREAD_PREFIX, reasons=_reasons(incident) if reasons is None else reasons
        ),
        "new_thread_confirm": new_thread_confirm or [],
        "canned_replies": canned,
        "can_reply": request.user.has_perm("incidents.reply_incident"),
        "back_office_url": _back_office_url(incident),
    }


def _back_office_url(incident: Incident) -> str:
    """The order in the seller back office (where "no reply required" can be set)."""
    base = incident.connection.base_url.rstrip("/")
    return base + BACK_OFFICE_ORDER_PATH.format(order_id=incident.order.mirakl_id)


def _incident(pk: int) -> Incident:
    return get_object_or_404(Incident.objects.select_related("order", "connection"), pk=pk)


def _view_of(incident: Incident, thread_pk: int) -> ThreadView:
    for view in order_conversations(order_id=incident.order_id):
        if view.thread is not None and view.thread.pk == thread_pk:
            return view
    raise Http404(_("No such conversation on this order."))


def _page_url(incident: Incident, anchor: str = "") -> str:
    url = reverse("incidents:detail", args=[incident.pk])
    return f"{url}#{anchor}" if anchor else url


def _render_thread(
    request: HttpRequest, incident: Incident, entry: dict[str, Any], *, full_page_key: str
) -> HttpResponse:
    """The thread's fragment (htmx), or the whole page with this thread's form in place."""
    if _htmx_partial(request):
        context = {
            "incident": incident,
            "entry": entry,
            "can_reply": request.user.has_perm("incidents.reply_incident"),
            "canned_replies": canned_replies_cached(),
            "back_office_url": _back_office_url(incident),
            "oob_history": True,
            "history": _history(incident),
        }
        return render(request, "messaging/partials/_thread.html", context)
    from incidents.views import incident_page_context

    context = incident_page_context(
        request,
        _detail(incident),
        overrides={full_page_key: {k: v for k, v in entry.items() if k != "view"}},
    )
    return render(request, "incidents/incident_detail.html", context)


def _detail(incident: Incident) -> Incident:
    from incidents.selectors import incident_detail

    return incident_detail(pk=incident.pk)


def _history(incident: Incident) -> list:
    from incidents.selectors import incident_history

    return incident_history(incident=incident)


@require_POST
@permission_required("incidents.reply_incident", raise_exception=True)
def thread_reply(request: HttpRequest, incident_pk: int, thread_pk: int) -> HttpResponse:
    """Queue a reply (M12). Asks for confirmation when a new message arrived meanwhile
    or the operator is copied without need; a resubmitted form queues nothing twice."""
    incident = _incident(incident_pk)
    view = _view_of(incident, thread_pk)
    form = _reply_form(view, request.POST, request.FILES)
    confirm: list = []
    if form.is_valid():
        data = form.cleaned_data
        last = view.last_message
        last_inbound = view.last_inbound
        confirm = reply_confirmations(
            choice=data["recipient"],
            last_inbound_author=last_inbound.author_type if last_inbound else None,
            operator_involved=view.operator_involved,
            last_message_id=last.mirakl_id if last else None,
            seen_last_message_id=data.get("last_message_id"),
        )
        if not confirm or data["confirmed"]:
            try:
                outbound_reply_queue(
                    thread=view.thread,
                    body=data["body"],
                    choice=data["recipient"],
                    user=request.user,
                    idempotency_key=data["idempotency_key"],
                    attachments=data["attachments"],
                    incident=incident,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                if not _htmx_partial(request):
                    return redirect(_page_url(incident, f"thread-{view.key}"))
                return _render_thread(
                    request,
                    incident,
                    _thread_entry(_view_of(incident, thread_pk)),
                    full_page_key=view.key,
                )
        if confirm and not data["confirmed"]:
            # Show the warnings with "Send anyway"; the text stays as written.
            post = request.POST.copy()
            post[form.add_prefix("confirmed")] = "on"
            post[form.add_prefix("last_message_id")] = last.mirakl_id if last else ""
            form = _reply_form(view, post, None)
            form.is_valid()
            form.files_dropped = bool(data["attachments"])
    return _render_thread(
        request,
        incident,
        _thread_entry(view, form=form, confirm=confirm),
        full_page_key=view.key,
    )


@require_POST
@permission_required("incidents.reply_incident", raise_exception=True)
def new_thread(request: HttpRequest, incident_pk: int) -> HttpResponse:
    """Start a conversation on the order (OR43) with a recipient and a subject."""
    incident = _incident(incident_pk)
    form = NewThreadForm(
        request.POST, request.FILES, prefix=NEW_THREAD_PREFIX, reasons=_reasons(incident)
    )
    confirm: list = []
    if form.is_valid():
        data = form.cleaned_data
        confirm = reply_confirmations(
            choice=data["recipient"],
            last_inbound_author=None,
            operator_involved=False,
            last_message_id=None,
            seen_last_message_id=None,
        )
        if not confirm or data["confirmed"]:
            topic_type, topic_value = form.topic()
            try:
                outbound, _created = outbound_thread_queue(
                    order=incident.order,
                    topic_type=topic_type,
                    topic_value=topic_value,
                    body=data["body"],
                    choice=data["recipient"],
                    user=request.user,
                    idempotency_key=data["idempotency_key"],
                    attachments=data["attachments"],
                    incident=incident,
                )
            except ValidationError as exc:
                # The reasons changed since the form was read (a sync in between).
                form.add_error("reason" if data.get("reason") else "subject", exc)
                return _new_thread_form_response(request, incident, form, [])
            if not _htmx_partial(request):
                return redirect(_page_url(incident, "conversations"))
            views = [
                v
                for v in order_conversations(order_id=incident.order_id)
                if v.pending_outbound is not None and v.pending_outbound.pk == outbound.pk
            ]
            context = {
                "incident": incident,
                "new_thread_form": NewThreadForm(
                    prefix=NEW_THREAD_PREFIX, reasons=_reasons(incident)
                ),
                "created_entry": _thread_entry(views[0]) if views else None,
                "can_reply": True,
                "oob_history": True,
                "history": _history(incident),
            }
            return render(request, "messaging/partials/_new_thread_form.html", context)
        post = request.POST.copy()
        post[form.add_prefix("confirmed")] = "on"
        form = NewThreadForm(post, prefix=NEW_THREAD_PREFIX, reasons=_reasons(incident))
        form.is_valid()
        form.files_dropped = bool(data["attachments"])
    return _new_thread_form_response(request, incident, form, confirm)


def _new_thread_form_response(
    request: HttpRequest, incident: Incident, form: NewThreadForm, confirm: list
) -> HttpResponse:
    """The new-conversation form again, with its errors or warnings."""
    if _htmx_partial(request):
        return render(
            request,
            "messaging/partials/_new_thread_form.html",
            {"incident": incident, "new_thread_form": form, "new_thread_confirm": confirm},
        )
    from incidents.views import incident_page_context

    context = incident_page_context(
        request, _detail(incident), new_thread_form=form, new_thread_confirm=confirm
    )
    return render(request, "incidents/incident_detail.html", context)


@require_POST
@permission_required("incidents.reply_incident", raise_exception=True)
def thread_no_reply(request: HttpRequest, incident_pk: int, thread_pk: int) -> HttpResponse:
    """Mark the thread "no reply required", with who and why."""
    incident = _incident(incident_pk)
    view = _view_of(incident, thread_pk)
    form = NoReplyForm(request.POST, prefix=f"{_prefix(view)}-noreply")
    entry = _thread_entry(view)
    if form.is_valid():
        try:
            thread_no_reply_mark(
                thread=view.thread,
                user=request.user,
                reason=form.cleaned_data["reason"],
                incident=incident,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if not _htmx_partial(request):
                return redirect(_page_url(incident, f"thread-{view.key}"))
            entry = _thread_entry(_view_of(incident, thread_pk))
    if form.errors:
        entry["no_reply_form"] = form
        entry["no_reply_open"] = True
    return _render_thread(request, incident, entry, full_page_key=view.key)


@require_POST
@permission_required("incidents.reply_incident", raise_exception=True)
def outbound_retry(request: HttpRequest, incident_pk: int, outbound_pk: int) -> HttpResponse:
    """Send a failed message again (checking Mirakl first if it may have gone out)."""
    incident = _incident(incident_pk)
    outbound = get_object_or_404(OutboundMessage, pk=outbound_pk, order_id=incident.order_id)
    outbound_message_retry(outbound=outbound, user=request.user)
    if outbound.thread_id is not None and _htmx_partial(request):
        view = _view_of(incident, outbound.thread_id)
        return _render_thread(request, incident, _thread_entry(view), full_page_key=view.key)
    if _htmx_partial(request):
        return conversations_poll(request, incident_pk)
    return redirect(_page_url(incident, "conversations"))


@require_POST
@permission_required("incidents.reply_incident", raise_exception=True)
def reply_lint_view(request: HttpRequest, incident_pk: int) -> HttpResponse:
    """Live warnings of the linter for the text being written (never blocks)."""
    incident = _incident(incident_pk)
    body = next((v for k, v in request.POST.items() if k == "body" or k.endswith("-body")), "")
    warnings = reply_lint(
        body,
        withdrawal=is_withdrawal_reason(incident.reason_label),
        templates=_canned_texts(incident, list(canned_replies_active())),
    )
    if not body.strip():
        warnings = []
    return render(request, "messaging/partials/_lint.html", {"warnings": warnings})


@require_GET
@permission_required("incidents.reply_incident", raise_exception=True)
def canned_reply_fill(request: HttpRequest, incident_pk: int) -> HttpResponse:
    """The message box filled with a canned reply for this order, ready to edit."""
    incident = _incident(incident_pk)
    prefix = request.GET.get("prefix", "")
    if not (prefix == NEW_THREAD_PREFIX or prefix.startswith("thread-")):
        raise Http404
    canned_pk = query_int(request.GET, "canned")
    if canned_pk is None:
        raise Http404
    canned = get_object_or_404(CannedReply, pk=canned_pk, is_active=True)
    form = ReplyForm(
        prefix=prefix, initial={"body": canned_reply_render(canned=canned, order=incident.order)}
    )
    return render(
        request,
        "messaging/partials/_body_field.html",
        {"field": form["body"], "incident": incident},
    )


@require_GET
@permission_required("incidents.view_incident", raise_exception=True)
def conversations_poll(request: HttpRequest, incident_pk: int) -> HttpResponse:
    """Fresh messages, delivery states and who else is here, swapped out-of-band.

    The reply boxes are not re-rendered, so nothing being typed is lost. ``n`` is the
    number of threads the page shows: more now means a new conversation arrived.
    """
    incident = _detail(_incident(incident_pk))
    views = order_conversations(order_id=incident.order_id)
    shown = query_int(request.GET, "n", default=len(views), minimum=0)
    from incidents.views import presence_context

    context = {
        "incident": incident,
        "views": views,
        **presence_context(request, incident),
        "new_conversations": len(views) > shown,
        "can_reply": request.user.has_perm("incidents.reply_incident"),
        "back_office_url": _back_office_url(incident),
    }
    return render(request, "messaging/partials/_poll.html", context)


@require_GET
@permission_required("incidents.view_incident", raise_exception=True)
def attachment_download(request: HttpRequest, incident_pk: int, attachment_id: str) -> HttpResponse:
    """An attachment of one of the order's messages, fetched from Mirakl (M13).

    Only ids found on the order's messages are proxied, and the file is always sent as
    a download, never rendered by the browser (it comes from a customer).
    """
    from incidents.clients import client_for
    from incidents.selectors import incident_documents

    incident = _incident(incident_pk)
    documents = {d["id"]: d for d in incident_documents(order_id=incident.order_id)}
    document = documents.get(attachment_id)
    if document is None:
        raise Http404(_("No such attachment on this order."))
    try:
        with client_for(incident.connection) as client:
            file = client.download_attachment(attachment_id)
    except MiraklError as exc:
        return HttpResponse(
            _("Mirakl did not return the file: %(error)s") % {"error": exc.message},
            status=502,
            content_type="text/plain; charset=utf-8",
        )
    name = file.filename or document["name"]
    response = HttpResponse(file.content, content_type="application/octet-stream")
    response["Content-Disposition"] = content_disposition_header(True, name)
    response["X-Content-Type-Options"] = "nosniff"
    return response
