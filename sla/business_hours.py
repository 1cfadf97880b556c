"""Business-time arithmetic: pure functions over a :class:`Calendar`.

Written here on purpose (see STYLE.md): the maintained libraries either work in whole
days or are unmaintained. The model is simple:

- A calendar has, per weekday, working intervals ``[start, end)`` in *local wall time*
  (seconds from midnight, ``86400`` meaning 24:00), a time zone, public holidays from
  the ``holidays`` package (country and optional region) and extra closed dates.
- Each local day is turned once into its intervals in *real* time (UTC microseconds),
  converting every boundary with ``zoneinfo``. On the days the clocks change, an
  interval is therefore one hour longer or shorter in real time than on the wall
  clock, which is what business time measures. A boundary that falls in the spring
  gap is read with the offset before the change (``fold=0``), like ``zoneinfo`` does.
- Adding time walks those intervals day by day, never minute by minute; the per-day
  intervals are cached on the calendar and holiday sets are cached per year.
- A calendar also keeps a table of the intervals of a run of days with the working
  time before each one, so that a deadline inside the run is two binary searches
  (a first sweep over a large shop computes one per open wait). The walk stays the
  definition: outside the table's days, and in a zone whose days overlap in real time,
  the time is walked as before.

All arithmetic is on integer microseconds, so results are exact.
"""

from __future__ import annotations

import functools
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "DAY_SECONDS",
    "MON_FRI_9_18",
    "MON_FRI_WHOLE_DAYS",
    "WHOLE_WEEK",
    "Calendar",
    "WeekHours",
    "add_business_time",
    "add_business_times",
    "add_working_days",
    "advance_us",
    "business_time_between",
    "from_us",
    "holiday_dates",
    "to_us",
    "week_hours",
]

DAY_SECONDS = 86_400
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_US = timedelta(microseconds=1)
_DAY_US = DAY_SECONDS * 1_000_000
_ZERO = timedelta(0)
#: A calendar with no working time for this many consecutive days is broken, not slow.
_MAX_CLOSED_STREAK = 3 * 366
#: Per-calendar day cache size before it is emptied (about 27 years of days).
_MAX_CACHED_DAYS = 10_000
#: Days a working-time table covers at first, and at most (then it starts again).
_TABLE_DAYS = 32
_MAX_TABLE_DAYS = 3 * 366

#: Working intervals per weekday (Monday first): ``((start_s, end_s), ...)`` × 7.
WeekHours = tuple[tuple[tuple[int, int], ...], ...]


def _seconds(value: time | str | int) -> int:
    """Seconds from midnight of ``09:00``, ``"24:00"``, ``time(9)`` or an int."""
    if isinstance(value, int):
        return value
    if isinstance(value, time):
        return value.hour * 3600 + value.minute * 60 + value.second
    hours, _, rest = value.partition(":")
    minutes, _, seconds = rest.partition(":")
    return int(hours) * 3600 + int(minutes or 0) * 60 + int(seconds or 0)


def week_hours(
    hours: Mapping[int, Iterable[tuple[time | str | int, time | str | int]]],
) -> WeekHours:
    """Build :data:`WeekHours` from ``{weekday: [(start, end), ...]}`` (0 = Monday).

    Missing weekdays are closed. ``"24:00"`` (or ``86400``) ends an interval at midnight.
    """
    return tuple(
        tuple(sorted((_seconds(s), _seconds(e)) for s, e in hours.get(day, ()))) for day in range(7)
    )


#: Monday to Friday, 9:00 to 18:00.
MON_FRI_9_18: WeekHours = week_hours({day: [("09:00", "18:00")] for day in range(5)})
#: Monday to Friday, the whole day (00:00 to 24:00).
MON_FRI_WHOLE_DAYS: WeekHours = week_hours({day: [(0, DAY_SECONDS)] for day in range(5)})
#: Every day, the whole day.
WHOLE_WEEK: WeekHours = week_hours({day: [(0, DAY_SECONDS)] for day in range(7)})


@functools.cache
def holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """The public holidays of one year (national plus the region's, when one is given)."""
    return frozenset(
        holidays.country_holidays(country, subdiv=subdivision or None, years=year).keys()
    )


@dataclass(frozen=True, slots=True)
class Calendar:
    """When a business works: weekly hours, time zone, public holidays, closed dates.

    Immutable and hashable by value. Each instance keeps its own cache of day
    intervals, so build it once (``sla.calendars.calendar_from_model`` does) and reuse it.
    """

    week: WeekHours = MON_FRI_9_18
    time_zone: str = "Europe/Madrid"
    country: str | None = "ES"
    subdivision: str | None = None
    closed_dates: frozenset[date] = frozenset()
    tz: ZoneInfo = field(init=False, compare=False, repr=False)
    _days: dict[int, tuple[int, ...]] = field(
        init=False, compare=False, repr=False, default_factory=dict
    )
    _table: _WorkTable | None = field(init=False, compare=False, repr=False, default=None)

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise ValueError("a calendar needs the hours of 7 weekdays")
        for day in self.week:
            previous_end = 0
            for start, end in day:
                if not 0 <= start < end <= DAY_SECONDS or start < previous_end:
                    raise ValueError(f"bad working intervals {day!r}")
                previous_end = end
        if not any(self.week):
            raise ValueError("a calendar needs some working time in the week")
        object.__setattr__(self, "tz", ZoneInfo(self.time_zone))

    def is_closed(self, day: date) -> bool:
        """Whether ``day`` is a holiday or a closed date (regardless of weekly hours)."""
        if day in self.closed_dates:
            return True
        if not self.country:
            return False
        return day in holiday_dates(self.country, self.subdivision, day.year)

    def day_intervals(self, ordinal: int) -> tuple[int, ...]:
        """Working intervals of the local day ``ordinal`` as flat UTC microseconds.

        ``(start0, end0, start1, end1, ...)``, sorted and disjoint; empty when closed.
        """
        cached = self._days.get(ordinal)
        if cached is None:
            cached = self._build_day(ordinal)
        return cached

    def _build_day(self, ordinal: int) -> tuple[int, ...]:
        day = date.fromordinal(ordinal)
        periods = self.week[day.weekday()]
        bounds: list[int] = []
        if periods and not self.is_closed(day):
            midnight = datetime.combine(day, time(), tzinfo=self.tz)
            spans = []
            for start, end in periods:
                # Aware + timedelta is wall-clock arithmetic: the offset is looked up
                # for the resulting local time, which is what a local boundary needs.
                s = (midnight + timedelta(seconds=start) - _EPOCH) // _US
                e = (midnight + timedelta(seconds=end) - _EPOCH) // _US
                if s < e:
                    spans.append((s, e))
            spans.sort()
            for s, e in spans:
                if bounds and s <= bounds[-1]:
                    bounds[-1] = max(bounds[-1], e)
                else:
                    bounds += (s, e)
        if len(self._days) >= _MAX_CACHED_DAYS:
            self._days.clear()
        result = tuple(bounds)
        self._days[ordinal] = result
        return result

    def local_ordinal(self, moment: datetime) -> int:
        """The proleptic ordinal of ``moment``'s local date in this calendar."""
        return moment.astimezone(self.tz).toordinal()


class _WorkTable:
    """The working intervals of a calendar's local days ``[first, end)`` in order, with
    the working time before and through each (µs).

    Never changed once made: a calendar swaps in a larger table, so threads sharing the
    calendar never read one half-built. ``usable`` is False when two days' intervals
    overlap in real time (a zone whose clocks jump across midnight): the walk, which
    takes the days one after the other, is then the answer.
    """

    __slots__ = ("after", "before", "end", "ends", "first", "hi", "lo", "starts", "usable")

    first: int
    end: int
    lo: int
    hi: int
    starts: list[int]
    ends: list[int]
    before: list[int]
    after: list[int]
    usable: bool

    def __init__(
        self, calendar: Calendar, first: int, end: int, base: _WorkTable | None = None
    ) -> None:
        if base is not None and base.first == first and base.usable:
            starts, ends = list(base.starts), list(base.ends)
            before, after = list(base.before), list(base.after)
            ordinal = base.end
        else:
            starts, ends, before, after = [], [], [], []
            ordinal = first
        total = after[-1] if after else 0
        usable = True
        for day in range(ordinal, end):
            bounds = calendar.day_intervals(day)
            for i in range(0, len(bounds), 2):
                start, stop = bounds[i], bounds[i + 1]
                if ends and start < ends[-1]:
                    usable = False
                starts.append(start)
                ends.append(stop)
                before.append(total)
                total += stop - start
                after.append(total)
        self.first = first
        self.end = end
        self.lo = _midnight_us(calendar, first)
        self.hi = _midnight_us(calendar, end)
        self.starts = starts
        self.ends = ends
        self.before = before
        self.after = after
        self.usable = usable


def _midnight_us(calendar: Calendar, ordinal: int) -> int:
    """The local midnight starting day ``ordinal``, as a day's intervals read it."""
    return to_us(datetime.combine(date.fromordinal(ordinal), time(), tzinfo=calendar.tz))


def _tabled_us(calendar: Calendar, t: int, durations: Sequence[int]) -> list[int] | None:
    """:func:`advance_us` from the calendar's table (made or grown as needed), or None
    when the table cannot answer: the walk does.

    Each instant is the start of the interval holding the working time before ``t``
    plus the duration, plus what is left of it there: the first interval whose working
    time through it reaches that total, so a positive duration ends at an interval's
    end rather than at the next opening, as the walk does.
    """
    table = calendar._table
    if table is None or t < table.lo or t >= table.hi:
        # From two days before the UTC date: every local date of ``t`` (offsets are
        # within ±24 h). A table whose days start later is made again from there.
        first = t // _DAY_US + _EPOCH_ORDINAL - 2
        end = first + _TABLE_DAYS
        if table is not None and t < table.lo and table.end - first <= _MAX_TABLE_DAYS:
            end = max(end, table.end)
        table = _WorkTable(calendar, first, end)
        object.__setattr__(calendar, "_table", table)
    results: list[int] = []
    done = 0
    for duration in durations:
        if duration < done:
            raise ValueError("durations must not decrease")
        done = duration
        if not duration:
            results.append(t)
            continue
        while True:
            if not table.usable:
                return None
            ends, after = table.ends, table.after
            i = bisect_right(ends, t)
            if i < len(ends):
                start = table.starts[i]
                target = table.before[i] + (t - start if t > start else 0) + duration
                j = bisect_left(after, target, i)
                if j < len(after):
                    results.append(table.starts[j] + target - table.before[j])
                    break
            days = table.end - table.first
            if days >= _MAX_TABLE_DAYS:
                return None
            table = _WorkTable(
                calendar, table.first, table.first + min(2 * days, _MAX_TABLE_DAYS), table
            )
            object.__setattr__(calendar, "_table", table)
    return results


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("business-time arithmetic needs aware datetimes")


def to_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime (exact)."""
    return (moment - _EPOCH) // _US


def from_us(us: int) -> datetime:
    """The UTC datetime ``us`` microseconds after the Unix epoch."""
    return _EPOCH + timedelta(microseconds=us)


def advance_us(calendar: Calendar, t: int, durations: Sequence[int]) -> list[int]:
    """The instants (UTC µs) that many µs of business time after ``t``.

    ``durations`` must not decrease. A zero duration gives ``t`` itself; a positive
    one ends inside working hours or exactly at the end of an interval, never at the
    next opening, which keeps ``add(add(s, a), b) == add(s, a + b)`` exact.
    """
    results = _tabled_us(calendar, t, durations)
    return results if results is not None else _walked_us(calendar, t, durations)


def _walked_us(calendar: Calendar, t: int, durations: Sequence[int]) -> list[int]:
    """:func:`advance_us` walking the calendar day by day from ``t`` (the definition)."""
    results: list[int] = []
    # Scanning from the day before the UTC date covers every local date of ``t``
    # (offsets are within ±24 h); earlier intervals are skipped as already past.
    ordinal = t // _DAY_US + _EPOCH_ORDINAL - 1
    days = calendar._days
    done = 0
    remaining = 0
    closed_streak = 0
    for duration in durations:
        if duration < done:
            raise ValueError("durations must not decrease")
        remaining = duration - done
        done = duration
        while remaining:
            bounds = days.get(ordinal)
            if bounds is None:
                bounds = calendar._build_day(ordinal)
            if not bounds:
                closed_streak += 1
                if closed_streak > _MAX_CLOSED_STREAK:
                    raise ValueError("the calendar has no working time for years")
                ordinal += 1
                continue
            closed_streak = 0
            for i in range(0, len(bounds), 2):
                end = bounds[i + 1]
                if end <= t:
                    continue
                start = bounds[i]
                if start > t:
                    t = start
                available = end - t
                if remaining <= available:
                    t += remaining
                    remaining = 0
                    break
                remaining -= available
                t = end
            else:
                ordinal += 1
        results.append(t)
    return results


def add_business_time(start: datetime, duration: timedelta, *, calendar: Calendar) -> datetime:
    """The instant ``duration`` of business time after ``start``, in the calendar's zone.

    A start outside working hours counts from the next opening. Adding zero returns
    ``start`` itself; a positive duration ends inside working hours or exactly at the
    end of an interval (never at the next opening). Compare results in UTC: Python
    compares datetimes of one zone by wall time, which is ambiguous in the autumn hour.
    """
    _require_aware(start)
    if duration < _ZERO:
        raise ValueError("duration must not be negative")
    (end,) = advance_us(calendar, to_us(start), (duration // _US,))
    return from_us(end).astimezone(calendar.tz)


def add_business_times(
    start: datetime, durations: Sequence[timedelta], *, calendar: Calendar
) -> list[datetime]:
    """:func:`add_business_time` for several increasing durations, walking once."""
    _require_aware(start)
    if any(d < _ZERO for d in durations):
        raise ValueError("duration must not be negative")
    ends = advance_us(calendar, to_us(start), [d // _US for d in durations])
    return [from_us(end).astimezone(calendar.tz) for end in ends]


def add_working_days(start: datetime, days: int, *, calendar: Calendar) -> datetime:
    """The same local time ``days`` working days after ``start``'s local date.

    A working day is one with working hours in the calendar's week that is neither a
    holiday nor a closed date ("5 business days": Monday 10:00 → next Monday 10:00).
    A time that does not exist on the arrival day (the spring gap) is read as
    ``zoneinfo`` reads it. The result is in the calendar's zone.
    """
    _require_aware(start)
    if days < 0:
        raise ValueError("days must not be negative")
    local = start.astimezone(calendar.tz)
    day = local.date()
    counted = 0
    streak = 0
    while counted < days:
        day += timedelta(days=1)
        if calendar.week[day.weekday()] and not calendar.is_closed(day):
            counted += 1
            streak = 0
        else:
            streak += 1
            if streak > _MAX_CLOSED_STREAK:
                raise ValueError("the calendar has no working day for years")
    return datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=calendar.tz)


def business_time_between(a: datetime, b: datetime, *, calendar: Calendar) -> timedelta:
    """Business time from ``a`` to ``b`` (negative when ``b`` is before ``a``)."""
    _require_aware(a)
    _require_aware(b)
    if b < a:
        return -business_time_between(b, a, calendar=calendar)
    ta = to_us(a)
    tb = to_us(b)
    total = 0
    last = calendar.local_ordinal(b)
    days = calendar._days
    for ordinal in range(calendar.local_ordinal(a), last + 1):
        bounds = days.get(ordinal)
        if bounds is None:
            bounds = calendar._build_day(ordinal)
        for i in range(0, len(bounds), 2):
            start = max(bounds[i], ta)
            end = min(bounds[i + 1], tb)
            if end > start:
                total += end - start
    return timedelta(microseconds=total)
