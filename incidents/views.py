"""Pages of the incidents app."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from incidents.selectors import connections_overview

__all__ = ["overview"]


def overview(request: HttpRequest) -> HttpResponse:
    """Every marketplace at a glance: open incidents by state, waiting threads, sync."""
    context = {"overviews": connections_overview()}
    template = "incidents/overview.html"
    if request.headers.get("HX-Request") and not request.headers.get("HX-Boosted"):
        template = "incidents/partials/_overview_cards.html"
    return render(request, template, context)
