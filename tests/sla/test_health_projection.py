"""The projection maths on pinned data, against values computed by hand.

Each test writes its arithmetic out in a comment, so a reader can redo it with a pencil;
``sla/health/projection.py`` is pure, so no database is involved.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal as Dec
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sla.health import projection as proj
from sla.health.rules import Comparison, Level, Standing, Threshold, level_of, standing_of

MADRID = ZoneInfo("Europe/Madrid")
D = timedelta(days=1)


def madrid(*args: int) -> datetime:
    return datetime(*args, tzinfo=MADRID)


def test_pace_is_the_average_of_the_complete_days_before_today() -> None:
    # today (last) left out: the 3 days before it are 2, 1, 1 -> 4 / 3
    assert proj.pace([9, 2, 1, 1, 100], days=3) == pytest.approx(4 / 3)
    assert proj.pace([5], days=7) == 0.0  # only today: no complete day


def test_rate_projection_drops_old_days_and_adds_days_at_the_recent_pace() -> None:
    numerators = [3, 1, 0, 0, 2, 1, 1, 1]
    denominators = [20, 10, 10, 10, 20, 10, 10, 5]
    # pace over the 3 complete days before today: lines (2+1+1)/3 = 4/3, accepted 40/3
    # now: 9 / 95                                     = 9.473684 %
    # +1 day: (9-3 + 4/3) / (95-20 + 40/3) = 22/265    = 8.301887 %
    # +2 days: (9-3-1 + 8/3) / (95-30 + 80/3) = 23/275 = 8.363636 %
    path = proj.rate_projection(numerators, denominators, horizon=2, pace_days=3)
    assert path == pytest.approx([900 / 95, 2200 / 265, 2300 / 275])


def test_rate_projection_without_denominator_is_none() -> None:
    assert proj.rate_projection([0, 0], [0, 0], horizon=1) == [None, None]
    with pytest.raises(ValueError):
        proj.rate_projection([1], [1, 2])


def test_residual_duration_is_the_median_of_the_longer_incidents_minus_the_age() -> None:
    durations = [1 * D, 2 * D, 4 * D, 10 * D]
    # older than 3 days: 4 and 10 days -> median 7 -> 4 more days
    assert proj.residual_duration(3 * D, durations) == 4 * D
    # half a day old: all four -> median (2 + 4) / 2 = 3 -> 2.5 more days
    assert proj.residual_duration(D / 2, durations) == 2.5 * D
    # older than every past incident: nothing says when it closes
    assert proj.residual_duration(12 * D, durations) is None


def test_add_business_days_skips_weekends_and_closed_days() -> None:
    friday = madrid(2026, 3, 6, 15, 0)
    assert proj.add_business_days(friday, 3) == madrid(2026, 3, 11, 15, 0)  # Mon, Tue, Wed
    closed = {date(2026, 3, 10)}
    assert proj.add_business_days(friday, 3, is_closed=closed.__contains__) == madrid(
        2026, 3, 12, 15, 0
    )
    assert proj.add_business_days(friday, 0) == friday


def test_expected_close_of_a_resolved_and_of_an_unresolved_incident() -> None:
    now = madrid(2026, 3, 4, 10, 0)  # a Wednesday

    def review(moment: datetime) -> datetime:
        return proj.add_business_days(moment, 3)

    # resolved Thursday 5th at 10:00: the operator's review ends Tuesday 10th at 10:00
    assert proj.expected_close(
        opened_at=now - 5 * D,
        now=now,
        resolved_at=madrid(2026, 3, 5, 10, 0),
        review=review,
        durations=[],
    ) == madrid(2026, 3, 10, 10, 0)
    # resolved long ago, review over but not closed yet: expected now
    assert (
        proj.expected_close(
            opened_at=now - 20 * D,
            now=now,
            resolved_at=now - 10 * D,
            review=review,
            durations=[],
        )
        == now
    )
    # not resolved, 3 days old, past incidents lasted 1, 2, 4 and 10 days: 4 more days
    assert (
        proj.expected_close(
            opened_at=now - 3 * D,
            now=now,
            resolved_at=None,
            review=review,
            durations=[1 * D, 2 * D, 4 * D, 10 * D],
        )
        == now + 4 * D
    )


# Now is a Wednesday at 10:00. The first coming day is Thursday (it ends Friday 00:00),
# the second Friday (it ends Saturday 00:00).
NOW = madrid(2026, 3, 4, 10, 0)
DAY_ENDS = [madrid(2026, 3, 6, 0, 0), madrid(2026, 3, 7, 0, 0)]
OPEN = [
    proj.OpenIncident(1, NOW - 2 * D, madrid(2026, 3, 5, 18, 0)),  # A: closes Thursday 18:00
    proj.OpenIncident(2, NOW - 9 * D, None),  # B: nothing says when
    proj.OpenIncident(3, NOW - 1 * D, madrid(2026, 3, 6, 12, 0)),  # C: Friday noon
    proj.OpenIncident(4, NOW - 3 * D, madrid(2026, 3, 7, 6, 0)),  # D: Saturday 06:00
]


def test_active_average_projection() -> None:
    # window of 4 days: counts at each day's end 2, 3, 3, and 4 now -> average 3.0
    # Friday 00:00: B, C, D open = 3; one arrival (0.5/day) Thursday noon, 12 h old < 30 h
    #   -> 3.5
    # Saturday 00:00: B, D open = 2; Thursday's arrival is 36 h old (>= 30 h: closed),
    #   Friday's 12 h old -> 2.5
    # +1 day: (3 + 3 + 4 + 3.5) / 4 = 3.375; +2 days: (3 + 4 + 3.5 + 2.5) / 4 = 3.25
    path = proj.active_average_projection(
        [2, 3, 3, 4],
        OPEN,
        day_ends=DAY_ENDS,
        arrivals_per_day=0.5,
        typical_duration=timedelta(hours=30),
    )
    assert path == pytest.approx([3.0, 3.375, 3.25])


def _project(incidents):
    return proj.active_average_projection(
        [2, 3, 3, 4],
        incidents,
        day_ends=DAY_ENDS,
        arrivals_per_day=0.5,
        typical_duration=timedelta(hours=30),
    )


def _resolve(incident):
    from dataclasses import replace

    return replace(incident, expected_close=madrid(2026, 3, 4, 20, 0), resolved=True)


def test_resolutions_needed_takes_the_incident_that_would_stay_open_longest_first() -> None:
    # B (never expected to close) goes first. Without it: Friday 00:00 C, D + 0.5 = 2.5;
    # Saturday 00:00 D + 0.5 = 1.5; +1: (3+3+4+2.5)/4 = 3.125; +2: (3+4+2.5+1.5)/4 = 2.75
    found = proj.resolutions_needed(_project, OPEN, resolve=_resolve, below=lambda v: v < 3.2)
    assert found is not None
    chosen, path = found
    assert [i.key for i in chosen] == [2]
    assert path == pytest.approx([3.0, 3.125, 2.75])


def test_resolutions_needed_none_needed_or_not_enough() -> None:
    assert proj.resolutions_needed(_project, OPEN, resolve=_resolve, below=lambda v: v < 4) == (
        [],
        pytest.approx([3.0, 3.375, 3.25]),
    )
    # the average now (3.0) is past: resolving cannot bring it under 2.9
    assert (
        proj.resolutions_needed(_project, OPEN, resolve=_resolve, below=lambda v: v < 2.9) is None
    )


def test_mean_delay_projection() -> None:
    answered = [(10.0, 1), (30.0, 2), (8.0, 2)]  # 48 h over 5 answers: 9.6 h now
    pending = [proj.PendingWait(day=2, age_hours=5), proj.PendingWait(day=0, age_hours=60)]
    # +1 day: answers of days 1-2 = 38 h / 4; the day-2 message answered then: 5 + 24 = 29 h;
    #   the day-0 one has left the window; one new message at 9.6 h
    #   -> (38 + 29 + 9.6) / 6 = 12.7667
    # +2 days: day 2 = 8 h / 2; the waiting one 5 + 48 = 53 h; two new at 9.6 h
    #   -> (8 + 53 + 19.2) / 5 = 16.04
    path = proj.mean_delay_projection(answered, pending, horizon=2, arrivals_per_day=1)
    assert path == pytest.approx([9.6, 76.6 / 6, 16.04])


def test_compliance_projection_counts_unanswered_deadlines_as_missed() -> None:
    due, on_time = [4, 2, 4], [4, 1, 3]
    pending_due_in = [0.5, 1.5, 5]  # days from now
    # now 8/10 = 80 %; +1: (1+3)/(2+4+1 falling) = 4/7; +2: 3/(4+2) = 50 %
    assert proj.compliance_projection(due, on_time, pending_due_in, horizon=2) == pytest.approx(
        [80.0, 400 / 7, 50.0]
    )
    # what-if: those waits answered in time -> +1: (4+1)/7, +2: (3+2)/6
    assert proj.compliance_projection(
        due, on_time, pending_due_in, horizon=2, answered_on_time=3
    ) == pytest.approx([80.0, 500 / 7, 500 / 6])


def test_linear_trend_and_shift() -> None:
    points = [(0, 7.0), (1, 7.2), (2, 7.4), (3, 7.6)]  # slope 0.2 a day
    assert proj.linear_trend(points, horizon=2) == pytest.approx([7.6, 7.8, 8.0])
    assert proj.linear_trend(points[:2], horizon=2) is None  # too few points
    assert proj.linear_trend([(1, 1.0), (1, 2.0), (1, 3.0)]) is None  # one day only
    assert proj.shifted(7.6, [5.0, 5.5, 6.0]) == pytest.approx([7.6, 8.1, 8.6])
    assert proj.shifted(None, [5.0, 6.0]) == [None, None]
    assert proj.shifted(7.6, [None, 6.0]) == [None, None]


PCC_RATE = (Threshold("set", Dec("8"), Comparison.GTE), Threshold("set", Dec("9"), Comparison.GTE))


def test_standing_and_level_against_pccomponentes_incident_rate() -> None:
    alert, limit = PCC_RATE
    assert standing_of(Dec("7.99"), alert=alert, limit=limit) == Standing.OK
    assert standing_of(Dec("8"), alert=alert, limit=limit) == Standing.ALERT
    assert standing_of(Dec("9"), alert=alert, limit=limit) == Standing.LIMIT
    assert standing_of(None, alert=alert, limit=limit) == Standing.NO_FIGURE
    assert level_of(Dec("7.6"), [Dec("7.9"), Dec("8.1")], alert=alert, limit=limit) == (
        Level.PROJECTED_ALERT
    )
    assert level_of(Dec("8.2"), [Dec("8.5")], alert=alert, limit=limit) == Level.ALERT
    assert level_of(Dec("8.2"), [Dec("9.1")], alert=alert, limit=limit) == Level.PROJECTED_LIMIT
    assert level_of(Dec("9.0"), [], alert=alert, limit=limit) == Level.LIMIT
    unknown = Threshold("unknown")
    assert level_of(Dec("50"), [Dec("60")], alert=unknown, limit=unknown) == Level.OK


def test_acceptance_rate_gets_worse_as_it_falls() -> None:
    alert = Threshold("set", Dec("97"), Comparison.LT)
    limit = Threshold("set", Dec("96"), Comparison.LT)
    assert standing_of(Dec("97"), alert=alert, limit=limit) == Standing.OK
    assert standing_of(Dec("96.5"), alert=alert, limit=limit) == Standing.ALERT
    assert standing_of(Dec("95.9"), alert=alert, limit=limit) == Standing.LIMIT


@given(
    durations=st.lists(st.integers(min_value=0, max_value=40 * 24), max_size=30),
    age=st.integers(min_value=0, max_value=40 * 24),
)
def test_residual_by_binary_search_is_the_median_of_the_longer_ones(durations, age) -> None:
    import statistics

    hours = [timedelta(hours=h) for h in durations]
    longer = [h.total_seconds() for h in hours if h > timedelta(hours=age)]
    expected = (
        timedelta(seconds=statistics.median(longer)) - timedelta(hours=age) if longer else None
    )
    assert proj.residual_duration(timedelta(hours=age), hours) == expected


@given(
    spans=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10 * 24),
            st.one_of(st.none(), st.integers(min_value=0, max_value=10 * 24)),
        ),
        max_size=40,
    )
)
def test_active_counts_by_binary_search_match_the_definition(spans) -> None:
    from sla.kpis import active_counts, day_start

    start = madrid(2026, 3, 1)
    now = madrid(2026, 3, 9, 15, 30)
    real = [
        (start + timedelta(hours=o), None if c is None else start + timedelta(hours=c))
        for o, c in spans
    ]
    days = [date(2026, 3, d) for d in range(1, 11)]
    expected = []
    for day in days:
        at = min(day_start(day + timedelta(days=1)), now)
        expected.append(sum(1 for o, c in real if o < at and (c is None or c > at)))
    assert active_counts(real, days, now) == expected
