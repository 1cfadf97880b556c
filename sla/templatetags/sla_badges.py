"""The badge of a reply's due time: its one markup, for the pages and the inbox rows."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince, timeuntil
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from sla.models import SlaItem

__all__ = ["sla_badge"]

register = template.Library()


@register.simple_tag
def sla_badge(due: datetime | None, state: str | None) -> SafeString:
    """How long is left before ``due`` (or how late it is), in the colour of ``state``
    (:class:`sla.models.SlaItem.State`); a dash when nothing is due. ``due`` and
    ``state`` are the SLA annotations of an incident or a thread (``sla_due_at``,
    ``sla_state``)."""
    if not due:
        return mark_safe('<span class="muted">—</span>')  # noqa: S308 - a constant
    if state == SlaItem.State.BREACHED:
        text = _("late by %(ago)s") % {"ago": timesince(due)}
    else:
        text = _("%(left)s left") % {"left": timeuntil(due)}
    return format_html(
        '<span class="badge {}" data-sla="{}" title="{}">{}</span>',
        SlaItem.State.badge_of(state),
        state,
        f"{localtime(due):%d/%m/%Y %H:%M}",
        text,
    )
