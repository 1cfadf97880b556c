"""The order page, and the incident page built on it: one page, a panel from each app.

``/orders/<pk>/`` shows an order whether or not it has an incident; ``/incidents/<pk>/``
is the same page with the incident's header on top (and its resolution and notes).
The page is organised in the tabs the marketplaces' guides describe (Detalles / Envío /
Mensajes / Historial / Documentos), each a list of panels. An app (or a later part of
this one) adds a panel to a tab with :func:`tab_panel_register`: a template, drawn in
the tab, and a function giving what it needs::

    tab_panel_register("shipping", "core/partials/_dates.html", context=dates_context)

The page asks each app for its panel and shares what several panels show, read once:
the marketplace's reasons (resolution and new conversation), the order's lines
(details and refunds), its messages (conversations and documents).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from core.models import Order
from core.presence import presence_context
from core.reasons import connection_reasons, connection_reasons_cache_key
from incidents.models import Incident
from incidents.panels import (
    incident_panels_context,
    quality_context,
    resolve_context,
    shipping_context,
)
from incidents.resolution import RESOLUTION_REASON_TYPE
from incidents.selectors import ASSIGNABLE_CACHE_KEY, order_history, order_incidents
from incidents.subject import PageSubject
from messaging.constants import MESSAGING_REASON_TYPE
from messaging.panels import conversation_context
from messaging.selectors import (
    CANNED_REPLIES_CACHE_KEY,
    incident_documents,
    order_conversations,
)
from refunds.panels import panel_context
from sla.health.banner import CACHE_KEY as BANNERS_CACHE_KEY

__all__ = [
    "TABS",
    "TEMPLATE",
    "Tab",
    "order_page",
    "order_page_context",
    "page_cache_keys",
    "tab_panel_register",
]

TEMPLATE = "desk/order.html"

#: ``context(request, subject, page_context) -> dict``: what a panel adds to the page.
PanelContext = Callable[[HttpRequest, PageSubject, dict[str, Any]], dict[str, Any]]


@dataclass(slots=True)
class Tab:
    """A tab of the page: its anchor (``#tab-<key>``), label and panels' templates."""

    key: str
    label: Any
    panels: list[str] = field(default_factory=list)
    #: Drawn in the wide column (the conversations) rather than the side one.
    main: bool = False


#: The tabs, in the guides' order. Panels are drawn in this order within a tab.
TABS: list[Tab] = [
    Tab(
        "details",
        _("Details"),
        [
            "incidents/partials/_quality.html",
            "incidents/partials/_details.html",
            "refunds/partials/_refunds.html",
        ],
    ),
    Tab("shipping", _("Shipping"), ["incidents/partials/_shipping.html"]),
    Tab("messages", _("Messages"), ["messaging/partials/_conversations.html"], main=True),
    Tab(
        "history",
        _("History"),
        ["incidents/partials/_history.html", "desk/partials/_order_history.html"],
    ),
    Tab(
        "documents",
        _("Documents"),
        ["documents/partials/_documents.html", "incidents/partials/_documents.html"],
    ),
]

_contexts: list[PanelContext] = []


def tab_panel_register(
    tab: str, template: str, *, context: PanelContext | None = None, before: str | None = None
) -> None:
    """Draw ``template`` in the tab ``tab`` (after its panels, or before ``before``), with
    what ``context`` adds to the page's context. Registering twice changes nothing."""
    target = next(t for t in TABS if t.key == tab)
    if template not in target.panels:
        index = target.panels.index(before) if before in target.panels else len(target.panels)
        target.panels.insert(index, template)
    if context is not None and context not in _contexts:
        _contexts.append(context)


def order_page_context(
    request: HttpRequest,
    order: Order,
    *,
    incident: Incident | None = None,
    **conversation: Any,
) -> dict[str, Any]:
    """Everything the page shows; ``conversation`` goes to the messages panel (a bound
    reply form with its errors, for instance).

    ``incident`` (from :func:`incidents.selectors.incident_detail`) makes it the
    incident's page: its header, resolution and notes on top.
    """
    subject = PageSubject(order=order, incident=incident)
    reasons = connection_reasons(connection_id=order.connection_id)
    incidents: list[Incident] = []
    openings = None
    if incident is not None:
        # Read with the incident (:func:`incidents.selectors.incident_detail`).
        openings = getattr(incident, "order_incident_openings", None)
    else:
        incidents = order_incidents(order=order)
        openings = tuple(row.opened_at for row in incidents)
    views = order_conversations(order_id=order.pk, incident_openings=openings)
    refunds = panel_context(request, subject)
    lines = [row.line for row in refunds["refunds"].lines]
    context: dict[str, Any] = {
        "incident": incident,
        "order": order,
        "lines": lines,
        **shipping_context(order=order, lines=lines),
        "documents": incident_documents(
            order_id=order.pk,
            messages=[i.message for v in views for i in v.items if i.message is not None],
        ),
        **refunds,
        **conversation_context(
            request,
            order,
            views=views,
            reasons=reasons.get(MESSAGING_REASON_TYPE, []),
            **conversation,
        ),
        "tabs": TABS,
    }
    if incident is not None:
        context.update(incident_panels_context(request, incident))
        context.update(quality_context(incident=incident, lines=lines))
        context.update(presence_context(request, incident))
        context.update(
            resolve_context(request, incident, reasons=reasons.get(RESOLUTION_REASON_TYPE, []))
        )
    else:
        context["history"] = order_history(order=order)
        context["order_incidents"] = incidents
    for add in _contexts:
        context.update(add(request, subject, context))
    return context


def page_cache_keys(order: Order, *, incident: Incident | None = None) -> list[str]:
    """The cache entries the page reads (:func:`core.cache_ahead.cache_read_ahead`): the
    marketplace's reasons, the canned replies, the shops' banners and, on an incident's
    page, who may be assigned."""
    keys = [
        connection_reasons_cache_key(connection_id=order.connection_id),
        CANNED_REPLIES_CACHE_KEY,
        BANNERS_CACHE_KEY,
    ]
    if incident is not None:
        keys.append(ASSIGNABLE_CACHE_KEY)
    return keys


def order_page(request: HttpRequest, order: Order, **conversation: Any) -> HttpResponse:
    """The whole order page (registered as the ``order`` page: an app's view answers with
    it when a panel's form must be shown again without htmx)."""
    return render(request, TEMPLATE, order_page_context(request, order, **conversation))
