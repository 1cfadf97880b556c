"""Queries whose SQL is written once per process; each run binds its own values.

Turning a queryset with nested subqueries into SQL costs milliseconds of CPU on every
request (the user with their permissions, each row's unread count on the queue): more
than Postgres takes to answer. A :class:`PrecompiledQuery` compiles its queryset once,
with stand-in values in the places of the request's own (the user, the ids of a page),
and each run swaps the stand-ins for the values in the compiled parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db import connections
from django.db.models import QuerySet

__all__ = ["PrecompiledQuery"]


class PrecompiledQuery:
    """``build(**stand_ins)``'s SQL, compiled on first use for each database.

    :param build: makes the queryset from its stand-in values (keyword arguments).
    :param stand_ins: a value per name that appears nowhere else in the query (a
        negative id within the column's range, else Django leaves the condition out),
        found again among the compiled parameters.
    """

    def __init__(self, build: Callable[..., QuerySet[Any]], **stand_ins: Any) -> None:
        self.build = build
        self.stand_ins = stand_ins
        self._compiled: dict[str, tuple[str, tuple[Any, ...], dict[int, str]]] = {}

    def _compile(self, using: str) -> tuple[str, tuple[Any, ...], dict[int, str]]:
        compiled = self._compiled.get(using)
        if compiled is None:
            queryset = self.build(**self.stand_ins)
            sql, params = queryset.query.get_compiler(using=using).as_sql()
            slots: dict[int, str] = {}
            for name, stand_in in self.stand_ins.items():
                found = [
                    n for n, p in enumerate(params) if type(p) is type(stand_in) and p == stand_in
                ]
                if len(found) != 1:
                    raise ValueError(f"the stand-in of {name!r} is not in the query exactly once")
                slots[found[0]] = name
            compiled = self._compiled[using] = (sql, tuple(params), slots)
        return compiled

    def bind(self, using: str, values: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
        """The SQL and its parameters with ``values`` in the stand-ins' places."""
        sql, params, slots = self._compile(using)
        bound = tuple(values[slots[n]] if n in slots else p for n, p in enumerate(params))
        return sql, bound

    def rows(self, using: str, **values: Any) -> list[tuple[Any, ...]]:
        """Run it: the rows as tuples, in the queryset's column order."""
        sql, params = self.bind(using, values)
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
