"""Template tags of the queue page (its rows are written by :mod:`desk.tables`)."""

from __future__ import annotations

from django import template

from core.freshness import inbox_filters_version as filters_version

__all__ = ["inbox_filters_version"]

register = template.Library()


@register.simple_tag
def inbox_filters_version() -> int:
    """The version of the inbox filter form's choices (:mod:`core.freshness`)."""
    return filters_version()
