"""The shop health pages (``/sla/health/``), for account managers and admins.

Thin: one figures call, a template. "Refresh now" asks the gate, never Mirakl directly.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.models import MarketplaceConnection
from core.scoping import scope_queryset
from sla.health.figures import marketplace_health, marketplaces_health
from sla.health.summary import suspension_summary
from sla.health.sync import shop_health_refresh
from sla.models.health import DailyCall

__all__ = ["health_detail", "health_index", "health_refresh", "health_summary"]

REVIEW = "incidents.review_sla"
REFRESH = "sla.refresh_dailycall"


def _active(request: HttpRequest) -> list[MarketplaceConnection]:
    connections = MarketplaceConnection.objects.filter(is_active=True)
    return list(scope_queryset(connections, request.user, "pk").order_by("name"))


def _connection(code: str, request: HttpRequest) -> MarketplaceConnection:
    connections = scope_queryset(MarketplaceConnection.objects.all(), request.user, "pk")
    return get_object_or_404(connections, code=code)


@require_GET
@permission_required(REVIEW, raise_exception=True)
def health_index(request: HttpRequest) -> HttpResponse:
    """Every active marketplace: the shop's state, balance and each criterion's standing."""
    return render(
        request,
        "sla/health/index.html",
        {"healths": marketplaces_health(connections=_active(request))},
    )


@require_GET
@permission_required(REVIEW, raise_exception=True)
def health_detail(request: HttpRequest, code: str) -> HttpResponse:
    """One marketplace, criterion by criterion, with its projection and open incidents."""
    connection = _connection(code, request)
    health = marketplace_health(connection=connection)
    return render(
        request,
        "sla/health/detail.html",
        {
            "health": health,
            "page_marketplace": connection,
            "can_refresh": request.user.has_perm(REFRESH),
        },
    )


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%d/%m/%Y %H:%M")


@require_POST
@permission_required(REFRESH, raise_exception=True)
def health_refresh(request: HttpRequest, code: str) -> HttpResponse:
    """Ask Mirakl again now, as far as its once-a-day limit allows; say when it allows."""
    connection = _connection(code, request)
    plan = shop_health_refresh(connection=connection)
    labels = dict(DailyCall.Call.choices)
    later = [
        _("%(what)s: next possible on %(when)s")
        % {"what": labels.get(key.split(":")[0], key), "when": _when(when)}
        + (f" ({key.split(':', 1)[1]})" if ":" in key else "")
        for key, when in plan.calls.items()
        if when is not None
    ]
    if plan.due:
        messages.success(
            request, _("Asked Mirakl: the new figures will show here within a minute.")
        )
        if later:
            messages.info(request, "; ".join(later) + ".")
    else:
        messages.warning(
            request,
            _("Mirakl allows each of these calls once a day. %(later)s.")
            % {"later": "; ".join(later)},
        )
    return redirect("sla:health_detail", code=connection.code)


@require_GET
@permission_required(REVIEW, raise_exception=True)
def health_summary(request: HttpRequest, code: str) -> HttpResponse:
    """The summary to copy for the marketplace's account manager (loaded on demand)."""
    connection = _connection(code, request)
    return render(
        request,
        "sla/health/partials/_summary.html",
        {"connection": connection, "summary": suspension_summary(connection=connection)},
    )
