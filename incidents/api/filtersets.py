"""The API's incident filters: the inbox's FilterSet plus ``order``.

It reuses ``incidents.filtersets.IncidentFilterSet`` (one FilterSet for the page and
the API) and only swaps the filters whose choices come from the database (reason,
assignee) for plain ones, so the schema does not list user ids or change with data.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from incidents.filtersets import ASSIGNEE_ME, ASSIGNEE_NONE, STATUS_ALL, IncidentFilterSet
from incidents.models import Incident

__all__ = ["IncidentApiFilterSet"]


class IncidentApiFilterSet(IncidentFilterSet):
    """Inbox filters; ``?order=<Mirakl order id>`` lists every episode of that order."""

    order = django_filters.CharFilter(field_name="order__mirakl_id", label=_("Mirakl order id"))
    reason = django_filters.CharFilter(field_name="reason_code", label=_("Reason code"))
    assignee = django_filters.CharFilter(
        method="filter_assignee",
        label=_("Assigned to: me, none or a user id"),
    )

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
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(assignment__assignee_id=int(value))
