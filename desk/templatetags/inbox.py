"""The queue's rows, written straight from their records."""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.formats import localize
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from core.freshness import inbox_filters_version as filters_version
from incidents.templatetags.incident_badges import state_badge
from messaging.models import Party
from sla.models import QueueEntry
from sla.templatetags.sla_badges import sla_badge

__all__ = ["inbox_filters_version", "queue_cells"]

register = template.Library()


_DASH = mark_safe('<span class="muted">—</span>')  # noqa: S308 - a constant


@register.simple_tag
def queue_cells(record: QueueEntry) -> SafeString:
    """The cells of a queue row (first the box that selects it for a bulk action), in
    ``QueueTable.Meta.sequence`` order.

    Built in Python, the badges by the same functions as on the incident page: 25 rows
    of 10 cells through django-tables2 or an included template per cell were the
    queue's biggest CPU cost.
    """
    opened = localtime(record.opened_at)
    incident = record.incident
    assignee = getattr(getattr(incident, "assignment", None), "assignee", None)
    if incident is not None:
        url = reverse("desk:incident", args=[incident.pk])
    else:
        url = reverse("desk:order", args=[record.order_id]) + f"#thread-{record.thread_id}"
    preview = (
        format_html(
            '<br><span class="preview muted" data-preview title="{}">{}: {}</span>',
            record.last_inbound_preview,
            _party(record.last_inbound_author),
            record.last_inbound_preview,
        )
        if record.last_inbound_preview
        else ""
    )
    unread = getattr(record, "unread_count", 0)
    return format_html(
        '<td class="select"><input type="checkbox" name="rows" value="{}" form="bulk-form"'
        ' data-bulk-row aria-label="{}"></td>'
        '<td><span class="badge {}" data-kind="{}">{}</span></td><td>{}</td>'
        '<td><a href="{}" class="order-link">{}</a><br><span class="muted">{}</span></td>'
        '<td class="reason">{}{}</td>'
        '<td><time datetime="{}">{}</time></td><td>{}</td><td data-owed="{}">{}</td><td>{}</td>'
        '<td class="num">{}{}</td><td>{}</td>',
        f"incident:{record.incident_id}" if incident is not None else f"thread:{record.thread_id}",
        _("Select order %(order)s") % {"order": record.order_number},
        "info" if incident is not None else "neutral",
        record.kind,
        record.get_kind_display(),
        record.connection.name,
        url,
        record.order_number,
        record.order.customer_name,
        record.reason_label or _DASH,
        preview,
        opened.isoformat(),
        f"{opened:%d/%m/%Y %H:%M}",
        state_badge(incident) if incident is not None else _DASH,
        record.owed_to,
        record.get_owed_to_display() if record.owed_to else _DASH,
        sla_badge(record.due_at, record.sla_state()),
        localize(record.message_count),
        format_html(' <span class="badge new" title="{0}">{0}</span>', localize(unread))
        if unread
        else "",
        (assignee.get_full_name() or assignee.username) if assignee else _DASH,
    )


def _party(author: str) -> str:
    """``CUSTOMER`` → "Customer", translated."""
    member = Party._value2member_map_.get(author)
    return str(member.label) if isinstance(member, Party) else author.title()


@register.simple_tag
def inbox_filters_version() -> int:
    """The version of the inbox filter form's choices (:mod:`core.freshness`)."""
    return filters_version()
