"""Reads that apps higher up extend: annotations registered on a lower app's queryset.

A lower floor cannot import a higher one, yet some of its reads are shown with what a
higher app knows: the incident page's header and the conversations carry the due time
of their SLA wait, which only the ``sla`` app computes. The lower app declares an
:class:`Annotations` point; the higher app registers a function on it from its
``AppConfig.ready``; the read applies them all, in the same single query.

:class:`RowAdditions` is the same point after the read: each function gets the rows
read and sets its attributes on them from a plain query of its own. Cheaper when what
it adds concerns one row of several (a subquery per row, written into SQL again on
every request, costs more to compile than its own query costs to run).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import QuerySet

__all__ = ["Annotations", "RowAdditions"]

Annotate = Callable[[QuerySet[Any]], QuerySet[Any]]
Add = Callable[[Sequence[Any]], None]


class Annotations:
    """An extension point of one read: ``apply`` runs every registered function."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._functions: list[Annotate] = []

    def register(self, function: Annotate) -> None:
        """Have every read through this point also go through ``function`` (once)."""
        if function not in self._functions:
            self._functions.append(function)

    def apply(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        for function in self._functions:
            queryset = function(queryset)
        return queryset

    def __repr__(self) -> str:
        return f"<Annotations {self.name}: {len(self._functions)}>"


class RowAdditions:
    """An extension point after one read: ``apply`` hands the rows to every registered
    function, which sets what it adds on them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._functions: list[Add] = []

    def register(self, function: Add) -> None:
        """Have every read through this point also go through ``function`` (once)."""
        if function not in self._functions:
            self._functions.append(function)

    def apply(self, rows: Sequence[Any]) -> None:
        for function in self._functions:
            function(rows)

    def __repr__(self) -> str:
        return f"<RowAdditions {self.name}: {len(self._functions)}>"
