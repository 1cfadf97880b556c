"""What a page of the desk is about: an order, and the incident when it is an incident's page.

The order page (``/orders/<pk>/``) and the incident page (``/incidents/<pk>/``) are one
page: the incident's adds its header on top. The panels' actions (reply, refund...) are
posted under either address; their views resolve it here and answer with the page they
came from, recording the action on the incident when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import reverse

from core.models import MarketplaceConnection, Order
from core.scoping import scope_queryset
from incidents.models import Incident
from incidents.selectors import HistoryEntry, incident_history, order_history

__all__ = ["PageSubject", "page_subject"]


@dataclass(frozen=True, slots=True)
class PageSubject:
    """An order, and the incident whose page it is (None on the order page)."""

    order: Order
    incident: Incident | None = None

    @property
    def connection(self) -> MarketplaceConnection:
        return self.order.connection

    @property
    def page_name(self) -> str:
        """The page's name in :mod:`core.pages` (``incident`` or ``order``)."""
        return "incident" if self.incident is not None else "order"

    def url(self, anchor: str = "") -> str:
        """The page's address, with ``#anchor`` when given."""
        if self.incident is not None:
            url = reverse("desk:incident", args=[self.incident.pk])
        else:
            url = reverse("desk:order", args=[self.order.pk])
        return f"{url}#{anchor}" if anchor else url

    @property
    def reason_label(self) -> str:
        return self.incident.reason_label if self.incident is not None else ""

    def history(self) -> list[HistoryEntry]:
        """The history panel: the incident's on its page, the order's on the order's."""
        if self.incident is not None:
            return incident_history(incident=self.incident)
        return order_history(order=self.order)


def page_subject(
    *, incident_pk: int | None = None, order_pk: int | None = None, user: Any = None
) -> PageSubject:
    """The subject of an address with ``incident_pk`` or ``order_pk``: 404 when unknown,
    or (with ``user``) in a marketplace ``user`` does not see."""
    if incident_pk is not None:
        incidents = Incident.objects.select_related("order__connection", "connection", "line")
        if user is not None:
            incidents = scope_queryset(incidents, user)
        incident = get_object_or_404(incidents, pk=incident_pk)
        return PageSubject(order=incident.order, incident=incident)
    orders = Order.objects.select_related("connection")
    if user is not None:
        orders = scope_queryset(orders, user)
    return PageSubject(order=get_object_or_404(orders, pk=order_pk))
