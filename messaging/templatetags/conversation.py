"""A message of a conversation as HTML: the one place its markup is written.

Every message of every thread on the incident page goes through :func:`message_html`,
synced or still in the outbox. It is written in Python rather than as an included
template: on a conversation of 250 messages the template took about three times as
long (24 ms against 8 ms on this machine, a fifth of the whole page), and no
simpler template came close (``python -m bench.inbox_bench``, "incident: long
thread"). Every value is escaped here (``esc``); the markup is ours.

A conversation's synced messages do not change once drawn, and the page (and its poll
every 10 s) draws them again and again: :func:`conversation_messages` keeps their HTML
in the cache under a digest of everything it shows (the messages' content, who sent
the ones written here, the page, the language), so a new or changed message is a new
key and the HTML never outlives what it shows. Messages still in the outbox (their
state, Retry and its CSRF token) are drawn on every request.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django import template
from django.conf import settings
from django.core.cache import cache
from django.template.defaultfilters import filesizeformat, linebreaksbr
from django.template.loader import render_to_string
from django.utils.html import conditional_escape as esc
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import get_current_timezone_name, localtime
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from core.addresses import reverse_ids
from core.kept import Kept
from core.mirakl_codes import party_name
from messaging.models import OutboundMessage, Party
from messaging.selectors import ConversationItem, messages_complete

__all__ = [
    "MESSAGES_CACHE_SECONDS",
    "conversation_message",
    "conversation_messages",
    "documents_list",
    "message_html",
]

#: How long a conversation's drawn messages stay in the cache (its key changes with them).
MESSAGES_CACHE_SECONDS = 6 * 3600

register = template.Library()


def _party(kind: str) -> str:
    """``CUSTOMER`` → "Customer" (translated); a type Mirakl adds later, as sent."""
    member = Party._value2member_map_.get(kind)
    return str(member.label) if isinstance(member, Party) else kind.title()


def _page_action(name: str, incident: Any, order: Any, *args: Any) -> str:
    """An action's address under the page's incident, or else under its order."""
    if incident:
        return reverse_ids(f"messaging:{name}", incident.pk, *args)
    return reverse_ids(f"messaging:order_{name}", order.pk, *args)


def _files(item: ConversationItem, incident: Any, order: Any) -> str:
    files = []
    for attachment in item.attachments or []:
        if not isinstance(attachment, dict):
            continue  # Mirakl's payload is not trusted to hold objects only
        name = attachment.get("name") or ""
        if item.message is not None and attachment.get("id"):
            url = _page_action("attachment", incident, order, attachment["id"])
            link = f'<a href="{esc(url)}" download>{esc(name or attachment["id"])}</a>'
        else:
            link = esc(name)
        size = attachment.get("size")
        size_html = f' <span class="muted">({esc(filesizeformat(size))})</span>' if size else ""
        files.append(f"<li>{link}{size_html}</li>")
    return f'  <ul class="msg-files">{"".join(files)}</ul>\n' if files else ""


def _delivery_meta(item: ConversationItem, outbound: OutboundMessage) -> str:
    """After the date: the delivery state while in the outbox, else who sent it here."""
    if not item.pending:
        author = outbound.created_by
        who = (author.get_full_name() or author.username) if author is not None else ""
        sent_by = _("sent from Incidesk by %(who)s") % {"who": who}
        return f'    <span class="muted">{esc(sent_by)}</span>\n'
    if outbound.state == OutboundMessage.State.SENT:
        label = _("Sent, not synced yet")
    else:
        label = outbound.get_state_display()
    html = (
        f'    <span class="badge {outbound.get_state_badge()}"'
        f' data-delivery="{esc(outbound.state)}">{esc(label)}</span>\n'
    )
    delivery = outbound.delivery
    if delivery is not None and delivery.attempts > 1 and outbound.is_pending:
        attempt = _("attempt %(n)s") % {"n": delivery.attempts}
        html += f'    <span class="muted">{esc(attempt)}</span>\n'
    return html


def _delivery_after(
    item: ConversationItem,
    outbound: OutboundMessage,
    *,
    incident: Any,
    order: Any,
    can_reply: bool,
    csrf_token: Any,
) -> str:
    """Below the body of a message still in the outbox: why it is not sent, and Retry."""
    if not item.pending:
        return ""
    html = ""
    delivery = outbound.delivery
    if delivery is not None and outbound.state != OutboundMessage.State.SENT:
        if delivery.in_doubt:
            # The in-doubt block is the outbox's, shared with refunds and resolutions.
            html += render_to_string("core/partials/_in_doubt.html", {"delivery": delivery})
        elif delivery.last_error:
            html += (
                f'  <p class="delivery-error" data-error>{esc(_("Mirakl answered"))}: '
                f"{esc(delivery.last_error)}</p>\n"
            )
    if outbound.state == OutboundMessage.State.FAILED and can_reply:
        url = esc(_page_action("retry", incident, order, outbound.pk))
        if outbound.thread_id:
            target = f' hx-target="#thread-{outbound.thread_id}" hx-swap="outerHTML"'
        else:
            target = ' hx-swap="none"'
        csrf = ""
        if _draws_token(csrf_token):
            csrf = f'<input type="hidden" name="csrfmiddlewaretoken" value="{esc(csrf_token)}">'
        html += (
            f'  <form method="post" action="{url}" hx-post="{url}"{target}>\n'
            f'    {csrf}<button class="button small" type="submit">{esc(_("Retry"))}</button>\n'
            "  </form>\n"
        )
    return html


def message_html(
    item: ConversationItem,
    *,
    incident: Any,
    order: Any = None,
    can_reply: bool = False,
    csrf_token: Any = None,
) -> SafeString:
    """One message: who wrote it to whom and when, its text and files; for a message
    written here, its delivery (state, attempts, Mirakl's refusal, in doubt, Retry
    for an agent when it failed). Times in the desk's time zone."""
    message, outbound = item.message, item.outbound
    at = localtime(item.at)
    author = item.author_type or ""
    classes = f"msg {esc(author.lower())}" + (" pending" if item.pending else "")
    data = f' data-message="{esc(message.mirakl_id)}"' if message is not None else ""
    if outbound is not None:
        data += f' data-outbound="{outbound.pk}"'
    author_name = party_name(item.author_name)
    name = f" · {esc(author_name)}" if author_name else ""
    recipients = ", ".join(_party(k) for k in item.recipients or []) or "—"
    meta = _delivery_meta(item, outbound) if outbound is not None else ""
    after = (
        _delivery_after(
            item,
            outbound,
            incident=incident,
            order=order,
            can_reply=can_reply,
            csrf_token=csrf_token,
        )
        if outbound is not None
        else ""
    )
    return mark_safe(  # noqa: S308 - every value above is escaped
        f'<div class="{classes}"{data}>\n'
        f'  <div class="msg-meta">\n    <strong>{esc(_party(author))}</strong>{name}\n'
        f"    → {esc(recipients)}\n"
        f'    · <time datetime="{at.isoformat()}">{at:%d/%m/%Y %H:%M}</time>\n'
        f"{meta}  </div>\n"
        f'  <div class="msg-body">{linebreaksbr(item.body or "", autoescape=True)}</div>\n'
        f"{_files(item, incident, order)}{after}</div>\n"
    )


@register.simple_tag(takes_context=True)
def conversation_message(context: template.Context, item: ConversationItem) -> SafeString:
    """``{% conversation_message item %}``: :func:`message_html` with the page's
    ``incident`` (or ``order`` on the order page), ``can_reply`` and CSRF token."""
    return message_html(
        item,
        incident=context.get("incident"),
        order=context.get("order"),
        can_reply=bool(context.get("can_reply")),
        csrf_token=context.get("csrf_token"),
    )


def _cached(item: ConversationItem) -> bool:
    """A synced message: its HTML depends on nothing that changes without its content."""
    return item.message is not None


def _sender(outbound: OutboundMessage | None) -> str:
    """Who wrote a synced message here, as :func:`message_html` shows it."""
    if outbound is None:
        return ""
    author = outbound.created_by
    return f"{outbound.pk}:{(author.get_full_name() or author.username) if author else ''}"


def _signature(item: ConversationItem) -> tuple[Any, ...]:
    """Everything :func:`message_html` shows of a synced message (its ``repr`` goes into
    the cache key)."""
    message = item.message
    sender = _sender(item.outbound)
    return (
        message.pk if message is not None else None,
        message.mirakl_id if message is not None else None,
        item.at.isoformat(),
        item.author_type,
        item.author_name,
        item.recipients,
        item.body,
        item.attachments,
        sender,
    )


#: Conversations drawn by this process, by their cache key (a digest of what they show,
#: so never stale): a page seen again, or polled, finds them without asking Redis.
_DRAWN_HERE: dict[str, list[str]] = {}
#: Characters kept at most in ``_DRAWN_HERE`` (all forgotten at once past it).
DRAWN_HERE_CHARS = 8_000_000
_drawn_here_chars = 0


def _drawn_keep(key: str, drawn: list[str]) -> None:
    global _drawn_here_chars  # noqa: PLW0603 - this process's tally of _DRAWN_HERE
    size = sum(len(html) for html in drawn)
    if _drawn_here_chars + size > DRAWN_HERE_CHARS:
        _DRAWN_HERE.clear()
        _drawn_here_chars = 0
    _DRAWN_HERE[key] = drawn
    _drawn_here_chars += size


def messages_html(
    items: list[ConversationItem],
    *,
    incident: Any,
    order: Any = None,
    can_reply: bool = False,
    csrf_token: Any = None,
) -> SafeString:
    """:func:`message_html` of every item; the synced ones' HTML through the cache (and
    this process's copy of it)."""
    kept = [item for item in items if _cached(item)]
    drawn: list[str] | None = None
    key = ""
    if kept:
        digest = hashlib.blake2b(digest_size=20)
        page = f"i{incident.pk}" if incident else f"o{order.pk}"
        digest.update(f"{page}|{get_language()}|{get_current_timezone_name()}".encode())
        digests = [item.digest for item in kept]
        if all(digests):
            # Their rows as Postgres digested them when they were read, and who wrote
            # the ones sent from here: a long conversation keyed without going through
            # what each message shows.
            digest.update("".join(digests).encode())
            senders = [(n, _sender(item.outbound)) for n, item in enumerate(kept) if item.outbound]
            digest.update(repr(senders).encode())
            key = f"messaging:messages-html:v3:{digest.hexdigest()}"
        else:
            # One repr of them all: a conversation of 250 messages hashed in one go.
            messages_complete([item.message for item in kept if item.message is not None])
            digest.update(repr([_signature(item) for item in kept]).encode())
            key = f"messaging:messages-html:v2:{digest.hexdigest()}"
        drawn = _DRAWN_HERE.get(key)
        if drawn is None:
            drawn = cache.get(key)
            if drawn is not None and len(drawn) == len(kept):
                _drawn_keep(key, drawn)
        if drawn is not None and len(drawn) != len(kept):
            drawn = None
    if drawn is None:
        # Drawn anew: what they show, read in one query (the page read them without it).
        messages_complete([item.message for item in kept if item.message is not None])
        drawn = [str(message_html(item, incident=incident, order=order)) for item in kept]
        if kept:
            cache.set(key, drawn, MESSAGES_CACHE_SECONDS)
            _drawn_keep(key, drawn)
    if len(kept) == len(items):  # nothing from the outbox (most conversations)
        return mark_safe("".join(drawn))  # noqa: S308 - every part is message_html's
    parts = []
    synced = iter(drawn)
    for item in items:
        if _cached(item):
            parts.append(next(synced))
        else:
            parts.append(
                message_html(
                    item,
                    incident=incident,
                    order=order,
                    can_reply=can_reply,
                    csrf_token=csrf_token,
                )
            )
    return mark_safe("".join(parts))  # noqa: S308 - every part is message_html's


@register.simple_tag(takes_context=True)
def conversation_messages(context: template.Context, items: list[ConversationItem]) -> SafeString:
    """``{% conversation_messages view.items %}``: :func:`messages_html` with the page's
    ``incident`` (or ``order``), ``can_reply`` and CSRF token."""
    return messages_html(
        items,
        incident=context.get("incident"),
        order=context.get("order"),
        can_reply=bool(context.get("can_reply")),
        csrf_token=context.get("csrf_token"),
    )


#: The reply box's template: drawn by :func:`reply_box` when the form comes back with
#: errors or warnings to confirm; what it draws otherwise is written in Python below.
REPLY_FORM_TEMPLATE = "messaging/partials/_reply_form.html"


@register.simple_tag(takes_context=True)
def reply_box(context: template.Context, entry: dict[str, Any]) -> SafeString:
    """A thread's reply box: ``REPLY_FORM_TEMPLATE`` with ``entry``'s form and warnings.

    The box as the page first shows it (a fresh form, nothing to confirm) is written
    here, byte for byte what the template gives (``tests/messaging/test_reply_box.py``
    compares them): its two dozen tags cost the page about a millisecond per thread. A
    form sent back (its errors, the warnings to confirm) goes through the template.
    """
    form, confirm = entry["form"], entry.get("confirm")
    if confirm or form.is_bound:
        engine = context.template.engine if context.template else template.Engine.get_default()
        drawn = engine.get_template(REPLY_FORM_TEMPLATE)
        with context.push(form=form, confirm=confirm):
            return mark_safe(drawn.render(context))  # noqa: S308 - the template escaped it
    return _reply_box_html(context, entry["view"], form)


@dataclass(frozen=True, slots=True)
class _FreshFields:
    """What a reply form as first shown draws of its fields, escaped."""

    recipient_label: str
    recipient: str
    body: str
    body_id: str
    attachments_label: str
    attachments: str
    attachments_help: str
    last_message_id: str
    confirmed: str


#: Fields drawn, by everything that decides what they draw (:func:`_fresh_fields`).
_FRESH_FIELDS: Kept[tuple[Any, ...], _FreshFields] = Kept(1024)


def _fresh_fields(form: Any) -> _FreshFields:
    """The fields of a reply form not sent yet, drawn once for each thread (the form's
    prefix), recipients offered and chosen, last message and language: their widgets
    (the recipients' radio buttons and their help above all) cost a quarter of a
    millisecond per thread, and nothing else of the form changes what they draw. The
    idempotency key, new on every form, is drawn every time."""
    key = (
        type(form),
        form.prefix,
        form.auto_id,
        get_language(),
        tuple((value, str(label)) for value, label in form.fields["recipient"].choices),
        form.initial.get("recipient"),
        form.initial.get("last_message_id"),
        settings.UPLOAD_MAX_BYTES,
    )
    fields = _FRESH_FIELDS.get(key)
    if fields is None:
        recipient, body, attachments = form["recipient"], form["body"], form["attachments"]
        fields = _FreshFields(
            recipient_label=esc(recipient.label),
            recipient=esc(recipient),
            body=esc(body),
            body_id=esc(body.id_for_label),
            attachments_label=esc(attachments.label),
            attachments=esc(attachments),
            attachments_help=esc(attachments.help_text),
            last_message_id=esc(form["last_message_id"]),
            confirmed=esc(form["confirmed"]),
        )
        _FRESH_FIELDS.keep(key, fields)
    return fields


def _reply_box_html(context: template.Context, view: Any, form: Any) -> SafeString:
    from django.template.defaultfilters import date
    from django.utils.timezone import template_localtime  # type: ignore[attr-defined]

    from core.templatetags.incidesk import page_url, party

    key = esc(view.key)
    reply_url = esc(page_url(context, "messaging:reply", view.thread.pk))
    prefix = esc(form.prefix)
    fields = _fresh_fields(form)
    token = context.get("csrf_token")
    csrf = (
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{esc(token)}">'
        if token and token != "NOTPROVIDED"  # noqa: S105 - the csrf tag's marker, no secret
        else ""
    )
    owed = ""
    if view.owed_party:
        due = ""
        if view.owed_due_at:
            at = template_localtime(view.owed_due_at)
            due = (
                f' · {_("due on")} <time datetime="{esc(date(at, "c"))}">'
                f"{esc(date(at, 'd/m/Y H:i'))}</time>"
            )
        owed = (
            f'<p class="owed" data-owed="{esc(view.owed_party)}">{_("Reply owed to")}: '
            f"<strong>{esc(party(view.owed_party))}</strong>{due}</p>"
        )
    canned = ""
    replies = context.get("canned_replies")
    if replies:
        options = "".join(f'<option value="{esc(c.pk)}">{esc(c.title)}</option>' for c in replies)
        canned = (
            f'\n  <label class="canned">{_("Canned reply")}\n'
            f'    <select name="canned" hx-get="{esc(page_url(context, "messaging:canned"))}'
            f'?prefix={prefix}" hx-target="#{fields.body_id}" '
            f'hx-swap="outerHTML" hx-trigger="change">\n'
            f'      <option value="">{_("— insert a canned reply —")}</option>\n'
            f"      {options}\n"
            f"    </select>\n"
            f"  </label>\n  "
        )
    involved = " operator-involved" if view.operator_involved else ""
    lint_url = esc(page_url(context, "messaging:lint"))
    return mark_safe(  # noqa: S308 - every value above is escaped
        f'\n\n<form class="reply-box{involved}" method="post" enctype="multipart/form-data"\n'
        f'      action="{reply_url}"\n'
        f'      hx-post="{reply_url}" hx-encoding="multipart/form-data"\n'
        f'      hx-target="#thread-{key}" hx-swap="outerHTML">\n'
        f"  {csrf}\n"
        f"  {owed}\n"
        f"  \n"
        f"  \n"
        f'  <fieldset class="recipients"><legend>{fields.recipient_label}</legend>'
        f"{fields.recipient}</fieldset>\n"
        f'  <p class="warn-operator">'
        f"{_('Copying the operator: do it only when it is needed (operators ask shops not to copy them).')}"  # noqa: E501
        f"</p>\n"
        f"  {canned}\n"
        f'  <div class="body-field" hx-post="{lint_url}" hx-trigger="input delay:600ms" '
        f'hx-params="{prefix}-body" hx-target="#lint-{key}" hx-swap="innerHTML">\n'
        f"    {fields.body}\n"
        f"  </div>\n"
        f"  {esc(form['body'].errors)}\n"
        f'  <div class="lint" id="lint-{key}" aria-live="polite"></div>\n'
        f'  <label class="files">{fields.attachments_label} {fields.attachments}</label>\n'
        f'  <span class="muted">{fields.attachments_help}</span>\n'
        f"  {esc(form['attachments'].errors)}\n"
        f"  {esc(form['idempotency_key'])}{fields.last_message_id}{fields.confirmed}\n"
        f'  <p><button class="button" type="submit">{_("Send")}</button></p>\n'
        f"</form>\n\n"
    )


#: The box that starts a conversation: :func:`new_thread_box` draws it.
NEW_THREAD_TEMPLATE = "messaging/partials/_new_thread_form.html"

#: Put in the places of the request's CSRF token and the form's idempotency key while
#: the box is drawn once; each is checked to be found where expected, and only there.
_CSRF_STAND_IN = "csrf0new0thread0stand0in"
_KEY_STAND_IN = "key0new0thread0stand0in"


def _draws_token(token: Any) -> bool:
    """Whether ``{% csrf_token %}`` draws this token ("NOTPROVIDED" is its marker of none)."""
    return bool(token) and token != "NOTPROVIDED"  # noqa: S105 - the csrf tag's marker


def _token_placed(drawn: str, token: Any) -> str:
    """A box drawn once with :data:`_CSRF_STAND_IN`, with this request's token in its place."""
    return drawn.replace(_CSRF_STAND_IN, esc(str(token))) if _draws_token(token) else drawn


#: Boxes drawn, by everything that decides what they draw (:func:`new_thread_box`).
_NEW_THREAD_DRAWN: Kept[tuple[Any, ...], str] = Kept(256)


@register.simple_tag(takes_context=True)
def new_thread_box(context: template.Context) -> SafeString:
    """``{% include NEW_THREAD_TEMPLATE %}``: the same HTML.

    The box as the page first shows it (a form not sent, nothing to confirm, nothing
    just created) is the template drawn once for each page address, list of subjects
    and language, with this request's CSRF token and the form's idempotency key put in
    their places: its form's seven fields cost every order and incident page most of a
    millisecond. Anything else goes through the template.
    """
    engine = context.template.engine if context.template else template.Engine.get_default()
    box = engine.get_template(NEW_THREAD_TEMPLATE)
    form = context.get("new_thread_form")
    if (
        form is None
        or form.is_bound
        or context.get("new_thread_confirm")
        or context.get("created_entry")
        or context.get("oob_history")
    ):
        with context.push():
            return mark_safe(box.render(context))  # noqa: S308 - the template escaped it
    from core.templatetags.incidesk import page_url

    token = context.get("csrf_token")
    has_token = _draws_token(token)
    idempotency_key = str(form["idempotency_key"].value())
    key = (
        get_language(),
        get_current_timezone_name(),
        page_url(context, "messaging:new_thread"),
        type(form),
        form.prefix,
        form.auto_id,
        tuple((value, str(label)) for value, label in form.fields["reason"].choices),
        tuple((value, str(label)) for value, label in form.fields["recipient"].choices),
        form.fields["recipient"].initial,
        tuple((name, value) for name, value in form.initial.items() if name != "idempotency_key"),
        settings.UPLOAD_MAX_BYTES,
        has_token,
    )
    drawn = _NEW_THREAD_DRAWN.get(key)
    if drawn is None:
        with context.push(csrf_token=_CSRF_STAND_IN if has_token else token):
            html = box.render(context)
        if (
            html.count(idempotency_key) != 1
            or html.count(_CSRF_STAND_IN) != int(has_token)
            or _KEY_STAND_IN in html
        ):  # a stand-in in the text itself (a subject's label): drawn as it is
            with context.push():
                return mark_safe(box.render(context))  # noqa: S308 - the template escaped it
        drawn = html.replace(idempotency_key, _KEY_STAND_IN)
        _NEW_THREAD_DRAWN.keep(key, drawn)
    shown = drawn.replace(_KEY_STAND_IN, esc(idempotency_key))
    return mark_safe(_token_placed(shown, token))  # noqa: S308 - the template escaped it; the token and key too


#: A thread's "no reply required" box: :func:`no_reply_box` draws it.
NO_REPLY_TEMPLATE = "messaging/partials/_no_reply.html"

#: Boxes drawn, by everything that decides what they draw (:func:`no_reply_box`).
_NO_REPLY_DRAWN: Kept[tuple[Any, ...], str] = Kept(1024)


@register.simple_tag(takes_context=True)
def no_reply_box(context: template.Context, entry: dict[str, Any]) -> SafeString:
    """``NO_REPLY_TEMPLATE`` for the thread of ``entry`` (its ``view``, in the context).

    As the page first shows it (a form not sent, closed, nothing to confirm), it is the
    template drawn once for each thread, page address and language, with this request's
    CSRF token put in its place. Anything else goes through the template.
    """
    engine = context.template.engine if context.template else template.Engine.get_default()
    box = engine.get_template(NO_REPLY_TEMPLATE)
    form = entry.get("no_reply_form")
    if form is None or form.is_bound or entry.get("no_reply_confirm") or entry.get("no_reply_open"):
        with context.push():
            return mark_safe(box.render(context))  # noqa: S308 - the template escaped it
    from core.templatetags.incidesk import page_url

    view = entry["view"]
    token = context.get("csrf_token")
    has_token = _draws_token(token)
    key = (
        get_language(),
        page_url(context, "messaging:no_reply", view.thread.pk),
        view.key,
        type(form),
        form.prefix,
        form.auto_id,
        tuple(form.initial.items()),
        has_token,
    )
    drawn = _NO_REPLY_DRAWN.get(key)
    if drawn is None:
        with context.push(csrf_token=_CSRF_STAND_IN if has_token else token):
            drawn = box.render(context)
        if drawn.count(_CSRF_STAND_IN) != int(has_token):
            with context.push():
                return mark_safe(box.render(context))  # noqa: S308 - the template escaped it
        _NO_REPLY_DRAWN.keep(key, drawn)
    return mark_safe(_token_placed(drawn, token))  # noqa: S308 - the template escaped it, and the token here


@register.simple_tag(takes_context=True)
def documents_list(context: template.Context) -> SafeString:
    """The page's ``documents`` (:func:`messaging.selectors.incident_documents`): each
    file's download link, who sent it, when and its size, or that there is none.

    Written here rather than as a loop of the panel's template: a long conversation's
    files (dozens) cost that loop most of a millisecond. The same HTML
    (``tests/messaging/test_message_html.py`` compares them).
    """
    from django.template.defaultfilters import date
    from django.utils.timezone import template_localtime  # type: ignore[attr-defined]

    from core.templatetags.incidesk import page_url, party

    documents = context.get("documents") or []
    if not documents:
        # Not escaped, as {% translate %} leaves a text of the template (ours).
        none = _("No attachment on this order's messages.")
        return mark_safe(f'<p class="muted">{none}</p>')  # noqa: S308 - our own text
    rows = []
    for doc in documents:
        url = page_url(context, "messaging:attachment", doc["id"])
        size = f" · {esc(filesizeformat(doc['size']))}" if doc.get("size") else ""
        rows.append(
            f'\n    <div class="stat"><a href="{esc(url)}" download>{esc(doc["name"])}</a>\n'
            f'      <span class="muted">{esc(party(doc["author_type"]))} · '
            f"{esc(date(template_localtime(doc['at']), 'd/m/Y'))}{size}</span></div>\n  "
        )
    return mark_safe("".join(rows))  # noqa: S308 - every value above is escaped
