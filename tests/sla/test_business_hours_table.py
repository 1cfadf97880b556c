"""The working-time table answers exactly what walking the calendar day by day does.

A deadline is two binary searches in a calendar's table of working intervals; the walk
(``_walked_us``) stays the definition. Compared over random starts and durations on
calendars with holidays, closed dates, weekends, split and night shifts, intervals
inside Madrid's clock changes, and a zone whose clocks change at midnight; and the
table stepping aside when days overlap in real time.
"""

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla.business_hours import (
    MON_FRI_9_18,
    MON_FRI_WHOLE_DAYS,
    WHOLE_WEEK,
    Calendar,
    _tabled_us,
    _walked_us,
    advance_us,
    to_us,
    week_hours,
)

H_US = 3600 * 1_000_000


def _calendars() -> list[Calendar]:
    """Fresh instances (each keeps its own table), built anew for each test."""
    return [
        Calendar(week=MON_FRI_9_18),  # Spain's holidays
        Calendar(week=MON_FRI_9_18, subdivision="MD"),
        Calendar(week=MON_FRI_WHOLE_DAYS),  # PcComponentes' working days
        Calendar(week=WHOLE_WEEK, country=None),
        Calendar(
            week=week_hours(
                {
                    **{d: [("09:00", "14:00"), ("16:00", "19:00")] for d in range(5)},
                    5: [("10:00", "13:00")],
                }
            )
        ),
        Calendar(
            week=week_hours({d: [("00:00", "06:00"), ("22:00", "24:00")] for d in range(7)}),
            country=None,
        ),
        # Boundaries inside the hour Madrid's clocks skip in spring and repeat in autumn.
        Calendar(
            week=week_hours({d: [("01:30", "02:30"), ("02:45", "03:15")] for d in range(7)}),
            country=None,
        ),
        Calendar(time_zone="Europe/Lisbon", country="PT"),
        Calendar(
            week=MON_FRI_9_18,
            closed_dates=frozenset(date(2026, 1, 1) + timedelta(days=k) for k in range(0, 900, 3)),
        ),
        # Havana's clocks change at midnight.
        Calendar(week=MON_FRI_WHOLE_DAYS, time_zone="America/Havana", country=None),
        Calendar(
            week=week_hours({d: [("00:00", "00:45"), ("23:30", "24:00")] for d in range(7)}),
            time_zone="America/Havana",
            country=None,
        ),
    ]


CALENDARS = _calendars()
LOW = to_us(datetime(2025, 1, 1, tzinfo=UTC))
HIGH = to_us(datetime(2029, 1, 1, tzinfo=UTC))
#: Madrid's clock changes of 2026 (UTC): spring 29 March, autumn 25 October, 01:00.
CHANGES = [
    to_us(datetime(2026, 3, 29, 1, tzinfo=UTC)),
    to_us(datetime(2026, 10, 25, 1, tzinfo=UTC)),
]


def _durations(rng: random.Random) -> list[int]:
    picks = [
        0,
        rng.randrange(1, 3 * H_US),
        rng.randrange(1, 400 * H_US),
        rng.randrange(1, 49) * H_US,
        rng.randrange(1, 10) * 900 * 1_000_000,
    ]
    return sorted(rng.choice(picks) for _ in range(rng.randrange(1, 4)))


def _start(rng: random.Random, kind: int) -> int:
    if kind == 0:  # anywhere in four years
        return rng.randrange(LOW, HIGH)
    if kind == 1:  # on a quarter hour: at boundaries
        return rng.randrange(LOW, HIGH) // (900 * 1_000_000) * (900 * 1_000_000)
    if kind == 2:  # around a clock change, to the minute
        return rng.choice(CHANGES) + rng.randrange(-50, 50) * 60 * 1_000_000
    # A sweep's waits: the last four days before a moment.
    return to_us(datetime(2026, 12, 6, 15, tzinfo=UTC)) - rng.randrange(0, 96 * H_US)


@pytest.mark.parametrize("index", range(len(CALENDARS)))
def test_the_table_answers_what_the_walk_does(index: int) -> None:
    calendar = _calendars()[index]
    rng = random.Random(index)
    for _ in range(6000):
        t = _start(rng, rng.randrange(4))
        durations = _durations(rng)
        assert advance_us(calendar, t, durations) == _walked_us(calendar, t, durations), (
            t,
            durations,
        )


def test_days_overlapping_in_real_time_leave_the_table(monkeypatch) -> None:
    calendar = Calendar(week=WHOLE_WEEK, country=None)
    t = to_us(datetime(2026, 3, 5, 12, tzinfo=UTC))
    assert _tabled_us(calendar, t, [24 * H_US]) == [t + 24 * H_US]
    real = Calendar.day_intervals

    def overlapping(self: Calendar, ordinal: int) -> tuple[int, ...]:
        start, end = real(self, ordinal)
        return (start - H_US, end)  # an hour into the day before

    monkeypatch.setattr(Calendar, "day_intervals", overlapping)
    calendar = Calendar(week=WHOLE_WEEK, country=None)
    assert _tabled_us(calendar, t, [24 * H_US]) is None


def test_the_table_grows_and_starts_again_as_starts_move() -> None:
    calendar = Calendar(week=MON_FRI_9_18)
    moment = to_us(datetime(2026, 12, 6, 15, tzinfo=UTC))
    # Backwards over a year, then forward beyond the table, then a deadline years away.
    starts = [moment - k * 7 * 24 * H_US for k in range(60)] + [moment + 900 * 24 * H_US]
    for t in starts:
        for durations in ([24 * H_US], [3 * H_US, 24 * H_US], [2000 * H_US]):
            assert advance_us(calendar, t, durations) == _walked_us(calendar, t, durations)
    table = calendar._table
    assert table is not None and table.usable


def test_a_calendar_closed_for_years_still_fails() -> None:
    calendar = Calendar(
        week=week_hours({0: [("09:00", "10:00")]}),
        country=None,
        closed_dates=frozenset(date(2026, 1, 5) + timedelta(weeks=w) for w in range(400)),
    )
    with pytest.raises(ValueError, match="for years"):
        advance_us(calendar, to_us(datetime(2026, 1, 1, tzinfo=UTC)), [H_US])


def test_durations_must_not_decrease() -> None:
    with pytest.raises(ValueError, match="must not decrease"):
        advance_us(CALENDARS[0], LOW, [2 * H_US, H_US])


@settings(max_examples=300, deadline=None)
@given(
    index=st.integers(0, len(CALENDARS) - 1),
    t=st.integers(LOW, HIGH),
    durations=st.lists(st.integers(0, 500 * H_US), min_size=1, max_size=3).map(sorted),
)
def test_the_table_answers_what_the_walk_does_property(
    index: int, t: int, durations: list[int]
) -> None:
    calendar = CALENDARS[index]
    assert advance_us(calendar, t, durations) == _walked_us(calendar, t, durations)
