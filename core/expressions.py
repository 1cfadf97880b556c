"""Query expressions the selectors share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connections, models, router
from django.db.models import BooleanField, F, Func, Q, QuerySet
from django.db.models.expressions import RawSQL

__all__ = ["AnyOf", "in_ids", "in_subquery"]


class AnyOf(Func):
    """``value = ANY(array)`` (Postgres): a condition answered with an index on ``value``."""

    template = "(%(expressions)s))"
    arg_joiner = " = ANY("
    output_field = BooleanField()


def in_subquery(field: str, queryset: QuerySet[Any]) -> Q:
    """``field IN (queryset)``, written ``field = ANY(ARRAY(queryset))`` on Postgres.

    In an OR with another condition, ``IN (subquery)`` (or a join) leaves Postgres a
    sequential scan of the whole table; with the array it combines both sides' indexes.
    """
    if connections[router.db_for_read(queryset.model)].vendor != "postgresql":
        return Q(**{f"{field}__in": queryset})
    from django.contrib.postgres.expressions import ArraySubquery

    return Q(AnyOf(F(field), ArraySubquery(queryset.order_by())))


def in_ids(model: type[models.Model], field: str, ids: Iterable[int]) -> Q:
    """``field IN (ids)`` for ``model``'s rows, written ``field = ANY(%s::bigint[])`` on
    Postgres, the ids one parameter.

    An ``__in`` list goes through the field's preparation value by value (a related
    field's, some 5 µs an id); the sync asks about 13,000 orders at once, which psycopg2
    adapts as one array in a fraction of that. The same rows either way.
    """
    ids = list(ids)
    if connections[router.db_for_read(model)].vendor != "postgresql":
        return Q(**{f"{field}__in": ids})
    return Q(AnyOf(F(field), RawSQL("%s::bigint[]", (ids,))))
