"""Making records from Mirakl storable before a page's bulk statement, one row at a time.

A page is written in one statement per table (:mod:`core.bulk`), and Postgres
refuses the whole statement for a single value it cannot hold. So every row goes
through :class:`RowCleaner` first, which knows the columns from the model's fields:

- NUL characters are removed from every text, JSON values included (Postgres ``text``
  and ``jsonb`` cannot hold them); lone UTF-16 surrogates (``"\\ud800"`` in Mirakl's
  JSON) become U+FFFD (both found in the page's document, :func:`storable_document`);
- a text longer than its column is clipped and ends with "…"; the row's identifiers
  are never clipped (a clipped id would name another record): the row is unstorable;
- an integer outside its column's range, or a decimal with more digits than its column
  holds, makes the row unstorable (a clamped quantity or amount would be a lie).

:class:`Unstorable` says why, for the caller to skip that record, name it (see
:mod:`core.sync.skipped`) and write the others.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec
from django.db import connections, models, router

from mirakl.schemas import record_json

__all__ = [
    "ELLIPSIS",
    "RowCleaner",
    "Unstorable",
    "clean_text",
    "excerpt",
    "storable_document",
]

logger = logging.getLogger(__name__)

ELLIPSIS = "…"
#: Characters of a record kept to show what it looked like.
EXCERPT_LENGTH = 300

_SURROGATE = re.compile("[\ud800-\udfff]")

_TEXT, _JSON, _INT, _DECIMAL = "text", "json", "int", "decimal"


class Unstorable(ValueError):
    """A record no column can hold as it is; the message says which value and why."""

    def __init__(self, message: str, *, reason: str = "out_of_range") -> None:
        super().__init__(message)
        #: A :class:`~core.sync.models.SkippedRecord.Reason` value.
        self.reason = reason


def clean_text(value: str) -> str:
    """``value`` without NUL characters and with lone surrogates replaced."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value.isascii() and _SURROGATE.search(value):
        value = _SURROGATE.sub("\ufffd", value)
    return value


def _clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, msgspec.Struct):  # a record kept as it is (an address)
        return _clean_json(msgspec.to_builtins(value))
    if isinstance(value, Mapping):
        return {clean_text(str(k)): _clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(v) for v in value]
    return value


def excerpt(record: Any, *, length: int = EXCERPT_LENGTH) -> str:
    """The beginning of a record as compact JSON, storable itself."""
    if hasattr(record, "model_dump"):
        record = record.model_dump(mode="json", by_alias=True, exclude_none=True)
    elif isinstance(record, msgspec.Struct):
        record = record_json(record)
    text = json.dumps(record, ensure_ascii=False, default=str, separators=(",", ":"))
    text = clean_text(text)
    return text if len(text) <= length else text[: length - 1] + ELLIPSIS


@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    kind: str
    limit: int | None = None
    low: int | Decimal | None = None
    high: int | Decimal | None = None
    key: bool = False


class RowCleaner:
    """Cleans rows (dicts keyed by attname, as :func:`core.bulk.upsert` takes them)
    of one model so that Postgres accepts them.

    NUL characters and lone surrogates are looked for in the identifiers only: elsewhere
    :func:`storable_document` finds them in a page's JSON document at C speed and cleans
    the rows then, which keeps the usual page (none of either) cheap. Rows written
    through the ORM rather than :mod:`core.bulk` need ``deep=True``.

    :param keys: attnames that identify the record: never clipped, and an id with a NUL
        character or a lone surrogate makes the row unstorable (cleaning would name
        another record).
    :param deep: also clean every text and JSON value here.
    """

    def __init__(
        self,
        model: type[models.Model],
        *,
        keys: Iterable[str] = ("mirakl_id",),
        deep: bool = False,
    ) -> None:
        self.model = model
        self.keys = frozenset(keys)
        self.deep = deep
        self._columns: dict[str, _Column | None] = {}
        self._plans: dict[tuple[str, ...], tuple[list[_Column], Callable[[dict], bool]]] = {}

    def _column(self, name: str) -> _Column | None:
        if name in self._columns:
            return self._columns[name]
        field = next(f for f in self.model._meta.concrete_fields if f.attname == name)
        column: _Column | None = None
        if isinstance(field, models.JSONField):
            column = _Column(name, _JSON) if self.deep else None
        elif isinstance(field, models.CharField | models.TextField):
            limit = field.max_length if isinstance(field, models.CharField) else None
            key = name in self.keys
            if limit is not None or key or self.deep:
                column = _Column(name, _TEXT, limit=limit, key=key)
        elif isinstance(field, models.IntegerField) and not field.is_relation:
            ops = connections[router.db_for_write(self.model)].ops
            low, high = ops.integer_field_range(field.get_internal_type())
            column = _Column(name, _INT, low=low, high=high)
        elif isinstance(field, models.DecimalField):
            bound = Decimal(10) ** (field.max_digits - field.decimal_places)
            column = _Column(name, _DECIMAL, low=-bound, high=bound)
        self._columns[name] = column
        return column

    def _plan(self, names: tuple[str, ...]) -> tuple[list[_Column], Callable[[dict], bool]]:
        plan = self._plans.get(names)
        if plan is None:
            columns = [c for n in names if (c := self._column(n)) is not None]
            plan = self._plans[names] = (columns, self._compile(columns))
        return plan

    def _compile(self, columns: list[_Column]) -> Callable[[dict], bool]:
        """A function that says, in one expression, whether a row of this shape needs no
        change (nearly every row): the checks of :meth:`clean` without its loop."""
        if self.deep:
            return lambda row: False
        checks = []
        env: dict[str, Any] = {"_SURROGATE": _SURROGATE}
        for index, column in enumerate(columns):
            value = f"(x := r[{column.name!r}]) is None"
            if column.kind == _TEXT:
                test = "True" if column.limit is None else f"len(x) <= {column.limit}"
                if column.key:
                    test += " and '\\x00' not in x and (x.isascii() or not _SURROGATE.search(x))"
            elif column.kind == _INT:
                test = f"{column.low} <= x <= {column.high}"
            else:
                env[f"low{index}"], env[f"high{index}"] = column.low, column.high
                test = f"low{index} < x < high{index}"
            checks.append(f"({value} or ({test}))")
        source = (
            "def fits(r):\n    try:\n        return "
            + (" and ".join(checks) or "True")
            + "\n    except ArithmeticError:\n        return False\n"
        )
        exec(source, env)  # noqa: S102 - the source is built from the model's fields
        return env["fits"]

    def clean(self, row: dict[str, Any]) -> dict[str, Any]:
        """Make ``row`` storable in place and return it; raise :class:`Unstorable`."""
        columns, fits = self._plan(tuple(row))
        if fits(row):
            return row
        deep = self.deep
        for column in columns:
            value = row[column.name]
            if value is None:
                continue
            kind = column.kind
            if kind == _TEXT:
                if column.key:
                    self._key(column, value)
                elif deep:
                    value = row[column.name] = clean_text(value)
                if column.limit is not None and len(value) > column.limit:
                    row[column.name] = self._clip(column, value)
            elif kind == _JSON:
                row[column.name] = _clean_json(value)
            elif kind == _INT:
                if not column.low <= value <= column.high:
                    raise Unstorable(f"{column.name} out of range: {value}")
            elif not value.is_finite() or not column.low < value < column.high:  # decimal
                raise Unstorable(f"{column.name} out of range: {value}")
        return row

    def _key(self, column: _Column, value: str) -> None:
        if clean_text(value) != value:
            raise Unstorable(
                f"{column.name} holds a NUL character or an invalid one: {excerpt(value)}",
                reason="unreadable",
            )
        if column.limit is not None and len(value) > column.limit:
            raise Unstorable(
                f"{column.name} longer than {column.limit} characters: {value[:80]}…",
                reason="too_long",
            )

    def _clip(self, column: _Column, value: str) -> str:
        logger.warning(
            "%s.%s clipped from %d to %d characters",
            self.model.__name__,
            column.name,
            len(value),
            column.limit,
        )
        return value[: column.limit - 1] + ELLIPSIS  # type: ignore[operator]


#: In JSON: a NUL character (escaped by every encoder), and a UTF-16 surrogate (as
#: an encoder with ``ensure_ascii`` writes it; a UTF-8 one refuses it instead).
_NUL_ESCAPE = "\\u0000"
_SURROGATE_ESCAPE = "\\ud"
#: A high surrogate not followed by a low one, or a low one not preceded by a high one.
_LONE_SURROGATE_ESCAPE = re.compile(
    r"\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f][0-9a-f]{2})"
    r"|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}"
)


def storable_document(
    rows: list[dict[str, Any]], dump: Callable[[list[dict[str, Any]]], str]
) -> str:
    """``dump(rows)`` as JSON without NUL characters or lone surrogates anywhere:
    Postgres refuses both in ``text`` and ``jsonb``.

    Looking for them in the document is a C-speed substring search (a UTF-8 encoder
    refuses a lone surrogate outright: ``UnicodeEncodeError``); only a document that has
    one has its rows cleaned value by value and dumped again.
    """
    try:
        document: str | None = dump(rows)
    except UnicodeEncodeError:
        document = None
    if (
        document is None
        or _NUL_ESCAPE in document
        or (_SURROGATE_ESCAPE in document and _LONE_SURROGATE_ESCAPE.search(document))
    ):
        logger.warning("A page held NUL characters or lone surrogates: removed")
        for row in rows:
            for name, value in row.items():
                if isinstance(value, str | dict | list | msgspec.Struct):
                    row[name] = _clean_json(value)
        document = dump(rows)
    return document
