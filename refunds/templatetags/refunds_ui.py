"""The incident page's refunds panel as a template tag, so the page only includes it."""

from __future__ import annotations

from typing import Any

from django import template

__all__ = ["refunds_panel"]

register = template.Library()


@register.inclusion_tag("refunds/partials/_refunds.html", takes_context=True)
def refunds_panel(context: template.Context, incident: Any) -> dict[str, Any]:
    """``{% refunds_panel incident %}``: the refunds of the incident's order."""
    from refunds.views import panel_context

    return panel_context(context["request"], incident)
