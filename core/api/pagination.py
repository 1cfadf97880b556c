"""Cursor pages over a sort that is not one unique column (keyset pagination).

DRF's ``CursorPagination`` keeps only the first sort column in its cursor and skips
rows sharing that value with an offset capped at 1000: a sort on a nullable column
shared by many rows (the SLA due time: every incident without an open wait has none)
would lose or repeat rows. Here the cursor holds every sort key of the last row, the
last key being the primary key, so a position is unique and the next page is "every
row strictly after it" in the full sort, NULLs last.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import F, OrderBy, Q, QuerySet
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination

from core.params import ParameterError, query_int

__all__ = ["KeysetCursorPagination", "SortKey", "keyset_order_by"]


@dataclass(frozen=True, slots=True)
class SortKey:
    """One column of a sort: its field, its direction, and whether it can be NULL
    (NULLs come after every value, ascending or descending)."""

    field: str
    descending: bool = False
    nullable: bool = False

    def order_by(self, *, reverse: bool = False) -> OrderBy:
        """The ORDER BY term; ``reverse`` walks the same sort backwards."""
        descending = self.descending != reverse
        if not self.nullable:
            return F(self.field).desc() if descending else F(self.field).asc()
        # NULLs last going forwards, hence first going backwards.
        nulls = {"nulls_first": True} if reverse else {"nulls_last": True}
        return F(self.field).desc(**nulls) if descending else F(self.field).asc(**nulls)

    def beyond(self, value: Any, *, reverse: bool) -> Q | None:
        """Rows strictly after ``value`` in this column (before it when ``reverse``);
        None when no row can be."""
        if value is None:
            # Every value sorts before NULL, and NULLs are equal to each other.
            return Q(**{f"{self.field}__isnull": False}) if reverse else None
        later = "lt" if self.descending != reverse else "gt"
        condition = Q(**{f"{self.field}__{later}": value})
        if self.nullable and not reverse:
            condition |= Q(**{f"{self.field}__isnull": True})
        return condition

    def same(self, value: Any) -> Q:
        if value is None:
            return Q(**{f"{self.field}__isnull": True})
        return Q(**{self.field: value})


def keyset_order_by(keys: Sequence[SortKey], *, reverse: bool = False) -> list[OrderBy]:
    """The ORDER BY of a sort (used by the filter that offers it, too)."""
    return [key.order_by(reverse=reverse) for key in keys]


def _beyond(keys: Sequence[SortKey], values: Sequence[Any], *, reverse: bool) -> Q:
    """Rows strictly after (before) the position ``values`` in the whole sort:
    k1 > v1 OR (k1 = v1 AND (k2 > v2 OR (k2 = v2 AND ...)))."""
    condition: Q | None = None
    for key, value in reversed(list(zip(keys, values, strict=True))):
        parts = [key.beyond(value, reverse=reverse)]
        if condition is not None:
            parts.append(key.same(value) & condition)
        present = [part for part in parts if part is not None]
        if not present:
            condition = Q(pk__in=[])  # nothing can follow
            continue
        condition = present[0]
        for part in present[1:]:
            condition |= part
    return condition if condition is not None else Q()


def _regions(
    queryset: QuerySet, keys: Sequence[SortKey], values: Sequence[Any] | None, *, reverse: bool
) -> list[QuerySet]:
    """The querysets that give, one after the other, every row after the position
    ``values`` (from the start when None) in the sort; before it when ``reverse``,
    nearest first.

    When the first key is nullable, the rows with a value and the rows without (which
    sort after them) are two regions read apart, each in the order of an index: one
    query ordering NULLs last over an outer join (the incidents' due time on their
    queue rows) has Postgres sort every row the filters keep before the first page.
    """
    first, rest = keys[0], keys[1:]
    if not first.nullable:
        ordered = queryset.order_by(*keyset_order_by(keys, reverse=reverse))
        if values is None:
            return [ordered]
        return [ordered.filter(_beyond(keys, values, reverse=reverse))]
    plain = (replace(first, nullable=False), *rest)
    present = queryset.filter(**{f"{first.field}__isnull": False}).order_by(
        *keyset_order_by(plain, reverse=reverse)
    )
    absent = queryset.filter(**{f"{first.field}__isnull": True}).order_by(
        *keyset_order_by(rest, reverse=reverse)
    )
    if values is None:
        return [absent, present] if reverse else [present, absent]
    if values[0] is None:
        # A position among the NULLs: the rest of them, then (backwards) every value.
        absent = absent.filter(_beyond(rest, values[1:], reverse=reverse))
        return [absent, present] if reverse else [absent]
    present = present.filter(_beyond(plain, values, reverse=reverse))
    return [present] if reverse else [present, absent]


def _encode(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


class KeysetCursorPagination(CursorPagination):
    """Cursor pages in one of several sorts, chosen by ``?ordering=``.

    ``orderings`` maps each offered value to its keys; the last key must be unique and
    never NULL (the primary key). An unknown value falls back to ``default_ordering``:
    the filter that offers the choice rejects it first with a 400.

    Every list of the API pages with it: a cursor is the client's to send back, so a
    forged one (not base64, a position of the wrong type, a huge offset) is a 400
    naming ``cursor``, never a database error; ``page_size`` must be a whole number
    from 1 (larger than ``max_page_size`` is ``max_page_size``).
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering_param = "ordering"
    orderings: ClassVar[Mapping[str, tuple[SortKey, ...]]] = {
        "-pk": (SortKey("pk", descending=True),)
    }
    default_ordering: ClassVar[str] = "-pk"

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters

    def get_page_size(self, request: Any) -> int:
        size = query_int(request.query_params, self.page_size_query_param, strict=True)
        return self.page_size if size is None else min(size, self.max_page_size)

    def decode_cursor(self, request: Any) -> Cursor | None:
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise self._invalid_cursor() from None

    def _invalid_cursor(self) -> ParameterError:
        return ParameterError(self.cursor_query_param, _("Invalid cursor."))

    def get_sort_keys(self, request: Any) -> tuple[SortKey, ...]:
        chosen = request.query_params.get(self.ordering_param)
        return self.orderings.get(chosen or "", self.orderings[self.default_ordering])

    def paginate_queryset(
        self, queryset: QuerySet, request: Any, view: Any = None
    ) -> list[Any] | None:
        self.request = request
        self.page_size = self.get_page_size(request)
        if not self.page_size:
            return None
        self.base_url = request.build_absolute_uri()
        self.keys = self.get_sort_keys(request)
        self.ordering = tuple(key.field for key in self.keys)
        decoded = self.decode_cursor(request)
        # Positions are unique: a page never needs an offset, whatever the cursor says.
        reverse = decoded.reverse if decoded is not None else False
        position = decoded.position if decoded is not None else None
        self.cursor = (
            Cursor(offset=0, reverse=reverse, position=position) if decoded is not None else None
        )

        values = None if position is None else self._decode_position(queryset, position)
        results: list[Any] = []
        for region in _regions(queryset, self.keys, values, reverse=reverse):
            results += region[: self.page_size + 1 - len(results)]
            if len(results) > self.page_size:
                break
        self.page = results[: self.page_size]
        following = (
            self._get_position_from_instance(results[-1], self.ordering)
            if len(results) > len(self.page)
            else None
        )
        if reverse:
            self.page = list(reversed(self.page))
            self.has_next = position is not None
            self.has_previous = following is not None
            self.next_position = position
            self.previous_position = following
        else:
            self.has_next = following is not None
            self.has_previous = position is not None
            self.next_position = following
            self.previous_position = position
        if (self.has_previous or self.has_next) and self.template is not None:
            self.display_page_controls = True
        return self.page

    def _get_position_from_instance(self, instance: Any, ordering: Any) -> str:
        return json.dumps([_encode(getattr(instance, key.field)) for key in self.keys])

    def _decode_position(self, queryset: QuerySet, position: str) -> list[Any]:
        """The position's values, checked against the sort's fields (a model's field, or
        an annotation's output field): a cursor is the client's to send back, and a
        forged one must be a 400, never a database error."""
        model = queryset.model
        annotations = queryset.query.annotations
        invalid = self._invalid_cursor()
        try:
            raw = json.loads(position)
        except ValueError:
            raise invalid from None
        if not isinstance(raw, list) or len(raw) != len(self.keys):
            raise invalid
        values = []
        for key, item in zip(self.keys, raw, strict=True):
            if item is None:
                if not key.nullable:
                    raise invalid
                values.append(None)
                continue
            if not isinstance(item, str | int) or isinstance(item, bool):
                raise invalid
            try:
                if key.field == "pk":
                    field = model._meta.pk
                elif key.field in annotations:
                    field = annotations[key.field].output_field
                else:
                    field = model._meta.get_field(key.field)
                value = field.to_python(item)
            except (FieldDoesNotExist, ValidationError, TypeError, ValueError, OverflowError):
                raise invalid from None
            if isinstance(value, datetime) and value.tzinfo is None:
                raise invalid
            values.append(value)
        return values
