"""Template tags of the queue page (its rows are written by :mod:`desk.tables`)."""

from __future__ import annotations

from django import template

from desk.filtersets import filters_version

__all__ = ["inbox_filters_version"]

register = template.Library()


@register.simple_tag(takes_context=True)
def inbox_filters_version(context: template.Context) -> int:
    """The version of the inbox filter form's choices (:mod:`core.freshness`), read
    once per page (the filters and the bulk bar both key their cached HTML on it)."""
    return filters_version(context.get("request"))
