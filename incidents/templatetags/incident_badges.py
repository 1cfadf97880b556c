"""The badge of an incident's state: its one markup, for the pages and the inbox rows."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from incidents.models import Incident

__all__ = ["state_badge"]

register = template.Library()


@register.simple_tag
def state_badge(incident: Incident, label: str | None = None) -> SafeString:
    """``<span class="badge …" data-state="…">``, in the state's colour
    (:class:`incidents.models.Incident.State`); ``label`` replaces the state's name."""
    return format_html(
        '<span class="badge {}" data-state="{}">{}</span>',
        incident.get_state_badge(),
        incident.state,
        label or incident.get_state_display(),
    )
