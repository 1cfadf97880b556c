"""Pages of the site itself, outside any app."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.templatetags.static import static
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

__all__ = ["favicon"]


@require_GET
@login_not_required
@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``: browsers ask for it on pages that name no icon (the admin's);
    the icon is the static ``favicon.svg`` (its hashed name in production)."""
    return HttpResponseRedirect(static("favicon.svg"))
