"""The incident page: the order page (:mod:`desk.pages.order`) with the incident's
header on top, its resolution and its notes.

Who else is on the incident comes from the cache, without a query.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from desk.pages.order import TEMPLATE, order_page_context
from incidents.models import Incident

__all__ = ["TEMPLATE", "incident_page", "incident_page_context"]


def incident_page_context(
    request: HttpRequest, incident: Incident, **conversation: Any
) -> dict[str, Any]:
    """Everything the incident page shows; ``conversation`` goes to the messages panel
    (a bound reply form with its errors, for instance).

    ``incident`` comes from :func:`incidents.selectors.incident_detail`.
    """
    return order_page_context(request, incident.order, incident=incident, **conversation)


def incident_page(request: HttpRequest, incident: Incident, **conversation: Any) -> HttpResponse:
    """The whole page (registered as the ``incident`` page: an app's view answers with it
    when a panel's form must be shown again without htmx)."""
    return render(request, TEMPLATE, incident_page_context(request, incident, **conversation))
