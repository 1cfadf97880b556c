"""An incident's history in words: Mirakl's codes a stored audit entry may carry
(parties, line states, reason codes) shown as their labels."""

from __future__ import annotations

from typing import Any

from django import template

from incidents.audit import history_text

__all__ = ["history_detail"]

register = template.Library()


@register.simple_tag(takes_context=True)
def history_detail(context: Any, entry: Any) -> str:
    """The detail of a history entry, for the incident or order the page is about."""
    subject = context.get("incident") or context.get("order")
    connection_id = getattr(subject, "connection_id", None)
    return history_text(getattr(entry, "detail", ""), connection_id)
