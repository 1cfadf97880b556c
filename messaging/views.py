"""The conversations of the order and incident pages: reply, start a thread, no reply,
retry, poll.

Each POST validates a form, calls one service and answers with the fragment it
changed (htmx) or a redirect back to the page it came from (plain form post). Each is
reachable under ``/incidents/<pk>/`` and ``/orders/<pk>/`` (:mod:`incidents.subject`).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.clients import client_for
from core.htmx import htmx_partial
from core.pages import page_render
from core.params import query_int
from core.presence import presence_context
from incidents.selectors import incident_detail
from incidents.subject import PageSubject, page_subject
from messaging.forms import NewThreadForm, NoReplyForm, ReplyForm
from messaging.linter import is_withdrawal_reason, reply_confirmations, reply_lint
from messaging.models import CannedReply, OutboundMessage
from messaging.panels import (
    NEW_THREAD_PREFIX,
    back_office_url,
    new_thread_reasons,
    reply_form,
    thread_entry,
    thread_prefix,
)
from messaging.selectors import (
    ThreadView,
    canned_replies_active,
    canned_replies_cached,
    incident_documents,
    order_conversations,
)
from messaging.services import (
    NoReplyNeedsConfirmation,
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
    "conversations_poll",
    "new_thread",
    "outbound_retry",
    "reply_lint_view",
    "thread_no_reply",
    "thread_reply",
]


def _canned_texts(subject: PageSubject, canned: list[CannedReply]) -> list[str]:
    return [canned_reply_render(canned=c, order=subject.order) for c in canned]


def _subject(incident_pk: int | None, order_pk: int | None, user: Any) -> PageSubject:
    """The page's order (and incident): 404 when not there or not in a marketplace
    ``user`` sees."""
    return page_subject(incident_pk=incident_pk, order_pk=order_pk, user=user)


def _view_of(subject: PageSubject, thread_pk: int) -> ThreadView:
    for view in order_conversations(order_id=subject.order.pk):
        if view.thread is not None and view.thread.pk == thread_pk:
            return view
    raise Http404(_("No such conversation on this order."))


def _render_thread(
    request: HttpRequest, subject: PageSubject, entry: dict[str, Any], *, full_page_key: str
) -> HttpResponse:
    """The thread's fragment (htmx), or the whole page with this thread's form in place."""
    if htmx_partial(request):
        context = {
            **_page_keys(subject),
            "entry": entry,
            "can_reply": request.user.has_perm("incidents.reply_incident"),
            "canned_replies": canned_replies_cached(),
            "back_office_url": back_office_url(subject.order),
            "oob_history": True,
            "history": subject.history(),
        }
        return render(request, "messaging/partials/_thread.html", context)
    return _page(
        request,
        subject,
        overrides={full_page_key: {k: v for k, v in entry.items() if k != "view"}},
    )


def _page_keys(subject: PageSubject) -> dict[str, Any]:
    """What the panels' templates read to address the page (``page_url``)."""
    return {"incident": subject.incident, "order": subject.order}


def _page(request: HttpRequest, subject: PageSubject, **kwargs: Any) -> HttpResponse:
    """The whole page the form was posted from, with what the caller puts in place."""
    if subject.incident is not None:
        return page_render("incident", request, incident_detail(pk=subject.incident.pk), **kwargs)
    return page_render("order", request, subject.order, **kwargs)


@require_POST
@permission_required("incidents.reply_incident", raise_exception=True)
def thread_reply(
    request: HttpRequest,
    thread_pk: int,
    incident_pk: int | None = None,
    order_pk: int | None = None,
) -> HttpResponse:
    """Queue a reply (M12). Asks for confirmation when a new message arrived meanwhile
    or the operator is copied without need; a resubmitted form queues nothing twice."""
    subject = _subject(incident_pk, order_pk, request.user)
    view = _view_of(subject, thread_pk)
    form = reply_form(view, request.POST, request.FILES)
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
                    incident=subject.incident,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                if not htmx_partial(request):
                    return redirect(subject.url(f"thread-{view.key}"))
                return _render_thread(
                    request,
                    subject,
                    thread_entry(_view_of(subject, thread_pk)),
                    full_page_key=view.key,
                )
        if confirm and not data["confirmed"]:
            # Show the warnings with "Send anyway"; the text stays as written.
            post = request.POST.copy()
            post[form.add_prefix("confirmed")] = "on"
            post[form.add_prefix("last_message_id")] = last.mirakl_id if last else ""
            form = reply_form(view, post, None)
            form.is_valid()
            form.files_dropped = bool(data["attachments"])
    return _render_thread(
        request,
        subject,
        thread_entry(view, form=form, confirm=confirm),
        full_page_key=view.key,
    )


@require_POST
@permission_required("incidents.reply_incident", raise_exception=True)
def new_thread(
    request: HttpRequest, incident_pk: int | None = None, order_pk: int | None = None
) -> HttpResponse:
    """Start a conversation on the order (OR43) with a recipient and a subject."""
    subject = _subject(incident_pk, order_pk, request.user)
    form = NewThreadForm(
        request.POST,
        request.FILES,
        prefix=NEW_THREAD_PREFIX,
        reasons=new_thread_reasons(subject.order),
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
                    order=subject.order,
                    topic_type=topic_type,
                    topic_value=topic_value,
                    body=data["body"],
                    choice=data["recipient"],
                    user=request.user,
                    idempotency_key=data["idempotency_key"],
                    attachments=data["attachments"],
                    incident=subject.incident,
                )
            except ValidationError as exc:
                # The reasons changed since the form was read (a sync in between).
                form.add_error("reason" if data.get("reason") else "subject", exc)
                return _new_thread_form_response(request, subject, form, [])
            if not htmx_partial(request):
                return redirect(subject.url("conversations"))
            views = [
                v
                for v in order_conversations(order_id=subject.order.pk)
                if v.pending_outbound is not None and v.pending_outbound.pk == outbound.pk
            ]
            context = {
                **_page_keys(subject),
                "new_thread_form": NewThreadForm(
                    prefix=NEW_THREAD_PREFIX, reasons=new_thread_reasons(subject.order)
                ),
                "created_entry": thread_entry(views[0]) if views else None,
                "can_reply": True,
                "oob_history": True,
                "history": subject.history(),
            }
            return render(request, "messaging/partials/_new_thread_form.html", context)
        post = request.POST.copy()
        post[form.add_prefix("confirmed")] = "on"
        form = NewThreadForm(
            post, prefix=NEW_THREAD_PREFIX, reasons=new_thread_reasons(subject.order)
        )
        form.is_valid()
        form.files_dropped = bool(data["attachments"])
    return _new_thread_form_response(request, subject, form, confirm)


def _new_thread_form_response(
    request: HttpRequest, subject: PageSubject, form: NewThreadForm, confirm: list
) -> HttpResponse:
    """The new-conversation form again, with its errors or warnings."""
    if htmx_partial(request):
        return render(
            request,
            "messaging/partials/_new_thread_form.html",
            {**_page_keys(subject), "new_thread_form": form, "new_thread_confirm": confirm},
        )
    return _page(request, subject, new_thread_form=form, new_thread_confirm=confirm)


@require_POST
@permission_required("incidents.reply_incident", raise_exception=True)
def thread_no_reply(
    request: HttpRequest,
    thread_pk: int,
    incident_pk: int | None = None,
    order_pk: int | None = None,
) -> HttpResponse:
    """Mark the thread "no reply required", with who and why."""
    subject = _subject(incident_pk, order_pk, request.user)
    view = _view_of(subject, thread_pk)
    form = NoReplyForm(request.POST, prefix=f"{thread_prefix(view)}-noreply")
    entry = thread_entry(view)
    if form.is_valid():
        try:
            thread_no_reply_mark(
                thread=view.thread,
                user=request.user,
                reason=form.cleaned_data["reason"],
                incident=subject.incident,
                confirmed=form.cleaned_data["confirmed"],
            )
        except NoReplyNeedsConfirmation as exc:
            # Rule N1: say why, and offer "Mark anyway" with the reason as typed.
            post = request.POST.copy()
            post[form.add_prefix("confirmed")] = "on"
            form = NoReplyForm(post, prefix=form.prefix)
            form.is_valid()
            entry["no_reply_confirm"] = exc.messages
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if not htmx_partial(request):
                return redirect(subject.url(f"thread-{view.key}"))
            entry = thread_entry(_view_of(subject, thread_pk))
    if form.errors or entry.get("no_reply_confirm"):
        entry["no_reply_form"] = form
        entry["no_reply_open"] = True
    return _render_thread(request, subject, entry, full_page_key=view.key)


@require_POST
@permission_required("incidents.reply_incident", raise_exception=True)
def outbound_retry(
    request: HttpRequest,
    outbound_pk: int,
    incident_pk: int | None = None,
    order_pk: int | None = None,
) -> HttpResponse:
    """Send a failed message again (checking Mirakl first if it may have gone out)."""
    subject = _subject(incident_pk, order_pk, request.user)
    outbound = get_object_or_404(OutboundMessage, pk=outbound_pk, order_id=subject.order.pk)
    outbound_message_retry(outbound=outbound, user=request.user)
    if outbound.thread_id is not None and htmx_partial(request):
        view = _view_of(subject, outbound.thread_id)
        return _render_thread(request, subject, thread_entry(view), full_page_key=view.key)
    if htmx_partial(request):
        return conversations_poll(request, incident_pk, order_pk)
    return redirect(subject.url("conversations"))


@require_POST
@permission_required("incidents.reply_incident", raise_exception=True)
def reply_lint_view(
    request: HttpRequest, incident_pk: int | None = None, order_pk: int | None = None
) -> HttpResponse:
    """Live warnings of the linter for the text being written (never blocks)."""
    subject = _subject(incident_pk, order_pk, request.user)
    body = next((v for k, v in request.POST.items() if k == "body" or k.endswith("-body")), "")
    warnings = reply_lint(
        body,
        withdrawal=is_withdrawal_reason(subject.reason_label),
        templates=_canned_texts(subject, list(canned_replies_active())),
    )
    if not body.strip():
        warnings = []
    return render(request, "messaging/partials/_lint.html", {"warnings": warnings})


@require_GET
@permission_required("incidents.reply_incident", raise_exception=True)
def canned_reply_fill(
    request: HttpRequest, incident_pk: int | None = None, order_pk: int | None = None
) -> HttpResponse:
    """The message box filled with a canned reply for this order, ready to edit."""
    subject = _subject(incident_pk, order_pk, request.user)
    prefix = request.GET.get("prefix", "")
    if not (prefix == NEW_THREAD_PREFIX or prefix.startswith("thread-")):
        raise Http404
    canned_pk = query_int(request.GET, "canned")
    if canned_pk is None:
        raise Http404
    canned = get_object_or_404(CannedReply, pk=canned_pk, is_active=True)
    form = ReplyForm(
        prefix=prefix, initial={"body": canned_reply_render(canned=canned, order=subject.order)}
    )
    return render(
        request,
        "messaging/partials/_body_field.html",
        {"field": form["body"], **_page_keys(subject)},
    )


@require_GET
@permission_required("incidents.view_incident", raise_exception=True)
def conversations_poll(
    request: HttpRequest, incident_pk: int | None = None, order_pk: int | None = None
) -> HttpResponse:
    """Fresh messages, delivery states and who else is here, swapped out-of-band.

    The reply boxes are not re-rendered, so nothing being typed is lost. ``n`` is the
    number of threads the page shows: more now means a new conversation arrived.
    """
    subject = _subject(incident_pk, order_pk, request.user)
    views = order_conversations(order_id=subject.order.pk)
    shown = query_int(request.GET, "n", default=len(views), minimum=0)
    context = {
        **_page_keys(subject),
        "views": views,
        "new_conversations": len(views) > shown,
        "can_reply": request.user.has_perm("incidents.reply_incident"),
        "back_office_url": back_office_url(subject.order),
    }
    if subject.incident is not None:
        context["incident"] = incident_detail(pk=subject.incident.pk)
        context.update(presence_context(request, subject.incident))
    return render(request, "messaging/partials/_poll.html", context)


@require_GET
@permission_required("incidents.view_incident", raise_exception=True)
def attachment_download(
    request: HttpRequest,
    attachment_id: str,
    incident_pk: int | None = None,
    order_pk: int | None = None,
) -> HttpResponse:
    """An attachment of one of the order's messages, fetched from Mirakl (M13).

    Only ids found on the order's messages are proxied, and the file is always sent as
    a download, never rendered by the browser (it comes from a customer).
    """
    subject = _subject(incident_pk, order_pk, request.user)
    documents = {d["id"]: d for d in incident_documents(order_id=subject.order.pk)}
    document = documents.get(attachment_id)
    if document is None:
        raise Http404(_("No such attachment on this order."))
    try:
        with client_for(subject.connection) as client:
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
