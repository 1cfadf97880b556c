"""The inbox table (django-tables2), re-rendered by htmx when sorted or paged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import django_tables2 as tables
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.db.models import F, QuerySet
from django.utils.translation import gettext_lazy as _
from django_tables2.paginators import LazyPaginator
from django_tables2.rows import BoundRows

from core.params import query_int
from incidents.models import Incident

__all__ = ["IncidentTable"]


class IncidentTable(tables.Table):
    """One row per incident; the order number links to the incident page.

    The columns give the headers and the sorting; the cells are written by
    ``inbox_cells`` (``desk/templatetags/inbox.py``, see ``desk/partials/_table.html``).
    ``data`` is the narrow, sorted queryset of :func:`incidents.selectors.incident_list`;
    ``row_loader(ids)`` returns the full rows of one page (see ``paginate``).
    """

    select = tables.Column(
        accessor="pk",
        verbose_name=_("Select"),
        orderable=False,
        attrs={"th": {"class": "select"}},
    )
    connection = tables.Column(
        accessor="connection__name", verbose_name=_("Marketplace"), order_by=("connection__name",)
    )
    order = tables.Column(
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
    opened_at = tables.Column(verbose_name=_("Opened"))
    state = tables.Column(verbose_name=_("State"))
    sla = tables.Column(
        accessor="sla_due_at",
        verbose_name=_("SLA"),
    )
    unread = tables.Column(
        accessor="unread_count",
        verbose_name=_("Unread"),
        orderable=False,
        attrs={"td": {"class": "num"}, "th": {"class": "num"}},
    )
    assignee = tables.Column(
        accessor="assignment__assignee",
        verbose_name=_("Assigned to"),
        order_by=("assignment__assignee__username",),
    )

    class Meta:
        model = Incident
        fields: tuple[str, ...] = ()
        sequence = (
            "select",
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
        template_name = "desk/partials/_table.html"
        empty_text = _("No incident matches these filters.")
        attrs = {"class": "inbox-table"}
        row_attrs = {"data-incident": lambda record: record.pk}
        order_by_field = "sort"
        page_field = "page"

    def __init__(
        self,
        data: Any,
        *args: Any,
        row_loader: Callable[[list[int]], list[Any]],
        page_size: int = 25,
        **kwargs: Any,
    ) -> None:
        super().__init__(data, *args, **kwargs)
        self.row_loader = row_loader
        self.page_size = page_size

    def paginate(self, *args: Any, **kwargs: Any) -> None:
        """Page the narrow, sorted ids, then load the page's rows with ``row_loader``.

        A text search is paged without counting its matches (``LazyPaginator``: one
        row more than the page tells whether another page follows). Its first page
        comes at once however broad the search ("pedido"), but counting every match
        would read them all.
        """
        request = getattr(self, "request", None)
        params = request.GET if request is not None else {}
        self.searching = bool(params.get("q", "").strip())
        if self.searching:
            kwargs["paginator_class"] = LazyPaginator
        # The page as typed (``?page=٣``, ``-1``, a huge number) is not trusted: a bad
        # value, or a page past the last, shows the first page. The size is the inbox's.
        kwargs["page"] = query_int(params, self.page_field, default=1)
        kwargs["per_page"] = self.page_size
        try:
            super().paginate(*args, **kwargs)
        except (EmptyPage, PageNotAnInteger):
            super().paginate(*args, **{**kwargs, "page": 1})
        rows = self.page.object_list
        if isinstance(rows, BoundRows):
            records, pinned = rows.data, rows.pinned_data
        else:  # LazyPaginator pages a list of the rows
            records, pinned = [row.record for row in rows], None
        # The numbers of the rows shown (Page.start_index would count every match).
        shown = len(records)
        self.shown_from = (self.page.number - 1) * self.paginator.per_page + 1 if shown else 0
        self.shown_to = self.shown_from + shown - 1 if shown else 0
        self.page.object_list = BoundRows(
            data=self.row_loader([incident.pk for incident in records]),
            table=self,
            pinned_data=pinned,
        )

    def order_sla(self, queryset: QuerySet, is_descending: bool) -> tuple[QuerySet[Any], bool]:
        """By due time of the open SLA wait (none last), then oldest opened."""
        due = F("reply_due_at")  # the SLA sweep's copy (see incidents.selectors)
        key = due.desc(nulls_last=True) if is_descending else due.asc(nulls_last=True)
        return queryset.order_by(key, "opened_at", "id"), True
