"""Template filters of the desk: money in EUR, parties, addresses, badges."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from django import template
from django.template.defaultfilters import filesizeformat, linebreaksbr
from django.urls import reverse
from django.utils.formats import localize, number_format
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince, timeuntil
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

__all__ = [
    "address_lines",
    "badge_class",
    "eur",
    "http_url",
    "inbox_cells",
    "inbox_filters_version",
    "party",
    "parties",
    "synced_message",
]

register = template.Library()

#: Badge colour (CSS class) of every incident, SLA and delivery state: one mapping.
BADGE_CLASSES: dict[str, str] = {
    "new": "new",
    "in_progress": "info",
    "contested": "bad",
    "resolved": "ok",
    "closed": "",
    "on_time": "ok",
    "nearing": "warn",
    "breached": "bad",
    "queued": "warn",
    "sending": "warn",
    "sent": "ok",
    "failed": "bad",
}


@register.filter
def http_url(value: Any) -> str:
    """``value`` when it is an http(s) URL with a host, else "": a link made from Mirakl
    data (a carrier's tracking URL) must never run ``javascript:`` or open ``data:``.

    Browsers drop tabs and line breaks inside a scheme (``java\tscript:``): a URL with
    any control character or space is refused whole rather than cleaned."""
    text = str(value or "")
    if not text or any(ch <= " " or ch == "\x7f" for ch in text):
        return ""
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return text


@register.filter
def eur(value: Any) -> str:
    """An amount in euros with exactly two decimals, formatted for the active language.

    Spanish: ``1\u00a0234,50\u00a0€`` (Django's locale groups thousands with a no-break
    space, as the RAE recommends); the sign never wraps away from the amount.
    """
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    number = number_format(amount, decimal_pos=2, use_l10n=True, force_grouping=True)
    return f"{number}\u00a0€"


@register.filter
def badge_class(state: str | None) -> str:
    """The CSS class of a state's badge."""
    return BADGE_CLASSES.get(state or "", "")


#: Party labels, translated when shown (one lookup per label, not three).
_PARTY_LABELS = {
    "CUSTOMER": gettext_noop("Customer"),
    "OPERATOR": gettext_noop("Operator"),
    "SHOP": gettext_noop("Shop"),
}


def _party_label(kind: str) -> str:
    msgid = _PARTY_LABELS.get(kind)
    return _(msgid) if msgid else kind.title()


@register.filter
def party(kind: str | None) -> str:
    """``CUSTOMER`` → "Customer" (translated)."""
    return _party_label(kind or "")


@register.filter
def parties(kinds: list[str] | None) -> str:
    """``["CUSTOMER", "OPERATOR"]`` → "Customer, Operator"."""
    return ", ".join(_party_label(k) for k in kinds or [])


@register.filter
def address_lines(address: dict[str, Any] | None) -> list[str]:
    """A Mirakl address as the lines of a postal address (missing parts left out)."""
    if not address:
        return []
    name = " ".join(p for p in (address.get("firstname"), address.get("lastname")) if p)
    city = " ".join(p for p in (address.get("zip_code"), address.get("city")) if p)
    lines = [
        address.get("company"),
        name,
        address.get("street_1"),
        address.get("street_2"),
        city,
        address.get("state"),
        address.get("country"),
        address.get("phone"),
    ]
    return [str(line) for line in lines if line]


@register.simple_tag
def inbox_cells(record: Any) -> str:
    """The nine cells of an inbox row, in ``IncidentTable.Meta.sequence`` order.

    The same HTML as the column templates (``desk/columns/``, the badges), built in
    Python: 25 rows × 9 cells of included templates were the inbox's biggest CPU cost.
    """
    opened = localtime(record.opened_at)
    assignee = getattr(getattr(record, "assignment", None), "assignee", None)
    unread = record.unread_count
    return format_html(
        '<td>{}</td><td><a href="{}" class="order-link">{}</a></td><td>{}</td><td>{}</td>'
        '<td><time datetime="{}">{}</time></td><td>{}</td><td>{}</td>'
        '<td class="num">{}</td><td>{}</td>',
        record.connection.name,
        reverse("desk:incident", args=[record.pk]),
        record.order.mirakl_id,
        record.order.customer_name,
        record.reason_label,
        opened.isoformat(),  # the date filter's "c"
        f"{opened:%d/%m/%Y %H:%M}",
        format_html(
            '<span class="badge {}" data-state="{}">{}</span>',
            badge_class(record.state),
            record.state,
            record.get_state_display(),
        ),
        _sla_badge(record.sla_due_at, record.sla_state),
        format_html('<span class="badge new" title="{0}">{0}</span>', localize(unread))
        if unread
        else mark_safe('<span class="muted">0</span>'),  # noqa: S308 - a constant
        (assignee.get_full_name() or assignee.username)
        if assignee
        else mark_safe('<span class="muted">—</span>'),  # noqa: S308 - a constant
    )


def _sla_badge(due: Any, state: str | None) -> str:
    """``incidents/partials/_sla_badge.html`` in Python."""
    if not due:
        return mark_safe('<span class="muted">—</span>')  # noqa: S308 - a constant
    if state == "breached":
        text = _("late by %(ago)s") % {"ago": timesince(due)}
    else:
        text = _("%(left)s left") % {"left": timeuntil(due)}
    return format_html(
        '<span class="badge {}" data-sla="{}" title="{}">{}</span>',
        badge_class(state),
        state,
        f"{localtime(due):%d/%m/%Y %H:%M}",
        text,
    )


@register.simple_tag
def inbox_filters_version() -> int:
    """The version of the inbox filter form's choices (:mod:`core.freshness`)."""
    from core.freshness import inbox_filters_version as version

    return version()


@register.simple_tag
def synced_message(item: Any, incident: Any) -> str:
    """A synced message of a conversation: what ``messaging/partials/_message.html``
    renders for an item without an outbox row, built in Python. A long conversation
    (hundreds of messages) spent most of the incident page's time including that
    template once per message; items from the outbox still go through the template.
    Every value is escaped here (``esc``), the markup is ours."""
    esc = conditional_escape
    message = item.message
    files = []
    for attachment in item.attachments or []:
        if not isinstance(attachment, dict):
            continue
        name = attachment.get("name") or ""
        if message is not None and attachment.get("id"):
            url = reverse("messaging:attachment", args=[incident.pk, attachment["id"]])
            link = f'<a href="{esc(url)}" download>{esc(name or attachment["id"])}</a>'
        else:
            link = esc(name)
        size = attachment.get("size")
        size_html = f' <span class="muted">({esc(filesizeformat(size))})</span>' if size else ""
        files.append(f"<li>{link}{size_html}</li>")
    at = localtime(item.at)
    author = item.author_type or ""
    data = f' data-message="{esc(message.mirakl_id)}"' if message is not None else ""
    name = f" · {esc(item.author_name)}" if item.author_name else ""
    recipients = ", ".join(_party_label(k) for k in item.recipients or []) or "—"
    files_html = f'  <ul class="msg-files">{"".join(files)}</ul>\n' if files else ""
    return mark_safe(  # noqa: S308 - every value above is escaped
        f'<div class="msg {esc(author.lower())}"{data}>\n'
        f'  <div class="msg-meta">\n    <strong>{esc(_party_label(author))}</strong>{name}\n'
        f"    → {esc(recipients)}\n"
        f'    · <time datetime="{at.isoformat()}">{at:%d/%m/%Y %H:%M}</time>\n  </div>\n'
        f'  <div class="msg-body">{linebreaksbr(item.body or "", autoescape=True)}</div>\n'
        f"{files_html}</div>"
    )
