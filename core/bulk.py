"""Bulk upserts that cost one statement per page, with little work in Python.

Django's ``bulk_create(update_conflicts=True)`` compiles every value of every row
through the field machinery, and psycopg2 then adapts each one; for pages of hundreds
of orders with their lines that dominated the sync. On PostgreSQL this module sends a
page as one JSON document, an array of rows each an array of values in column order,
and lets the server expand it::

    INSERT INTO t (a, b) SELECT (r->>0)::integer, (r->>1)::text
    FROM jsonb_array_elements(%s::jsonb) AS r
    ON CONFLICT (a) DO UPDATE SET b = EXCLUDED.b RETURNING id

Read as ``jsonb``, a row's values are reached by position at once. Rows as objects
(``json_to_recordset``) cost Postgres some 40 % more: a hash table of each object's
keys, every key of every row sent and read; rows as arrays of ``json`` text, read value
by value, cost it three times as much (each value found by reading the row from its
start).
So Python only runs msgspec's JSON encoder (in C, ``Decimal`` and aware ``datetime``
included, without a Python call per value), and looks for the two things Postgres
refuses in any text (a NUL character, a lone surrogate) in the document it produced
(:func:`core.sync.storable.storable_document`). The statement goes through Django's cursor,
so query counting and wrappers still see it. Other databases (the embedded SQLite
demo) fall back to ``bulk_create``, with the same result.

Rows are dicts keyed by field *attnames* (``connection_id``, not ``connection``) and
hold plain Python values: ``str``, ``int``, ``bool``, ``Decimal``, aware ``datetime``,
``None``, and ``dict``/``list`` for JSON fields, whose values may be msgspec structs
(a record from Mirakl kept as it is: the encoder writes it without a Python call).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from operator import itemgetter
from typing import Any

import msgspec
from django.db import connections, models, router
from django.db.models.expressions import DatabaseDefault, Value
from django.db.models.fields import NOT_PROVIDED

from core.sync.storable import storable_document

__all__ = [
    "by_keys_sql",
    "insert_rows",
    "instance_rows",
    "update_rows",
    "upsert",
    "values_by_keys",
]


def upsert(
    model: type[models.Model],
    rows: Sequence[dict[str, Any]],
    *,
    unique_fields: Sequence[str],
    update_fields: Sequence[str] | None,
    returning: Sequence[str] = ("id",),
    inserted: bool = False,
) -> list[tuple[Any, ...]]:
    """Insert ``rows``, updating ``update_fields`` of those that exist already.

    With ``update_fields=None`` existing rows are left alone (``DO NOTHING``) and only
    the inserted rows are returned. Otherwise every row is returned, as a tuple of the
    ``returning`` attnames, in no particular order; with ``returning=()``, nothing.

    :param inserted: end each tuple with whether the row was inserted rather than
        updated (PostgreSQL only: a row it has just inserted has no ``xmax``).
    """
    if not rows:
        return []
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        if inserted:
            raise NotImplementedError("telling inserted rows from updated ones needs Postgres")
        return _upsert_with_orm(model, rows, unique_fields, update_fields, returning)

    names = tuple(rows[0])
    key = (
        connection.alias,
        model,
        names,
        tuple(unique_fields),
        _key(update_fields),
        tuple(returning),
        inserted,
    )
    sql = _UPSERT_SQL.get(key) or _UPSERT_SQL.setdefault(
        key,
        _upsert_sql(connection, model, names, unique_fields, update_fields, returning, inserted),
    )
    document = _document(rows, names)
    with connection.cursor() as cursor:
        cursor.execute(sql, [document])
        return [tuple(r) for r in cursor.fetchall()] if returning or inserted else []


#: ``Decimal`` as its exact digits in a JSON string, ``datetime`` in ISO 8601 (an aware
#: one with its offset; Django's connections run in UTC, which is how Postgres reads a
#: naive one). Anything else that JSON has no type for is refused (``TypeError``).
_ENCODER = msgspec.json.Encoder(decimal_format="string")


#: The statement of each shape of upsert, made once.
_UPSERT_SQL: dict[tuple[Any, ...], str] = {}


def _key(names: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if names is None else tuple(names)


def _upsert_sql(
    connection: Any,
    model: type[models.Model],
    names: Sequence[str],
    unique_fields: Sequence[str],
    update_fields: Sequence[str] | None,
    returning: Sequence[str],
    inserted: bool = False,
) -> str:
    quote = connection.ops.quote_name
    fields = _fields(model, names)
    columns = ", ".join(quote(f.column) for f in fields)
    conflict = ", ".join(quote(_column(model, name)) for name in unique_fields)
    if update_fields:
        updates = ", ".join(
            f"{quote(_column(model, n))} = EXCLUDED.{quote(_column(model, n))}"
            for n in update_fields
        )
        action = f"DO UPDATE SET {updates}"
    else:
        action = "DO NOTHING"
    result = [quote(_column(model, name)) for name in returning]
    if inserted:
        result.append(f"({quote(model._meta.db_table)}.xmax = 0)")
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608 - names from models
        f"{_select(connection, fields)} "
        f"ON CONFLICT ({conflict}) {action}" + (f" RETURNING {', '.join(result)}" if result else "")
    )


def _fields(model: type[models.Model], names: Sequence[str]) -> list[models.Field]:
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    return [by_attname[name] for name in names]


def _select(connection: Any, fields: Sequence[models.Field]) -> str:
    """``SELECT`` each field's value from the document's rows (arrays, in field order)."""
    values = []
    for index, field in enumerate(fields):
        db_type = field.db_type(connection)
        if db_type == "jsonb":
            # A JSON null is SQL's NULL, as json_to_recordset read it.
            values.append(f"NULLIF(r->{index}, 'null'::jsonb)")
        else:
            # A text's length is checked when the value is assigned to its column: cast
            # to varchar(n) here, a longer one would be cut instead of refused.
            if db_type.startswith(("varchar", "char")):
                db_type = "text"
            values.append(f"(r->>{index})::{db_type}")
    return f"SELECT {', '.join(values)} FROM jsonb_array_elements(%s::jsonb) AS r"  # noqa: S608 - names from models


def _document(rows: Sequence[dict[str, Any]], names: tuple[str, ...]) -> str:
    """The rows as the document the statements read: an array of arrays, each row's
    values in the order of ``names`` (a row without one of them gives it as null)."""

    def dumps(rows: list[dict[str, Any]]) -> str:
        if len(names) == 1:
            values: list[Any] = [[row.get(names[0])] for row in rows]
        else:
            pick = itemgetter(*names)
            try:
                values = [pick(row) for row in rows]
            except KeyError:
                values = [[row.get(name) for name in names] for row in rows]
        return _ENCODER.encode(values).decode("utf-8")

    return storable_document(list(rows), dumps)


def instance_rows(instances: Sequence[models.Model]) -> list[dict[str, Any]]:
    """Unsaved model instances as rows for :func:`insert_rows` (every concrete field but
    an automatic primary key, by attname, as the instances hold them).

    Fields with ``auto_now``/``auto_now_add`` are sent as the instances hold them:
    set them before.
    """
    if not instances:
        return []
    meta = instances[0]._meta
    fields = [
        f
        for f in meta.concrete_fields
        if not (f.primary_key and isinstance(f, models.AutoField | models.BigAutoField))
    ]
    names = [f.attname for f in fields]
    rows = [{name: getattr(instance, name) for name in names} for instance in instances]
    # A field left to its database default holds an expression, not a value: send the
    # default's value (a computed one cannot travel in the document).
    for field in fields:
        default = getattr(field, "db_default", NOT_PROVIDED)
        if default is NOT_PROVIDED:
            continue
        if hasattr(default, "resolve_expression"):
            if not isinstance(default, Value):
                raise ValueError(f"{field.attname}: a computed database default")
            default = default.value
        for row in rows:
            if isinstance(row[field.attname], DatabaseDefault):
                row[field.attname] = default
    return rows


def insert_rows(
    model: type[models.Model], rows: Sequence[dict[str, Any]], *, returning: Sequence[str]
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (no conflict expected) in one statement, as :func:`upsert` sends
    them; returns the ``returning`` attnames of each row, in no particular order.

    What Django's ``bulk_create`` costs per value (each field's preparation, a
    parameter per value) is what a page of the sync cannot afford; signals are not sent,
    as with ``bulk_create``.
    """
    if not rows:
        return []
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        objects = model._default_manager.bulk_create([model(**_orm(row)) for row in rows])
        return [tuple(getattr(o, name) for name in returning) for o in objects]
    names = tuple(rows[0])
    key = (connection.alias, model, names, "insert", tuple(returning))
    sql = _UPSERT_SQL.get(key) or _UPSERT_SQL.setdefault(
        key, _insert_sql(connection, model, names, returning)
    )
    document = _document(rows, names)
    with connection.cursor() as cursor:
        cursor.execute(sql, [document])
        return [tuple(r) for r in cursor.fetchall()]


def _insert_sql(
    connection: Any, model: type[models.Model], names: Sequence[str], returning: Sequence[str]
) -> str:
    quote = connection.ops.quote_name
    fields = _fields(model, names)
    columns = ", ".join(quote(f.column) for f in fields)
    result = ", ".join(quote(_column(model, name)) for name in returning)
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608 - names from models
        f"{_select(connection, fields)} RETURNING {result}"
    )


def values_by_keys(
    model: type[models.Model],
    fields: Sequence[str],
    *,
    key: str,
    keys: Collection[Any],
    scope: dict[str, Any],
) -> list[tuple[Any, ...]]:
    """``model.objects.filter(**scope, <key>__in=keys).values_list(*fields)``, the keys sent
    as one array parameter on PostgreSQL (:func:`by_keys_sql`).

    Django prepares each value of an ``__in`` list through the field and the statement
    grows with the list; a page's hundred ids, a run's thousands of orders, cost more to
    ask for than to answer. ``scope`` and ``key`` name attnames; ``fields`` too (no
    joins): the values come back as the database adapter reads them.
    """
    connection = connections[router.db_for_read(model)]
    if connection.vendor != "postgresql":
        query = model._default_manager.filter(**scope, **{f"{key}__in": list(keys)})
        return list(query.values_list(*fields))
    keys = list(dict.fromkeys(keys))
    if not keys:
        return []
    sql = by_keys_sql(connection, model, fields, key=key, scope=scope)
    with connection.cursor() as cursor:
        cursor.execute(sql, [keys, *scope.values()])
        return [tuple(r) for r in cursor.fetchall()]


def by_keys_sql(
    connection: Any,
    model: type[models.Model],
    fields: Sequence[str],
    *,
    key: str,
    scope: Collection[str],
) -> str:
    """A PostgreSQL ``SELECT`` of ``fields`` of the rows whose ``key`` is one of an array's
    values, within ``scope`` (attnames equal to a parameter each). Its parameters: the
    array (of distinct, non-empty values), then the scope's values.

    Each key is looked up on its own, in a lateral subquery Postgres cannot merge into a
    join (``OFFSET 0``), so the index that starts with the scope and the key answers it
    whatever the statistics say. Asked as ``key = ANY(array)``, a first sync's stale
    statistics (a marketplace of "7 rows" holding thousands) made Postgres read every
    row of the scope and filter them, on every page: a cost that grew with the shop.
    """
    quote = connection.ops.quote_name
    columns = ", ".join(quote(_column(model, name)) for name in fields)
    where = [f"{quote(_column(model, name))} = %s" for name in scope]
    where.append(f'{quote(_column(model, key))} = k."key"')
    # The array typed by the key's column (an empty one too), text for a text column:
    # cast to varchar(n), a longer value would be cut and name another row.
    field = model._meta.get_field(key)
    cast = (
        "text"
        if isinstance(field, models.CharField | models.TextField)
        else field.db_type(connection)
    )
    return (
        f'SELECT x.* FROM unnest(%s::{cast}[]) AS k("key") CROSS JOIN LATERAL ('  # noqa: S608 - model names
        f"SELECT {columns} FROM {quote(model._meta.db_table)} "
        f"WHERE {' AND '.join(where)} OFFSET 0) AS x"
    )


def _orm(row: dict[str, Any]) -> dict[str, Any]:
    """A row for a model instance: records kept as they are in a JSON value (msgspec
    structs, which the JSON document encodes itself) as plain JSON values."""
    return {
        name: msgspec.to_builtins(value) if _holds_struct(value) else value
        for name, value in row.items()
    }


def _holds_struct(value: Any) -> bool:
    return isinstance(value, msgspec.Struct) or (
        isinstance(value, list) and bool(value) and isinstance(value[0], msgspec.Struct)
    )


def _column(model: type[models.Model], name: str) -> str:
    return model._meta.get_field(name).column


def _upsert_with_orm(
    model: type[models.Model],
    rows: Sequence[dict[str, Any]],
    unique_fields: Sequence[str],
    update_fields: Sequence[str] | None,
    returning: Sequence[str],
) -> list[tuple[Any, ...]]:
    objects = [model(**_orm(row)) for row in rows]
    if update_fields:
        created = model._default_manager.bulk_create(
            objects,
            update_conflicts=True,
            unique_fields=list(unique_fields),
            update_fields=[model._meta.get_field(n).name for n in update_fields],
        )
        return [tuple(getattr(o, name) for name in returning) for o in created if returning]
    keys = [model._meta.get_field(n).attname for n in unique_fields]
    existing = set(
        model._default_manager.filter(
            **{f"{keys[0]}__in": {row[keys[0]] for row in rows}}
        ).values_list(*keys)
    )
    fresh = [o for o in objects if tuple(getattr(o, k) for k in keys) not in existing]
    model._default_manager.bulk_create(fresh, ignore_conflicts=True)
    return [tuple(getattr(o, name) for name in returning) for o in fresh if returning]


def update_rows(
    model: type[models.Model], rows: Sequence[dict[str, Any]], *, fields: Sequence[str]
) -> int:
    """Set ``fields`` of each row, matched on its ``id``, in one statement.

    The counterpart of :func:`upsert` for rows known to exist; ``bulk_update`` would
    build a ``CASE WHEN`` per field and row.
    """
    if not rows:
        return 0
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        objects = [model(**_orm(row)) for row in rows]
        return model._default_manager.bulk_update(objects, [_name(model, f) for f in fields])
    key = (connection.alias, model, tuple(fields))
    shape = _UPDATE_SQL.get(key) or _UPDATE_SQL.setdefault(
        key, _update_sql(connection, model, fields)
    )
    names, sql = shape
    # Rows may name a relation by its field (``connection``): sent by attname.
    renames = {k: _attname(model, k) for k in {k for row in rows for k in row}}
    if any(k != attname for k, attname in renames.items()):
        rows = [{renames[k]: v for k, v in row.items()} for row in rows]
    document = _document(rows, names)
    with connection.cursor() as cursor:
        cursor.execute(sql, [document])
        return cursor.rowcount


#: The statement of each shape of update (and its columns' attnames), made once: the
#: sync updates its cursor after every page, and an idle sync twice.
_UPDATE_SQL: dict[tuple[Any, ...], tuple[tuple[str, ...], str]] = {}


def _update_sql(
    connection: Any, model: type[models.Model], fields: Sequence[str]
) -> tuple[tuple[str, ...], str]:
    quote = connection.ops.quote_name
    pk = model._meta.pk
    names = (pk.attname, *(_attname(model, name) for name in fields))
    columns = _fields(model, names)
    assignments = ", ".join(f"{quote(f.column)} = x.{quote(f.column)}" for f in columns[1:])
    aliases = ", ".join(quote(f.column) for f in columns)
    table = quote(model._meta.db_table)
    sql = (
        f"UPDATE {table} SET {assignments} "  # noqa: S608 - names from models
        f"FROM ({_select(connection, columns)}) AS x({aliases}) "
        f"WHERE {table}.{quote(pk.column)} = x.{quote(pk.column)}"
    )
    return names, sql


def _name(model: type[models.Model], attname: str) -> str:
    return model._meta.get_field(attname).name


def _attname(model: type[models.Model], name: str) -> str:
    return model._meta.get_field(name).attname
