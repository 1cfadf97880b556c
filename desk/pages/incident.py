"""The incident page: one incident and its order, with a panel from each app.

The page asks each app for its panel and shares what several panels show, read once:
the marketplace's reasons (resolution and new conversation), the order's lines
(details and refunds), its messages (conversations and documents). Who else is on
the incident comes from the cache, without a query.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.presence import presence_context
from core.reasons import connection_reasons
from incidents.models import Incident
from incidents.panels import (
    incident_panels_context,
    quality_context,
    resolve_context,
    shipping_context,
)
from incidents.resolution import RESOLUTION_REASON_TYPE
from messaging.constants import MESSAGING_REASON_TYPE
from messaging.panels import conversation_context
from messaging.selectors import incident_documents, order_conversations
from refunds.panels import panel_context

__all__ = ["TEMPLATE", "incident_page", "incident_page_context"]

TEMPLATE = "desk/incident.html"


def incident_page_context(
    request: HttpRequest, incident: Incident, **conversation: Any
) -> dict[str, Any]:
    """Everything the incident page shows; ``conversation`` goes to the messages panel
    (a bound reply form with its errors, for instance).

    ``incident`` comes from :func:`incidents.selectors.incident_detail`.
    """
    reasons = connection_reasons(connection_id=incident.connection_id)
    views = order_conversations(order_id=incident.order_id)
    refunds = panel_context(request, incident)
    lines = [row.line for row in refunds["refunds"].lines]
    return {
        "incident": incident,
        "order": incident.order,
        "lines": lines,
        **incident_panels_context(request, incident),
        **shipping_context(order=incident.order, lines=lines),
        **quality_context(incident=incident, lines=lines),
        "documents": incident_documents(
            order_id=incident.order_id,
            messages=[i.message for v in views for i in v.items if i.message is not None],
        ),
        **refunds,
        **presence_context(request, incident),
        **resolve_context(
            request,
            incident,
            reasons=reasons.get(RESOLUTION_REASON_TYPE, []),
        ),
        **conversation_context(
            request,
            incident,
            views=views,
            reasons=reasons.get(MESSAGING_REASON_TYPE, []),
            **conversation,
        ),
    }


def incident_page(request: HttpRequest, incident: Incident, **conversation: Any) -> HttpResponse:
    """The whole page (registered as the ``incident`` page: an app's view answers with it
    when a panel's form must be shown again without htmx)."""
    return render(request, TEMPLATE, incident_page_context(request, incident, **conversation))
