"""The inbox's rows, written straight from their records."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.formats import localize
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from core.freshness import inbox_filters_version as filters_version
from incidents.templatetags.incident_badges import state_badge
from sla.templatetags.sla_badges import sla_badge

__all__ = ["inbox_cells", "inbox_filters_version"]

register = template.Library()


@register.simple_tag
def inbox_cells(record: Any) -> SafeString:
    """The ten cells of an inbox row (first the box that selects it for a bulk action),
    in ``IncidentTable.Meta.sequence`` order.

    Built in Python, the badges by the same functions as on the incident page: 25 rows
    of 9 cells through django-tables2 or an included template per cell were the
    inbox's biggest CPU cost.
    """
    opened = localtime(record.opened_at)
    assignee = getattr(getattr(record, "assignment", None), "assignee", None)
    unread = record.unread_count
    return format_html(
        '<td class="select"><input type="checkbox" name="rows" value="incident:{}" form="bulk-form"'
        ' data-bulk-row aria-label="{}"></td>'
        '<td>{}</td><td><a href="{}" class="order-link">{}</a></td><td>{}</td><td>{}</td>'
        '<td><time datetime="{}">{}</time></td><td>{}</td><td>{}</td>'
        '<td class="num">{}</td><td>{}</td>',
        record.pk,
        _("Select order %(order)s") % {"order": record.order.mirakl_id},
        record.connection.name,
        reverse("desk:incident", args=[record.pk]),
        record.order.mirakl_id,
        record.order.customer_name,
        record.reason_label,
        opened.isoformat(),
        f"{opened:%d/%m/%Y %H:%M}",
        state_badge(record),
        sla_badge(record.sla_due_at, record.sla_state),
        format_html('<span class="badge new" title="{0}">{0}</span>', localize(unread))
        if unread
        else mark_safe('<span class="muted">0</span>'),  # noqa: S308 - a constant
        (assignee.get_full_name() or assignee.username)
        if assignee
        else mark_safe('<span class="muted">—</span>'),  # noqa: S308 - a constant
    )


@register.simple_tag
def inbox_filters_version() -> int:
    """The version of the inbox filter form's choices (:mod:`core.freshness`)."""
    return filters_version()
