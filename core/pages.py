"""Pages that compose several apps, rendered by name from the apps beneath them.

A POST to a panel (a reply, a new conversation) that fails without htmx answers with
the whole page, its form in place with what was typed. The page is composed above the
apps (:mod:`desk.pages`), so an app asks for it by name: the top floor registers its
pages here from its ``AppConfig.ready``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

__all__ = ["page_register", "page_render"]

PageRenderer = Callable[..., HttpResponse]

_pages: dict[str, PageRenderer] = {}


def page_register(name: str, render: PageRenderer) -> None:
    """Make ``render(request, *args, **kwargs)`` the page called ``name``."""
    _pages[name] = render


def page_render(name: str, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """The page called ``name``, with what the caller puts in place (forms, errors)."""
    return _pages[name](request, *args, **kwargs)
