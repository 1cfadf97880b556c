"""Queries whose SQL is written once per process; each run binds its own values.

Turning a queryset with nested subqueries into SQL costs milliseconds of CPU on every
request (the user with their permissions, each row's unread count on the queue): more
than Postgres takes to answer. A :class:`PrecompiledQuery` compiles its queryset once,
with stand-in values in the places of the request's own (the user, the ids of a page),
and each run swaps the stand-ins for the values in the compiled parameters.

:meth:`PrecompiledQuery.instances` gives model instances as iterating the queryset
would (its ``select_related``, deferred fields and annotations), from what the compiler
worked out once: which column goes to which object, and each column's converters.

On Postgres each runs as a statement prepared once per database connection
(:func:`prepared_statement`: ``PREPARE`` once, then ``EXECUTE``): Postgres parses and
plans it for the connection, not for every request. Planning was most of what these
queries cost Postgres: on the incident page 1.9 ms of planning for 0.3 ms of execution.
A transaction-mode connection pooler (pgbouncer) in front of Postgres would not keep a
connection's prepared statements.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import pickle
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import JSONField, Model, QuerySet
from django.db.models.base import ModelState
from django.db.models.query import (  # type: ignore[attr-defined]
    ModelIterable,
    get_related_populators,
)
from django.db.models.signals import post_init, pre_init

from core.kept import Kept

__all__ = ["PrecompiledQuery", "prepared_statement"]

#: (position, converters, expression) of each selected column that has converters.
_Converters = tuple[tuple[int, tuple[Callable[..., Any], ...], Any], ...]


@functools.lru_cache(maxsize=256)
def _numbered(sql: str) -> tuple[str, int]:
    """psycopg2's SQL (``%s`` placeholders, ``%%`` a percent sign) as ``PREPARE`` takes it
    (``$1``, ``$2``…), and how many parameters it has."""
    numbers = itertools.count(1)
    prepared = re.sub(
        r"%[s%]", lambda match: "%" if match.group() == "%%" else f"${next(numbers)}", sql
    )
    return prepared, next(numbers) - 1


@functools.lru_cache(maxsize=256)
def _statement(sql: str, name: str | None) -> tuple[str, str, str]:
    """(name, ``PREPARE``, ``EXECUTE``) of ``sql``; named after its text by default."""
    prepared, count = _numbered(sql)
    if name is None:
        name = "incidesk_" + hashlib.blake2b(sql.encode(), digest_size=8).hexdigest()
    execute = f"EXECUTE {name} ({', '.join(['%s'] * count)})" if count else f"EXECUTE {name}"
    return name, f"PREPARE {name} AS {prepared}", execute


def prepared_statement(using: str, sql: str, *, name: str | None = None) -> str:
    """What to run for ``sql`` (psycopg2's placeholders) on ``using``, with the same
    parameters: on Postgres, ``EXECUTE`` of it prepared on the current connection
    (prepared now if this connection has not been asked for it yet); elsewhere ``sql``.

    :param name: the statement's name; by default one made from the SQL.
    """
    wrapper: Any = connections[using]  # carries the names prepared on its connection
    if wrapper.vendor != "postgresql":
        return sql
    name, prepare, execute = _statement(sql, name)
    # Connected (again, should the request's health check close the connection), so
    # the connection below is the one the statement runs on.
    wrapper.close_if_health_check_failed()
    wrapper.ensure_connection()
    # The names prepared so far, on the connection they were prepared on.
    prepared_on = getattr(wrapper, "incidesk_prepared_on", None)
    if prepared_on is None or prepared_on[0] is not wrapper.connection:
        prepared_on = wrapper.incidesk_prepared_on = (wrapper.connection, set())
    names: set[str] = prepared_on[1]
    if name not in names:
        # On the driver's own cursor, as Django sets up a connection (time zone, role):
        # once per connection, not a query of the request's.
        with wrapper.connection.cursor() as cursor:
            cursor.execute(prepare)
        names.add(name)
    return execute


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
        self._plans: dict[str, _Plan] = {}
        self._converters: dict[str, _Converters] = {}

    def _compile(self, using: str) -> tuple[str, tuple[Any, ...], dict[int, str]]:
        compiled = self._compiled.get(using)
        if compiled is None:
            queryset = self.build(**self.stand_ins)
            compiler = queryset.query.get_compiler(using=using)
            sql, params = compiler.as_sql()
            slots: dict[int, str] = {}
            for name, stand_in in self.stand_ins.items():
                found = [
                    n for n, p in enumerate(params) if type(p) is type(stand_in) and p == stand_in
                ]
                if len(found) != 1:
                    raise ValueError(f"the stand-in of {name!r} is not in the query exactly once")
                slots[found[0]] = name
            # The SQL last: the threads of a gunicorn worker share this object, and one
            # that finds the SQL compiled reads the converters and the plan without
            # compiling. Published first, another thread's first request could find the
            # SQL without its plan ("does not select model instances", a 500).
            self._converters[using] = _converters(compiler)
            if queryset._iterable_class is ModelIterable:
                self._plans[using] = _Plan.of(compiler, using)
            compiled = self._compiled[using] = (sql, tuple(params), slots)
        return compiled

    def bind(self, using: str, values: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
        """The SQL and its parameters with ``values`` in the stand-ins' places."""
        sql, params, slots = self._compile(using)
        bound = tuple(values[slots[n]] if n in slots else p for n, p in enumerate(params))
        return sql, bound

    def rows(self, using: str, **values: Any) -> list[tuple[Any, ...]]:
        """Run it: the rows as tuples, in the queryset's column order, each value as the
        queryset gives it (the backend's and the fields' converters: SQLite's dates)."""
        sql, params = self.bind(using, values)
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(prepared_statement(using, sql), params)
            rows = cursor.fetchall()
        converters = self._converters[using]
        if not converters:
            return rows
        return [tuple(_convert(list(row), converters, connection)) for row in rows]

    def instances(self, using: str, **values: Any) -> list[Any]:
        """Run it: model instances, as iterating the queryset gives them (its
        ``select_related``, deferred fields and annotations; not ``prefetch_related``)."""
        sql, params = self.bind(using, values)
        plan = self._plans.get(using)
        if plan is None:
            raise ValueError("the query does not select model instances")
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(prepared_statement(using, sql), params)
            rows = cursor.fetchall()
        return plan.instances(rows, connection)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What Django's ``ModelIterable`` takes from the compiler, worked out once."""

    using: str
    col_count: int | None
    #: (position, converters, expression) of each column that has converters.
    converters: _Converters
    model: Any
    init_list: tuple[str, ...]
    start: int
    end: int
    related_populators: tuple[Any, ...]
    annotations: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, compiler: Any, using: str) -> _Plan:
        select, klass_info = compiler.select, compiler.klass_info
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        return cls(
            using=using,
            col_count=compiler.col_count if compiler.has_extra_select else None,
            converters=_converters(compiler),
            model=klass_info["model"],
            init_list=tuple(column[0].target.attname for column in select[start:end]),
            start=start,
            end=end,
            related_populators=tuple(get_related_populators(klass_info, select, using)),
            annotations=tuple(compiler.annotation_col_map.items()),
        )

    def instances(self, rows: list[tuple[Any, ...]], connection: Any) -> list[Any]:
        objects = []
        make = _maker(self.model, self.using, self.init_list)
        for fetched in rows:
            row = list(fetched[: self.col_count] if self.col_count is not None else fetched)
            _convert(row, self.converters, connection)
            obj = make(row[self.start : self.end])
            for populator in self.related_populators:
                populator.populate(row, obj)
            for name, position in self.annotations:
                setattr(obj, name, row[position])
            objects.append(obj)
        return objects


def _maker(model: Any, using: str, attnames: tuple[str, ...]) -> Callable[[list[Any]], Any]:
    """``model.from_db(using, attnames, values)`` for a row's values. For a model that
    neither changes how it is made (its own ``__init__`` or ``from_db``) nor has
    ``pre_init``/``post_init`` receivers, the instance is made as ``Model.__init__``
    makes one from the values of its fields (each in its ``__dict__``; a field not
    selected left out, deferred), without its checks and signals: on an incident page
    with a conversation of 250 messages, making them cost more than reading them."""
    if (
        model.__init__ is not Model.__init__
        or model.from_db.__func__ is not Model.from_db.__func__  # type: ignore[attr-defined]
        or pre_init.has_listeners(model)
        or post_init.has_listeners(model)
    ):
        return functools.partial(model.from_db, using, attnames)
    new = model.__new__

    def make(values: list[Any]) -> Any:
        obj = new(model)
        state = obj._state = ModelState()
        state.adding = False
        state.db = using
        obj.__dict__.update(zip(attnames, values, strict=True))
        return obj

    return make


def _converters(compiler: Any) -> _Converters:
    """(position, converters, expression) of each selected column that has converters."""
    fields = [column[0] for column in compiler.select[0 : compiler.col_count]]
    return tuple(
        (position, tuple(_quicker(c) for c in converters), expression)
        for position, (converters, expression) in compiler.get_converters(fields).items()
    )


#: Short JSON texts decoded by this process (a message's recipients come in a handful of
#: shapes), kept pickled: unpickling gives each row values of its own, in a third of the
#: time the JSON decoder takes.
_JSON_SEEN: Kept[str, bytes] = Kept(1024)
_JSON_SEEN_LONGEST = 200


def _quicker(converter: Callable[..., Any]) -> Callable[..., Any]:
    """``converter``, or the same answers sooner: a JSON field's empty list (a message
    without files, most of them) made without the JSON decoder, and a short text seen
    before from its copy kept pickled. A conversation's messages decode two JSON
    columns each: a tenth of the page of one of 250."""
    field = getattr(converter, "__self__", None)
    if (
        getattr(converter, "__func__", None) is not JSONField.from_db_value
        or not isinstance(field, JSONField)
        or field.decoder is not None
    ):
        return converter

    def from_db_value(value: Any, expression: Any, connection: Any) -> Any:
        if type(value) is not str:
            return converter(value, expression, connection)
        if value == "[]":
            return []
        seen = _JSON_SEEN.get(value)
        if seen is not None:
            return pickle.loads(seen)  # noqa: S301 - pickled by this process just below
        decoded = converter(value, expression, connection)
        if len(value) <= _JSON_SEEN_LONGEST:
            _JSON_SEEN.keep(value, pickle.dumps(decoded))
        return decoded

    return from_db_value


def _convert(row: list[Any], converters: _Converters, connection: Any) -> list[Any]:
    for position, functions, expression in converters:
        value = row[position]
        for function in functions:
            value = function(value, expression, connection)
        row[position] = value
    return row
