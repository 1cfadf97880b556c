"""Query expressions the selectors share."""

from __future__ import annotations

from typing import Any

from django.db import connections, router
from django.db.models import BooleanField, F, Func, Q, QuerySet

__all__ = ["AnyOf", "in_subquery"]


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
