"""The one htmx helper of the pages (NetBox's ``utilities/htmx.py``)."""

from __future__ import annotations

from django.http import HttpRequest

__all__ = ["htmx_partial"]


def htmx_partial(request: HttpRequest) -> bool:
    """Whether to answer with the fragment an htmx request targets.

    A boosted navigation (``hx-boost``) wants the whole page, like a plain request.
    """
    htmx = getattr(request, "htmx", None)
    return htmx is not None and bool(htmx) and not htmx.boosted
