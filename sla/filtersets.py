"""Filters of the SLA review's breach list (shared by the page and its CSV)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from core.filtersets import SharedFormFilterSet
from core.form_rendering import WIDGET_RENDERER
from core.models import MarketplaceConnection
from core.scoping import scope_queryset
from sla.kpis import day_start
from sla.models import SlaBreach, SlaItem

__all__ = ["STATUS_ANSWERED", "STATUS_OPEN", "SlaBreachFilterSet"]

STATUS_OPEN = "open"
STATUS_ANSWERED = "answered"


class _FilterForm(forms.Form):
    default_renderer = WIDGET_RENDERER


class SlaBreachFilterSet(SharedFormFilterSet):
    """Marketplace, deadline date range (Madrid days, both included), kind, open/answered."""

    marketplace = django_filters.ModelChoiceFilter(
        field_name="connection",
        queryset=MarketplaceConnection.objects.order_by("name"),
        label=_("Marketplace"),
        empty_label=_("All"),
    )
    date_from = django_filters.DateFilter(
        method="filter_date_from",
        label=_("Due from"),
        widget=django_filters.widgets.forms.DateInput(attrs={"type": "date"}),
    )
    date_to = django_filters.DateFilter(
        method="filter_date_to",
        label=_("Due to"),
        widget=django_filters.widgets.forms.DateInput(attrs={"type": "date"}),
    )
    kind = django_filters.ChoiceFilter(
        choices=SlaItem.Kind.choices, label=_("Kind"), empty_label=_("All")
    )
    status = django_filters.ChoiceFilter(
        method="filter_status",
        choices=((STATUS_OPEN, _("Still open")), (STATUS_ANSWERED, _("Answered"))),
        label=_("Status"),
        empty_label=_("All"),
    )

    class Meta:
        model = SlaBreach
        fields: list[str] = []
        form = _FilterForm

    #: The user's marketplaces are offered (and checked): each form has its own field.
    own_fields: ClassVar[frozenset[str]] = frozenset({"marketplace"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the marketplaces the user sees (core.scoping) are offered.
        user = getattr(self.request, "user", None)
        if user is not None:
            field = self.filters["marketplace"]
            field.queryset = scope_queryset(field.queryset, user, "pk")

    def filter_date_from(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.filter(due_at__gte=day_start(value))

    def filter_date_to(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.filter(due_at__lt=day_start(value + timedelta(days=1)))

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == STATUS_OPEN:
            return queryset.filter(answered_at__isnull=True)
        if value == STATUS_ANSWERED:
            return queryset.filter(answered_at__isnull=False)
        return queryset
