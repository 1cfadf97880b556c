"""Query expressions the selectors share."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models, router
from django.db.models import BooleanField, F, Func, Q, QuerySet
from django.db.models.expressions import RawSQL

__all__ = ["AnyOf", "id_in", "in_ids", "in_subquery"]


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
    adapts as one array in a fraction of that. The same rows either way. For batches
    of thousands that Postgres should join rather than probe, :func:`id_in`.
    """
    ids = list(ids)
    if connections[router.db_for_read(model)].vendor != "postgresql":
        return Q(**{f"{field}__in": ids})
    return Q(AnyOf(F(field), RawSQL("%s::bigint[]", (ids,))))


def id_in(ids: Sequence[int]) -> RawSQL | list[int]:
    """The right-hand side of an ``__in`` filter on these ids: one array parameter on
    Postgres (``IN (SELECT unnest(%s::bigint[]))``), the plain list elsewhere.

    Django prepares each value of a plain list apart; a batch of 10,000 ids (the SLA
    sweep's) costs more in that preparation, three times per batch, than the statement
    does in Postgres. As a subquery, the ids can be joined (hashed) rather than looked
    for one by one in an array: :func:`in_ids` is the condition for fewer.
    """
    if connections[DEFAULT_DB_ALIAS].vendor != "postgresql":
        return list(ids)
    return RawSQL("SELECT unnest(%s::bigint[])", [list(ids)])
