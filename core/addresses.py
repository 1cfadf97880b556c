"""Addresses of views with ids in them, reversed once per URLconf rather than per link.

``reverse`` walks the URL resolver and its converters on every call, about 50 µs: the
incident page draws some twenty links of its panels' actions (``/incidents/<pk>/notes/``,
``/incidents/<pk>/threads/<pk>/reply/``…), a millisecond. :func:`reverse_ids` reverses
each view name once, with stand-in ids, and puts the ids in their places afterwards:
an integer's place in an address is its digits, whatever the URLconf says of it.
"""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.translation import get_language

__all__ = ["reverse_ids"]

#: Ten digits each, none a part of another, found exactly once in the address.
_STAND_INS = tuple(9_876_543_210 + n for n in range(6))

#: (URLconf, script prefix, language, name, number of ids) → the address in pieces
#: around the ids, or None when stand-ins cannot say (``reverse`` answers each time).
_PATTERNS: dict[tuple[Any, ...], tuple[str, ...] | None] = {}


def _pattern(name: str, count: int) -> tuple[str, ...] | None:
    key = (get_urlconf(), get_script_prefix(), get_language(), name, count)
    try:
        return _PATTERNS[key]
    except KeyError:
        pass
    pattern: tuple[str, ...] | None = None
    stand_ins = [str(n) for n in _STAND_INS[:count]]
    try:
        address = reverse(name, args=list(_STAND_INS[:count]))
    except NoReverseMatch:
        address = ""
    if address and all(address.count(s) == 1 for s in stand_ins):
        pieces = []
        rest = address
        for stand_in in stand_ins:
            before, found, after = rest.partition(stand_in)
            if not found:  # the ids in another order than the arguments
                break
            pieces.append(before)
            rest = after
        else:
            pattern = (*pieces, rest)
    _PATTERNS[key] = pattern
    return pattern


def reverse_ids(name: str, *ids: Any) -> str:
    """``reverse(name, args=ids)``: the same address. When every argument is a
    non-negative integer (model ids), from the name's address reversed once."""
    if len(ids) > len(_STAND_INS) or not all(type(i) is int and i >= 0 for i in ids):
        return reverse(name, args=list(ids))
    pattern = _pattern(name, len(ids))
    if pattern is None:
        return reverse(name, args=list(ids))
    parts = [pattern[0]]
    for n, value in enumerate(ids):
        parts.append(str(value))
        parts.append(pattern[n + 1])
    return "".join(parts)
