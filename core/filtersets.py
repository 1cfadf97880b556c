"""FilterSets made without django-filter's copies of every filter and field per request.

django-filter deep-copies a FilterSet class's filters (their choices, widgets and
querysets) for each FilterSet, then builds a form class, and each of its fields, anew
for each form: a third of a millisecond and more on every page that filters (the queue,
the SLA review). Nothing of a filter but its queryset and its FilterSet changes per
request, and a form's fields only where the request alters them.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import django_filters
from django import forms
from django.db.models import QuerySet
from django.http import QueryDict

from core.forms import share_fields

__all__ = ["SharedFormFilterSet"]


def _filter_copy(base: django_filters.Filter, *, parent: Any, model: Any) -> Any:
    """A filter of ``parent`` made from its class's ``base``: a shallow copy, with its
    own ``extra`` (a ``ModelChoiceFilter`` writes its queryset there) and its own
    binding of ``method=`` to ``parent`` (the copied one would call the class's filter,
    which has no parent). Nothing else of a filter changes per request."""
    filter_ = copy.copy(base)
    filter_.extra = dict(base.extra)
    filter_.__dict__.pop("_field", None)  # a field is made per filter when asked for
    if base.method is not None:
        filter_.method = base.method
    filter_.model = model
    filter_.parent = parent
    return filter_


class SharedFormFilterSet(django_filters.FilterSet):
    """A FilterSet whose filters are shallow copies of its class's (:func:`_filter_copy`)
    and whose form class is made once per FilterSet class, its fields shared by its
    forms (:func:`core.forms.share_fields`) but those in ``own_fields``, which a request
    alters (its marketplaces, the choices it checks a value against): each form copies
    those. A model choice among them is given the request's queryset, its filter's (a
    subclass scopes it to the user in ``__init__``)."""

    #: The form's fields that a request alters: each form has its own.
    own_fields: ClassVar[frozenset[str]] = frozenset()

    #: The form class of each FilterSet class, made once: django-filter makes every field
    #: anew per request. Its fields' choices are read when used (callables, a queryset).
    _form_classes: ClassVar[dict[type, type[forms.Form]]] = {}

    def __init__(
        self,
        data: Any = None,
        queryset: QuerySet | None = None,
        *,
        request: Any = None,
        prefix: str | None = None,
    ) -> None:
        """``django_filters.FilterSet.__init__``, each filter copied by
        :func:`_filter_copy` rather than deep-copied."""
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = {
            name: _filter_copy(filter_, parent=self, model=queryset.model)
            for name, filter_ in self.base_filters.items()
        }

    def get_form_class(self) -> type[forms.Form]:
        """The form class, shared by every request."""
        form_class = self._form_classes.get(type(self))
        if form_class is None:
            filters = copy.deepcopy(self.base_filters)
            for filter_ in filters.values():
                filter_.model = self._meta.model
            fields = {name: filter_.field for name, filter_ in filters.items()}
            form_class = type(f"{type(self).__name__}Form", (self._meta.form,), fields)
            share_fields(form_class, own=self.own_fields)
            self._form_classes[type(self)] = form_class
        return form_class

    @property
    def form(self) -> forms.Form:
        if not hasattr(self, "_form"):
            form = super().form
            # The shared class offers every choice of the class's queryset: this form
            # the request's.
            for name in self.own_fields:
                field = form.fields.get(name)
                if isinstance(field, forms.ModelChoiceField):
                    field.queryset = self.filters[name].get_queryset(self.request)
        return self._form
