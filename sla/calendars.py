"""Turning :class:`~sla.models.BusinessCalendar` rows into immutable calendars.

Equal calendars are interned: every policy, sweep and request that builds the same
calendar gets the same :class:`~sla.business_hours.Calendar` object, and with it the
day intervals it has already worked out. A calendar edited in the admin differs in
value, so it gets a fresh object and the old one is simply no longer used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sla.business_hours import Calendar

if TYPE_CHECKING:
    from sla.models import BusinessCalendar

__all__ = ["calendar_from_model", "intern_calendar"]

_INTERNED: dict[Calendar, Calendar] = {}
_MAX_INTERNED = 256


def intern_calendar(calendar: Calendar) -> Calendar:
    """The shared instance equal to ``calendar``."""
    shared = _INTERNED.get(calendar)
    if shared is None:
        if len(_INTERNED) >= _MAX_INTERNED:
            _INTERNED.clear()
        shared = _INTERNED[calendar] = calendar
    return shared


def _merged(periods: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Sorted, with overlapping or touching periods joined (the admin may enter both)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(periods):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def calendar_from_model(model: BusinessCalendar) -> Calendar:
    """The calendar of a row (its periods and closed days may be prefetched)."""
    week: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    for period in model.periods.all():
        week[period.weekday].append(period.seconds)
    return intern_calendar(
        Calendar(
            week=tuple(_merged(day) for day in week),
            time_zone=model.time_zone,
            country=model.country or None,
            subdivision=model.subdivision or None,
            closed_dates=frozenset(day.date for day in model.closed_days.all()),
        )
    )
