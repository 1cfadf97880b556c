"""The inbox table (django-tables2), re-rendered by htmx when sorted or paged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import django_tables2 as tables
from django.db.models import F, QuerySet
from django.utils.translation import gettext_lazy as _
from django_tables2.rows import BoundRows

from incidents.models import Incident

__all__ = ["SEARCH_COUNT_CAP", "IncidentTable"]

#: How many matches of a text search the inbox counts ("more than 1,000").
SEARCH_COUNT_CAP = 1000


class IncidentTable(tables.Table):
    """One row per incident; the order number links to the incident page.

    ``data`` is the narrow, sorted queryset of :func:`incidents.selectors.incident_list`;
    ``row_loader(ids)`` returns the full rows of one page (see ``paginate``).
    """

    connection = tables.Column(
        accessor="connection__name", verbose_name=_("Marketplace"), order_by=("connection__name",)
    )
    order = tables.TemplateColumn(
        template_name="incidents/columns/order.html",
        accessor="order__mirakl_id",
        verbose_name=_("Order"),
        order_by=("order__mirakl_id",),
    )
    customer = tables.Column(
        accessor="order__customer_name",
        verbose_name=_("Customer"),
        order_by=("order__customer_last_name", "order__customer_first_name"),
    )
    reason = tables.Column(
        accessor="reason_label", verbose_name=_("Reason"), order_by=("reason_label",)
    )
    opened_at = tables.TemplateColumn(
        template_name="incidents/columns/datetime.html", verbose_name=_("Opened")
    )
    state = tables.TemplateColumn(
        template_name="incidents/columns/state.html", verbose_name=_("State")
    )
    sla = tables.TemplateColumn(
        template_name="incidents/columns/sla.html",
        accessor="sla_due_at",
        verbose_name=_("SLA"),
    )
    unread = tables.TemplateColumn(
        template_name="incidents/columns/unread.html",
        accessor="unread_count",
        verbose_name=_("Unread"),
        orderable=False,
        attrs={"td": {"class": "num"}, "th": {"class": "num"}},
    )
    assignee = tables.TemplateColumn(
        template_name="incidents/columns/assignee.html",
        accessor="assignment__assignee",
        verbose_name=_("Assigned to"),
        order_by=("assignment__assignee__username",),
    )

    class Meta:
        model = Incident
        fields: tuple[str, ...] = ()
        sequence = (
            "connection",
            "order",
            "customer",
            "reason",
            "opened_at",
            "state",
            "sla",
            "unread",
            "assignee",
        )
        template_name = "incidents/partials/_table.html"
        empty_text = _("No incident matches these filters.")
        attrs = {"class": "inbox-table"}
        row_attrs = {"data-incident": lambda record: record.pk}
        order_by_field = "sort"
        page_field = "page"

    def __init__(
        self, data: Any, *args: Any, row_loader: Callable[[list[int]], list[Any]], **kwargs: Any
    ) -> None:
        super().__init__(data, *args, **kwargs)
        self.row_loader = row_loader

    def paginate(self, *args: Any, **kwargs: Any) -> None:
        """Page the narrow, sorted ids, then load the page's rows with ``row_loader``.

        A text search counts its matches only up to ``SEARCH_COUNT_CAP``: a broad
        search ("pedido") finds its first page at once, but counting every match
        would read them all.
        """
        self.count_capped = False
        request = getattr(self, "request", None)
        if request is not None and request.GET.get("q", "").strip():
            # Sliced, the count keeps the order: Postgres walks the inbox's index and
            # stops after ``SEARCH_COUNT_CAP + 1`` rows.
            found = self.data.data[: SEARCH_COUNT_CAP + 1].count()
            self.count_capped = found > SEARCH_COUNT_CAP
            # django-tables2 keeps the length of its queryset data there (and the
            # paginator asks it): counted once, here.
            self.data._length = min(found, SEARCH_COUNT_CAP)
        super().paginate(*args, **kwargs)
        rows = self.page.object_list
        ids = [incident.pk for incident in rows.data]
        self.page.object_list = BoundRows(
            data=self.row_loader(ids), table=self, pinned_data=rows.pinned_data
        )

    def order_sla(self, queryset: QuerySet, is_descending: bool) -> tuple[QuerySet[Any], bool]:
        """By due time of the open SLA wait (none last), then oldest opened."""
        due = F("reply_due_at")  # the SLA sweep's copy (see incidents.selectors)
        key = due.desc(nulls_last=True) if is_descending else due.asc(nulls_last=True)
        return queryset.order_by(key, "opened_at", "id"), True
