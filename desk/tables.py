"""The queue's table (django-tables2), re-rendered by htmx when sorted or paged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import django_tables2 as tables
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db.models import F, QuerySet
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django_tables2.paginators import LazyPaginator
from django_tables2.rows import BoundRows

from core.params import query_int
from sla.models import QueueEntry

__all__ = ["COUNT_AT_MOST", "CappedPaginator", "QueueTable"]


#: The queue counts its rows up to this many ("more than 10,000"): counting a hundred
#: thousand open rows cost more than the rest of the page.
COUNT_AT_MOST = 10_000


class CappedPaginator(Paginator):
    """A paginator whose count stops at :data:`COUNT_AT_MOST` (``capped`` says so); the
    pages past it are not offered."""

    capped = False

    @cached_property
    def count(self) -> int:
        # The table's rows (django-tables2's BoundRows) hold the sorted queryset.
        rows = getattr(getattr(self.object_list, "data", None), "data", self.object_list)
        counted = (
            rows[: COUNT_AT_MOST + 1].count()
            if isinstance(rows, QuerySet)
            else len(self.object_list)
        )
        self.capped = counted > COUNT_AT_MOST
        return min(counted, COUNT_AT_MOST)


class QueueTable(tables.Table):
    """One row per thing the shop owes: an incident, or a conversation of an order
    without incident; the order number links to the incident's or the order's page.

    The columns give the headers and the sorting; the cells are written by
    ``queue_cells`` (``desk/templatetags/inbox.py``, see ``desk/partials/_table.html``).
    ``data`` is the narrow, sorted queryset of :func:`desk.selectors.queue_list`;
    ``row_loader(ids)`` returns the full rows of one page (see ``paginate``).
    """

    select = tables.Column(
        accessor="pk",
        verbose_name=_("Select"),
        orderable=False,
        attrs={"th": {"class": "select"}},
    )
    kind = tables.Column(verbose_name=_("Kind"), order_by=("kind", "due_at", "id"))
    connection = tables.Column(
        accessor="connection__name", verbose_name=_("Marketplace"), order_by=("connection__name",)
    )
    order = tables.Column(
        accessor="order_number", verbose_name=_("Order"), order_by=("order_number",)
    )
    reason = tables.Column(
        accessor="reason_label",
        verbose_name=_("Reason and last message"),
        order_by=("reason_label",),
    )
    opened_at = tables.Column(verbose_name=_("Opened"))
    state = tables.Column(
        accessor="incident_state", verbose_name=_("State"), order_by=("incident_state",)
    )
    owed = tables.Column(
        accessor="owed_to", verbose_name=_("Reply owed to"), order_by=("owed_to", "due_at", "id")
    )
    sla = tables.Column(accessor="due_at", verbose_name=_("By when"))
    messages = tables.Column(
        accessor="message_count",
        verbose_name=_("Messages"),
        order_by=("message_count", "id"),
        attrs={"td": {"class": "num"}, "th": {"class": "num"}},
    )
    assignee = tables.Column(
        accessor="incident__assignment__assignee",
        verbose_name=_("Assigned to"),
        order_by=("incident__assignment__assignee__username",),
    )

    class Meta:
        model = QueueEntry
        fields: tuple[str, ...] = ()
        sequence = (
            "select",
            "kind",
            "connection",
            "order",
            "reason",
            "opened_at",
            "state",
            "owed",
            "sla",
            "messages",
            "assignee",
        )
        template_name = "desk/partials/_table.html"
        empty_text = _("Nothing waits for the shop with these filters.")
        attrs = {"class": "inbox-table queue-table"}
        row_attrs = {
            "data-incident": lambda record: record.incident_id or "",
            "data-thread": lambda record: record.thread_id or "",
            "data-kind": lambda record: record.kind,
        }
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
        else:
            kwargs["paginator_class"] = CappedPaginator
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
            data=self.row_loader([record.pk for record in records]),
            table=self,
            pinned_data=pinned,
        )

    def order_sla(self, queryset: QuerySet, is_descending: bool) -> tuple[QuerySet[Any], bool]:
        """By the earliest open deadline on the row (none last), then oldest opened."""
        due = F("due_at")
        key = due.desc(nulls_last=True) if is_descending else due.asc(nulls_last=True)
        return queryset.order_by(key, "opened_at", "id"), True
