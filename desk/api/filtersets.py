"""The API's incident filters: the inbox's FilterSet plus ``order``, ``marketplace``,
``view`` and ``ordering``.

It reuses ``desk.filtersets.IncidentFilterSet`` (one FilterSet for the page and
the API) and only swaps the filters whose choices come from the database (reason,
assignee) for plain ones, so the schema does not list user ids or change with data.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from core.api.pagination import SortKey, keyset_order_by
from core.params import parse_int, validate_identifier
from desk.filtersets import (
    ASSIGNEE_ME,
    ASSIGNEE_NONE,
    QUEUE_VIEWS,
    SAVED_VIEWS,
    STATUS_ALL,
    IncidentFilterSet,
    QueueFilterSet,
)
from incidents.models import Incident
from sla.models import QueueEntry

__all__ = [
    "INCIDENT_ORDERINGS",
    "ORDERING_DEFAULT",
    "QUEUE_ORDERINGS",
    "QUEUE_ORDERING_DEFAULT",
    "IncidentApiFilterSet",
    "QueueApiFilterSet",
]

ORDERING_DEFAULT = "-opened_at"

#: ``?ordering=`` → the sort keys, each ending on the primary key so that a cursor
#: position is unique. ``due`` is the inbox's own sort (``desk.selectors``): the due
#: time of the incident's open SLA wait as the sweep copies it onto the incident's
#: queue row (``reply_due_at``, annotated by the view; an index of the queue), soonest
#: first and none last, then the oldest opened.
INCIDENT_ORDERINGS: dict[str, tuple[SortKey, ...]] = {
    ORDERING_DEFAULT: (SortKey("opened_at", descending=True), SortKey("pk", descending=True)),
    "opened_at": (SortKey("opened_at"), SortKey("pk")),
    "due": (SortKey("reply_due_at", nullable=True), SortKey("opened_at"), SortKey("pk")),
}

_ORDERING_LABELS = {
    ORDERING_DEFAULT: _("Latest opened first"),
    "opened_at": _("Oldest opened first"),
    "due": _("SLA due time, soonest first (none last)"),
}

#: The inbox's saved views that are more than an open/closed status.
_API_VIEWS = {key: query for key, _label, query in SAVED_VIEWS if set(query) != {"status"}}


def _validate_assignee(value: str) -> None:
    if value.strip() not in (ASSIGNEE_ME, ASSIGNEE_NONE) and parse_int(value, minimum=1) is None:
        raise ValidationError(_("Use me, none or a user id."), code="assignee")


# The filters both lists share, where the page's choices come from the database.


def _marketplace_filter() -> django_filters.CharFilter:
    return django_filters.CharFilter(
        field_name="connection__code",
        label=_("Marketplace code"),
        validators=[validate_identifier],
    )


def _reason_filter() -> django_filters.CharFilter:
    return django_filters.CharFilter(
        field_name="reason_code", label=_("Reason code"), validators=[validate_identifier]
    )


def _assignee_filter() -> django_filters.CharFilter:
    return django_filters.CharFilter(
        method="filter_assignee",
        label=_("Assigned to: me, none or a user id"),
        validators=[_validate_assignee],
    )


def _ordering_filter(labels: dict[str, Any]) -> django_filters.ChoiceFilter:
    return django_filters.ChoiceFilter(
        choices=list(labels.items()), method="filter_ordering", label=_("Sort")
    )


def _view_applied(
    filterset: django_filters.FilterSet,
    queryset: QuerySet,
    view: dict[str, Any],
) -> QuerySet:
    """A saved view's own filters, applied by the same filters to what the other
    parameters selected (its status aside: ``status`` decides)."""
    query = QueryDict(mutable=True)
    for key, item in view.items():
        query.setlist(key, item if isinstance(item, list) else [item])
    query["status"] = STATUS_ALL
    return type(filterset)(query, queryset=queryset, request=filterset.request).qs


class IncidentApiFilterSet(IncidentFilterSet):
    """Inbox filters; ``?order=<Mirakl order id>`` lists every episode of that order.

    Identifiers hold no control character and ``assignee`` is ``me``, ``none`` or a
    user id (ASCII digits): anything else is a 400 naming the parameter."""

    order = django_filters.CharFilter(
        field_name="order__mirakl_id",
        label=_("Mirakl order id"),
        validators=[validate_identifier],
    )
    marketplace = _marketplace_filter()
    reason = _reason_filter()
    assignee = _assignee_filter()
    view = django_filters.ChoiceFilter(
        choices=[(key, label) for key, label, _query in SAVED_VIEWS if key in _API_VIEWS],
        method="filter_view",
        label=_("A saved view of the inbox, on top of the other filters"),
    )
    ordering = _ordering_filter(_ORDERING_LABELS)

    class Meta:
        model = Incident
        fields: list[str] = []

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        if data is not None and data.get("order") and not data.get("status"):
            # Asked by order: open and closed episodes alike, unless told otherwise.
            data = data.copy()
            data["status"] = STATUS_ALL
        super().__init__(data, *args, **kwargs)

    def filter_assignee(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet:
        value = value.strip()
        if value in (ASSIGNEE_ME, ASSIGNEE_NONE):
            return super().filter_assignee(queryset, name, value)
        return queryset.filter(assignment__assignee_id=parse_int(value, minimum=1))

    def filter_view(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet:
        return _view_applied(self, queryset, _API_VIEWS[value]) if value else queryset

    def filter_ordering(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet:
        # The cursor pagination sorts the page itself, with the same keys.
        return queryset.order_by(*keyset_order_by(INCIDENT_ORDERINGS[value or ORDERING_DEFAULT]))


#: ``?ordering=`` of the queue: its own sort (the earliest open deadline on the row,
#: none last, then the oldest), or the latest opened first.
QUEUE_ORDERING_DEFAULT = "due"
QUEUE_ORDERINGS: dict[str, tuple[SortKey, ...]] = {
    QUEUE_ORDERING_DEFAULT: (
        SortKey("due_at", nullable=True),
        SortKey("opened_at"),
        SortKey("pk"),
    ),
    "-opened_at": (SortKey("opened_at", descending=True), SortKey("pk", descending=True)),
}

_QUEUE_ORDERING_LABELS = {
    QUEUE_ORDERING_DEFAULT: _("Earliest deadline first (nothing owed last)"),
    "-opened_at": _("Latest opened first"),
}

_QUEUE_API_VIEWS = {key: query for key, _label, query in QUEUE_VIEWS if set(query) != {"status"}}


class QueueApiFilterSet(QueueFilterSet):
    """The queue's filters (:class:`desk.filtersets.QueueFilterSet`), with plain values
    where the page's choices come from the database, and ``view`` / ``ordering``."""

    marketplace = _marketplace_filter()
    order = django_filters.CharFilter(
        field_name="order_number", label=_("Mirakl order id"), validators=[validate_identifier]
    )
    reason = _reason_filter()
    assignee = _assignee_filter()
    view = django_filters.ChoiceFilter(
        choices=[(key, label) for key, label, _query in QUEUE_VIEWS if key in _QUEUE_API_VIEWS],
        method="filter_view",
        label=_("A saved view of the queue, on top of the other filters"),
    )
    ordering = _ordering_filter(_QUEUE_ORDERING_LABELS)

    class Meta:
        model = QueueEntry
        fields: list[str] = []

    def filter_assignee(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if value not in (ASSIGNEE_ME, ASSIGNEE_NONE):
            value = str(parse_int(value, minimum=1))
        return super().filter_assignee(queryset, name, value)

    def filter_view(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return _view_applied(self, queryset, _QUEUE_API_VIEWS[value]) if value else queryset

    def filter_ordering(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.order_by(*keyset_order_by(QUEUE_ORDERINGS[value or QUEUE_ORDERING_DEFAULT]))
