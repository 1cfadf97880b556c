"""Business-time arithmetic: properties (Hypothesis) and pinned examples."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla.business_hours import (
    MON_FRI_9_18,
    WHOLE_WEEK,
    Calendar,
    add_business_time,
    add_business_times,
    business_time_between,
    week_hours,
)

MADRID = ZoneInfo("Europe/Madrid")
H = timedelta(hours=1)

SPAIN = Calendar()  # Mon–Fri 9:00–18:00, Madrid, national holidays
MADRID_REGION = Calendar(subdivision="MD")
ALWAYS = Calendar(week=WHOLE_WEEK, country=None)
SPLIT_SHIFT = Calendar(
    week=week_hours(
        {
            **{d: [("09:00", "14:00"), ("16:00", "19:00")] for d in range(5)},
            5: [("10:00", "13:00")],
        }
    )
)
NIGHT_SHIFT = Calendar(
    week=week_hours({d: [("00:00", "06:00"), ("22:00", "24:00")] for d in range(7)}),
    country=None,
)
LISBON = Calendar(time_zone="Europe/Lisbon", country="PT")
CALENDARS = [SPAIN, MADRID_REGION, ALWAYS, SPLIT_SHIFT, NIGHT_SHIFT, LISBON]


def madrid(*args: int) -> datetime:
    return datetime(*args, tzinfo=MADRID)


def utc(moment: datetime) -> datetime:
    """Compare in UTC: Python compares two datetimes of one zone by their wall time, and
    never finds an ambiguous local time (the autumn hour) equal to one of another zone."""
    return moment.astimezone(UTC)


def add(start: datetime, hours: float, calendar: Calendar = SPAIN) -> datetime:
    return add_business_time(start, timedelta(hours=hours), calendar=calendar)


# Pinned examples ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "hours", "calendar", "expected"),
    [
        pytest.param(
            madrid(2026, 12, 4, 17), 24, SPAIN, madrid(2026, 12, 10, 14), id="friday-17h-over-8-dec"
        ),
        pytest.param(
            madrid(2026, 12, 4, 17),
            24,
            MADRID_REGION,
            madrid(2026, 12, 11, 14),
            id="madrid-region-also-closes-7-dec",
        ),
        pytest.param(
            madrid(2026, 12, 24, 10), 24, SPAIN, madrid(2026, 12, 29, 16), id="over-christmas"
        ),
        pytest.param(
            madrid(2026, 12, 18, 17),
            24,
            SPAIN,
            madrid(2026, 12, 23, 14),
            id="friday-17h-no-holiday",
        ),
        pytest.param(madrid(2026, 12, 7, 9), 9, SPAIN, madrid(2026, 12, 7, 18), id="ends-at-close"),
        pytest.param(
            madrid(2026, 12, 8, 12), 1, SPAIN, madrid(2026, 12, 9, 10), id="start-on-holiday"
        ),
        pytest.param(
            madrid(2026, 12, 5, 10), 1, SPAIN, madrid(2026, 12, 7, 10), id="start-on-saturday"
        ),
        pytest.param(
            madrid(2026, 12, 9, 20, 15),
            0.5,
            SPAIN,
            madrid(2026, 12, 10, 9, 30),
            id="start-at-night",
        ),
        pytest.param(
            madrid(2026, 12, 9, 7), 1, SPAIN, madrid(2026, 12, 9, 10), id="start-before-opening"
        ),
        pytest.param(
            madrid(2026, 3, 27, 17),
            2,
            SPAIN,
            datetime(2026, 3, 30, 10, tzinfo=MADRID),
            id="over-spring-dst-weekend",
        ),
        pytest.param(
            madrid(2026, 10, 23, 17),
            2,
            SPAIN,
            madrid(2026, 10, 26, 10),
            id="over-autumn-dst-weekend",
        ),
        pytest.param(
            madrid(2026, 3, 29, 0), 23, ALWAYS, madrid(2026, 3, 30, 0), id="whole-day-23h-in-spring"
        ),
        pytest.param(
            madrid(2026, 10, 25, 0), 25, ALWAYS, madrid(2026, 10, 26, 0), id="whole-day-25h-autumn"
        ),
        pytest.param(
            madrid(2026, 3, 28, 12),
            24,
            ALWAYS,
            madrid(2026, 3, 29, 13),
            id="whole-day-real-hours-over-spring-switch",
        ),
        pytest.param(
            madrid(2026, 12, 5, 10), 48, ALWAYS, madrid(2026, 12, 7, 10), id="whole-day-weekend"
        ),
        pytest.param(
            madrid(2026, 3, 28, 23),
            6,
            NIGHT_SHIFT,
            madrid(2026, 3, 29, 6),
            id="night-shift-loses-an-hour-in-spring",
        ),
        pytest.param(
            madrid(2026, 12, 5, 12, 30),
            1,
            SPLIT_SHIFT,
            madrid(2026, 12, 7, 9, 30),
            id="saturday-morning-then-monday",
        ),
        pytest.param(
            madrid(2026, 12, 9, 13), 2, SPLIT_SHIFT, madrid(2026, 12, 9, 17), id="over-lunch-break"
        ),
    ],
)
def test_add_business_time_pinned(
    start: datetime, hours: float, calendar: Calendar, expected: datetime
) -> None:
    result = add(start, hours, calendar)
    assert utc(result) == utc(expected)
    assert result.utcoffset() == expected.utcoffset()
    assert business_time_between(start, result, calendar=calendar) == timedelta(hours=hours)


def test_result_is_in_the_calendar_time_zone_whatever_the_input_zone() -> None:
    result = add(datetime(2026, 12, 4, 16, tzinfo=UTC), 24)
    assert result.isoformat() == "2026-12-10T14:00:00+01:00"


def test_business_time_between_pinned() -> None:
    assert business_time_between(madrid(2026, 3, 29), madrid(2026, 3, 30), calendar=ALWAYS) == (
        23 * H
    )
    assert business_time_between(madrid(2026, 10, 25), madrid(2026, 10, 26), calendar=ALWAYS) == (
        25 * H
    )
    # Mon 9:00 to next Mon 9:00 across the 8 December holiday: four days of nine hours.
    assert business_time_between(
        madrid(2026, 12, 7, 9), madrid(2026, 12, 14, 9), calendar=SPAIN
    ) == (36 * H)
    assert business_time_between(madrid(2026, 12, 8), madrid(2026, 12, 7), calendar=SPAIN) == -9 * H
    assert business_time_between(
        madrid(2026, 12, 5, 10), madrid(2026, 12, 6, 20), calendar=SPAIN
    ) == timedelta(0)


def test_closed_dates_are_closed() -> None:
    calendar = Calendar(closed_dates=frozenset({date(2026, 12, 9)}))
    assert add(madrid(2026, 12, 4, 17), 24, calendar) == madrid(2026, 12, 11, 14)


def test_zero_duration_returns_the_start() -> None:
    start = madrid(2026, 12, 5, 10)
    assert add(start, 0) == start


def test_add_business_times_matches_separate_calls() -> None:
    start = madrid(2026, 12, 4, 17)
    durations = [18 * H, 24 * H, 24 * H, 30 * H]
    assert add_business_times(start, durations, calendar=SPAIN) == [
        add_business_time(start, d, calendar=SPAIN) for d in durations
    ]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: add(datetime(2026, 12, 4, 17), 1), "aware"),  # noqa: DTZ001 - on purpose
        (lambda: add(madrid(2026, 12, 4, 17), -1), "negative"),
        (lambda: Calendar(week=week_hours({})), "working time"),
        (lambda: Calendar(week=week_hours({0: [("10:00", "09:00")]})), "bad working"),
        (lambda: Calendar(week=((),) * 6), "7 weekdays"),
        (
            lambda: add(
                madrid(2026, 1, 1),
                1,
                Calendar(
                    week=week_hours({0: [("09:00", "10:00")]}),
                    country=None,
                    closed_dates=frozenset(
                        date(2026, 1, 5) + timedelta(weeks=w) for w in range(400)
                    ),
                ),
            ),
            "for years",
        ),
    ],
)
def test_bad_input_is_rejected(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_calendars_are_equal_by_value_and_hashable() -> None:
    assert Calendar(week=MON_FRI_9_18) == SPAIN
    assert hash(Calendar(week=MON_FRI_9_18)) == hash(SPAIN)
    assert Calendar(subdivision="MD") != SPAIN


# Properties -----------------------------------------------------------------------------

calendars = st.sampled_from(CALENDARS)
starts = st.datetimes(
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001 - bounds of an aware strategy
    max_value=datetime(2028, 12, 31),  # noqa: DTZ001
    timezones=st.sampled_from([MADRID, UTC, ZoneInfo("Europe/Lisbon")]),
    allow_imaginary=False,
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=400))
positive_durations = st.timedeltas(min_value=timedelta(microseconds=1), max_value=400 * H)
PROPERTY = settings(max_examples=200, deadline=None)


@PROPERTY
@given(calendar=calendars, start=starts, d=durations, later=durations)
def test_monotonic_in_start(calendar: Calendar, start: datetime, d: timedelta, later) -> None:
    assert utc(add_business_time(start, d, calendar=calendar)) <= utc(
        add_business_time(utc(start) + later, d, calendar=calendar)
    )


@PROPERTY
@given(calendar=calendars, start=starts, d1=durations, d2=durations)
def test_monotonic_in_duration(calendar: Calendar, start: datetime, d1, d2) -> None:
    low, high = sorted((d1, d2))
    assert utc(add_business_time(start, low, calendar=calendar)) <= utc(
        add_business_time(start, high, calendar=calendar)
    )


@PROPERTY
@given(calendar=calendars, start=starts, d=durations)
def test_time_between_inverts_add(calendar: Calendar, start: datetime, d: timedelta) -> None:
    end = add_business_time(start, d, calendar=calendar)
    assert business_time_between(start, end, calendar=calendar) == d


@PROPERTY
@given(calendar=calendars, start=starts, d=positive_durations)
def test_result_is_within_working_hours(calendar: Calendar, start: datetime, d) -> None:
    end = add_business_time(start, d, calendar=calendar)
    t = (end - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    ordinal = end.astimezone(calendar.tz).toordinal()
    bounds = calendar.day_intervals(ordinal - 1) + calendar.day_intervals(ordinal)
    assert any(bounds[i] < t <= bounds[i + 1] for i in range(0, len(bounds), 2))


@PROPERTY
@given(calendar=calendars, start=starts, d1=durations, d2=durations)
def test_adding_in_two_steps_is_adding_the_sum(calendar: Calendar, start: datetime, d1, d2) -> None:
    in_steps = add_business_time(
        add_business_time(start, d1, calendar=calendar), d2, calendar=calendar
    )
    assert utc(in_steps) == utc(add_business_time(start, d1 + d2, calendar=calendar))


@PROPERTY
@given(calendar=calendars, a=starts, b=starts, c=starts)
def test_time_between_is_additive(calendar: Calendar, a, b, c) -> None:
    a, b, c = sorted((utc(a), utc(b), utc(c)))
    assert business_time_between(a, b, calendar=calendar) + business_time_between(
        b, c, calendar=calendar
    ) == business_time_between(a, c, calendar=calendar)


@PROPERTY
@given(start=starts, d=durations)
def test_an_always_open_calendar_is_the_wall_clock(start: datetime, d: timedelta) -> None:
    assert utc(add_business_time(start, d, calendar=ALWAYS)) == utc(start) + d


def test_working_days_skip_weekends_and_holidays_keeping_the_time() -> None:
    from sla.business_hours import MON_FRI_WHOLE_DAYS, add_working_days

    calendar = Calendar(week=MON_FRI_WHOLE_DAYS, country="ES")
    madrid = ZoneInfo("Europe/Madrid")
    # Thursday 3 December 2026 10:30 + 5 working days: Fri 4, Mon 7, (Tue 8 a holiday),
    # Wed 9, Thu 10, Fri 11.
    start = datetime(2026, 12, 3, 10, 30, tzinfo=madrid)
    assert add_working_days(start, 5, calendar=calendar) == datetime(
        2026, 12, 11, 10, 30, tzinfo=madrid
    )
    assert add_working_days(start, 0, calendar=calendar) == start
    # From a Saturday, Monday is the first working day.
    saturday = datetime(2026, 12, 5, 9, tzinfo=madrid)
    assert add_working_days(saturday, 1, calendar=calendar) == datetime(
        2026, 12, 7, 9, tzinfo=madrid
    )
    with pytest.raises(ValueError):
        add_working_days(start, -1, calendar=calendar)
