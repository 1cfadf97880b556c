"""The badge of an incident's state: its one markup, for the pages and the inbox rows."""

from __future__ import annotations

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from incidents.models import Incident

__all__ = ["state_badge"]

register = template.Library()


@register.simple_tag
def state_badge(incident: Incident, label: str | None = None) -> SafeString:
    """``<span class="badge …" data-state="…">``, in the state's colour
    (:class:`incidents.models.Incident.State`); ``label`` replaces the state's name.

    An incident awaiting close also says when the operator should close it ("cierre
    previsto el …"), and why it is back in the queue when it is (the watch after
    resolving, :class:`incidents.models.Incident.Watch`).
    """
    badge = format_html(
        '<span class="badge {}" data-state="{}">{}</span>',
        incident.get_state_badge(),
        incident.state,
        label or incident.get_state_display(),
    )
    extra = []
    if incident.state == Incident.State.RESOLVED and incident.close_expected_at is not None:
        extra.append(
            (
                "muted",
                "close-expected",
                _("expected close on %(date)s")
                % {"date": f"{localtime(incident.close_expected_at):%d/%m/%Y}"},
            )
        )
    if incident.watch and incident.closed_at is None:
        extra.append(
            (f"badge {incident.get_watch_badge()}", incident.watch, incident.get_watch_display())
        )
    if not extra:
        return badge
    return format_html(
        "{} {}",
        badge,
        format_html_join(" ", '<span class="{}" data-watch="{}">{}</span>', extra),
    )
