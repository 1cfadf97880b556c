"""Query parameters from outside, checked in one place: integers, identifiers, search text.

Every page and API list reads its integer and identifier parameters through these
helpers, so odd input (``?page=٣``, ``?page=-1``, ``?assignee=²``, a NUL byte in
``?order=``) never reaches a paginator or the database as it came:

- a **page** falls back to its normal default (page 1, every marketplace, ...);
- the **API** answers 400 naming the parameter (``strict=True`` raises
  :class:`ParameterError`, which DRF turns into ``{"<name>": ["<message>"]}``).

Integers are ASCII digits only (Python's ``int()`` also takes "٣" and "²"'s relatives)
within bounds; identifiers (Mirakl ids, marketplace codes) hold no control character;
search text has its control characters replaced by spaces, so a NUL searches what is
around it instead of dropping the search.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions

__all__ = [
    "IDENTIFIER_PATTERN",
    "IDENTIFIER_SCHEMA",
    "MAX_INT",
    "ParameterError",
    "identifier_or_404",
    "parse_identifier",
    "parse_int",
    "query_identifier",
    "query_int",
    "search_text",
    "validate_identifier",
]

#: The largest integer a parameter may hold (a Postgres ``integer``).
MAX_INT = 2**31 - 1
#: C0 and C1 control characters (NUL, line breaks, escapes ...).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_INTEGER = re.compile(r"[+-]?[0-9]{1,12}")
#: The longest identifier we store (Mirakl ids, codes): anything longer matches nothing.
IDENTIFIER_MAX_LENGTH = 255
#: An identifier as the OpenAPI schema describes it (no control character).
IDENTIFIER_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
IDENTIFIER_SCHEMA: dict[str, Any] = {
    "type": "string",
    "maxLength": IDENTIFIER_MAX_LENGTH,
    "pattern": IDENTIFIER_PATTERN,
}


class ParameterError(exceptions.ValidationError):
    """A bad query parameter of the API: 400 with ``{name: [message]}``."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__({name: [message]})


def parse_int(value: Any, *, minimum: int | None = None, maximum: int = MAX_INT) -> int | None:
    """The integer ``value`` spells in ASCII digits, within bounds; None otherwise."""
    if value is None:
        return None
    text = str(value).strip()
    if not _INTEGER.fullmatch(text):
        return None
    number = int(text)
    if (minimum is not None and number < minimum) or number > maximum:
        return None
    return number


def parse_identifier(value: Any, *, max_length: int = IDENTIFIER_MAX_LENGTH) -> str | None:
    """``value`` stripped, when it is a non-empty identifier without control characters."""
    if value is None:
        return None
    text = str(value).strip()
    if not text or len(text) > max_length or _CONTROL.search(text):
        return None
    return text


def query_int(
    params: Mapping[str, Any],
    name: str,
    *,
    default: int | None = None,
    minimum: int | None = 1,
    maximum: int = MAX_INT,
    strict: bool = False,
) -> int | None:
    """The integer parameter ``name``: ``default`` when absent or empty; when bad,
    ``default`` (pages) or :class:`ParameterError` (``strict``, the API)."""
    raw = params.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    number = parse_int(raw, minimum=minimum, maximum=maximum)
    if number is None:
        if strict:
            low = minimum if minimum is not None else -maximum
            raise ParameterError(
                name,
                _("Must be a whole number from %(min)d to %(max)d.") % {"min": low, "max": maximum},
            )
        return default
    return number


def query_identifier(params: Mapping[str, Any], name: str, *, strict: bool = False) -> str | None:
    """The identifier parameter ``name`` (a Mirakl id, a marketplace code): None when
    absent or empty; when bad, None (pages) or :class:`ParameterError` (``strict``)."""
    raw = params.get(name)
    if raw is None or str(raw).strip() == "":
        return None
    value = parse_identifier(raw)
    if value is None and strict:
        raise ParameterError(name, str(_IDENTIFIER_MESSAGE))
    return value


def search_text(value: Any) -> str:
    """Search text with every control character made a space, stripped."""
    return _CONTROL.sub(" ", str(value or "")).strip()


def identifier_or_404(value: str) -> str:
    """A path's identifier, or 404: no object has a control character in its id."""
    checked = parse_identifier(value)
    if checked is None:
        raise Http404
    return checked


_IDENTIFIER_MESSAGE = gettext_lazy(
    "Must be an identifier of at most 255 characters, without control characters."
)


def validate_identifier(value: str) -> None:
    """Form and filter validator of identifiers (same rule as :func:`parse_identifier`)."""
    if value and parse_identifier(value) is None:
        raise ValidationError(_IDENTIFIER_MESSAGE, code="identifier")
