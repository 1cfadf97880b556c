"""FilterSets whose filters and form class are made once per class (core.filtersets)."""

from __future__ import annotations

from typing import ClassVar

import django_filters
import pytest
from django.db.models import QuerySet

from core.filtersets import SharedFormFilterSet
from core.models import MarketplaceConnection, Order
from tests.factories.core import MarketplaceConnectionFactory, OrderFactory

pytestmark = pytest.mark.django_db


class _OrderFilterSet(SharedFormFilterSet):
    connection = django_filters.ModelChoiceFilter(
        queryset=MarketplaceConnection.objects.order_by("name")
    )
    state = django_filters.CharFilter()
    number = django_filters.CharFilter(method="filter_number")

    own_fields: ClassVar[frozenset[str]] = frozenset({"connection"})

    class Meta:
        model = Order
        fields: list[str] = []

    def __init__(self, *args, only=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if only is not None:  # as a FilterSet scopes it to the user's marketplaces
            filter_ = self.filters["connection"]
            filter_.queryset = filter_.queryset.filter(pk=only.pk)

    def filter_number(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(mirakl_id=value)


def test_it_filters_as_django_filter_does() -> None:
    pcc, mm = MarketplaceConnectionFactory(name="PcComponentes"), MarketplaceConnectionFactory()
    order = OrderFactory(connection=pcc, mirakl_id="A-1", state="SHIPPED")
    OrderFactory(connection=mm, mirakl_id="B-1", state="SHIPPED")

    def found(data, **kwargs):
        return list(_OrderFilterSet(data, Order.objects.all(), **kwargs).qs)

    assert found({"connection": pcc.pk, "state": "SHIPPED"}) == [order]
    assert found({"number": "A-1"}) == [order]
    assert len(found({"connection": mm.pk})) == 1
    # Out of the request's marketplaces: an invalid choice, which django-filter drops.
    assert not _OrderFilterSet({"connection": mm.pk}, only=pcc).form.is_valid()
    assert len(found({"connection": mm.pk}, only=pcc)) == 2


def test_its_form_class_and_fields_are_made_once_but_its_own_fields() -> None:
    pcc, mm = MarketplaceConnectionFactory(), MarketplaceConnectionFactory()
    first, second = _OrderFilterSet({}, only=pcc), _OrderFilterSet({})

    assert type(first.form) is type(second.form)
    assert first.form.fields["state"] is second.form.fields["state"]
    assert first.form.fields["connection"] is not second.form.fields["connection"]
    # Each form offers its request's marketplaces, the class's none of them.
    assert list(first.form.fields["connection"].queryset) == [pcc]
    assert set(second.form.fields["connection"].queryset) == {pcc, mm}
    # Each FilterSet binds its own methods, and the class's filters are left alone.
    assert first.filters["number"].parent is first
    assert set(_OrderFilterSet.base_filters["connection"].queryset) == {pcc, mm}
