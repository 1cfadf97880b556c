"""Where a quality figure will be in the coming days if nothing changes (pure functions).

Every function takes plain numbers and instants and returns a *path*: index 0 is the
figure now, index ``k`` the figure ``k`` days from now (``horizon`` days in all). The
data comes from :mod:`sla.health.figures`, which reads the database; nothing here does,
so the maths is tested on pinned data with hand-computed values
(``tests/sla/test_health_projection.py``).

The judged periods are windows of whole local days: ``window[0]`` is the oldest day,
``window[-1]`` today (partial, up to now). ``k`` days ahead the window has lost its
first ``k`` days and gained ``k`` days that have not happened yet; those are filled at
the **pace** of the last seven complete days (today left out, being partial).

- :func:`rate_projection`: a ratio of two daily counts (incident rate: lines with an
  incident / accepted lines). Resolving an incident does not lower it (the line had an
  incident); it falls as bad days leave the window.
- :func:`active_average_projection`: the average over the window of the incidents open at
  each day's end (PcComponentes: "the number of active incidents, averaged over the
  last month"). Each open incident stays open until its :func:`expected_close`; new
  incidents arrive at the pace and stay open the typical duration.
- :func:`mean_delay_projection`: an average delay (response time to messages): the
  messages waiting now count, ``k`` days ahead, with the delay they will have then.
- :func:`compliance_projection`: the share of deadlines met; waits due in the coming
  days that nobody answers count as missed.
- :func:`linear_trend`: for figures only Mirakl gives (acceptance, shipping, tracking,
  rating), the straight line through its recent daily values.
- :func:`shifted`: Mirakl's figure moved by the change projected for ours.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

__all__ = [
    "HORIZON_DAYS",
    "PACE_DAYS",
    "Durations",
    "OpenIncident",
    "PendingWait",
    "active_average_projection",
    "add_business_days",
    "compliance_projection",
    "expected_close",
    "linear_trend",
    "mean_delay_projection",
    "pace",
    "rate_projection",
    "residual_duration",
    "resolutions_needed",
    "shifted",
]

#: How far the projections look ahead, in days.
HORIZON_DAYS = 7
#: How many complete days before today set the pace of the days to come.
PACE_DAYS = 7

Path = list[float | None]


def pace(daily: Sequence[float], *, days: int = PACE_DAYS) -> float:
    """Average per day over the last ``days`` complete days (``daily[-1]`` is today, left
    out); fewer days when the window is shorter."""
    complete = list(daily[:-1])[-days:]
    return sum(complete) / len(complete) if complete else 0.0


def rate_projection(
    numerators: Sequence[float],
    denominators: Sequence[float],
    *,
    horizon: int = HORIZON_DAYS,
    pace_days: int = PACE_DAYS,
) -> Path:
    """A percentage ``100 * sum(numerators) / sum(denominators)`` over the window, then with
    the window moved ``k`` days: its first ``k`` days dropped, ``k`` days at the pace added.
    ``None`` where the denominator is zero."""
    if len(numerators) != len(denominators):
        raise ValueError("numerators and denominators must cover the same days")
    pace_n = pace(numerators, days=pace_days)
    pace_d = pace(denominators, days=pace_days)
    path: Path = []
    for k in range(horizon + 1):
        num = sum(numerators[k:]) + k * pace_n
        den = sum(denominators[k:]) + k * pace_d
        path.append(100.0 * num / den if den else None)
    return path


# --------------------------------------------------------------------------- incidents


@dataclass(frozen=True, slots=True)
class OpenIncident:
    """An incident open now; ``expected_close`` is ``None`` when nothing in the history
    says when it will close (it then stays open through the horizon)."""

    key: int
    opened_at: datetime
    expected_close: datetime | None
    resolved: bool = False


class Durations:
    """Past open-to-close durations, sorted once, so that the residual of each open
    incident is a binary search rather than a pass over the history."""

    __slots__ = ("_seconds",)

    def __init__(self, durations: Iterable[timedelta]) -> None:
        self._seconds = sorted(d.total_seconds() for d in durations)

    def residual(self, age: timedelta) -> timedelta | None:
        """See :func:`residual_duration`."""
        seconds = self._seconds
        start = bisect_right(seconds, age.total_seconds())
        n = len(seconds) - start
        if not n:
            return None
        median = (seconds[start + (n - 1) // 2] + seconds[start + n // 2]) / 2
        return timedelta(seconds=median) - age


def residual_duration(
    age: timedelta, durations: Iterable[timedelta] | Durations
) -> timedelta | None:
    """How much longer an incident of ``age`` is expected to stay open: the median of
    ``d - age`` over the past incidents that lasted longer than ``age`` (``d``: their
    open-to-close durations). ``None`` when none lasted that long."""
    if not isinstance(durations, Durations):
        durations = Durations(durations)
    return durations.residual(age)


def add_business_days(
    moment: datetime, days: int, *, is_closed: Callable[[date], bool] | None = None
) -> datetime:
    """``moment`` plus ``days`` business days (Monday to Friday, except days for which
    ``is_closed`` is true), keeping the time of day. Zero days leaves it as it is."""
    result = moment
    added = 0
    while added < days:
        result += timedelta(days=1)
        day = result.date()
        if day.weekday() < 5 and not (is_closed and is_closed(day)):
            added += 1
    return result


def expected_close(
    *,
    opened_at: datetime,
    now: datetime,
    resolved_at: datetime | None,
    review: Callable[[datetime], datetime],
    durations: Sequence[timedelta] | Durations,
) -> datetime | None:
    """When an open incident is expected to close.

    Resolved (awaiting the operator's close): when the operator's review ends,
    ``review(resolved_at)`` (PcComponentes: about three business days), or now if that
    has passed. Not resolved: now plus its :func:`residual_duration`; ``None`` when no
    past incident lasted that long.
    """
    if resolved_at is not None:
        return max(now, review(resolved_at))
    left = residual_duration(now - opened_at, durations)
    return None if left is None else now + left


def _open_at(incident: OpenIncident, moment: datetime) -> bool:
    return incident.expected_close is None or incident.expected_close > moment


def active_average_projection(
    past_counts: Sequence[int],
    open_incidents: Sequence[OpenIncident],
    *,
    day_ends: Sequence[datetime],
    arrivals_per_day: float,
    typical_duration: timedelta | None,
) -> Path:
    """The average over the window of incidents open at each day's end, now and each of
    the ``len(day_ends)`` coming days.

    ``past_counts[-1]`` is the count now. A coming day ``j`` (ending ``day_ends[j]``)
    counts the open incidents not expected to have closed by then, plus the incidents
    arriving at ``arrivals_per_day`` on days ``0..j`` (at noon of their day) that are
    younger than ``typical_duration`` at that day's end (``None``: they stay open).
    """
    window = len(past_counts)
    if not window:
        return [None] * (len(day_ends) + 1)
    future: list[float] = []
    for j, end in enumerate(day_ends):
        count = float(sum(1 for incident in open_incidents if _open_at(incident, end)))
        for m in range(j + 1):
            arrived = day_ends[m] - timedelta(hours=12)
            if typical_duration is None or end - arrived < typical_duration:
                count += arrivals_per_day
        future.append(count)
    path: Path = []
    for k in range(len(day_ends) + 1):
        path.append((sum(past_counts[k:]) + sum(future[:k])) / window)
    return path


def resolutions_needed(
    project: Callable[[Sequence[OpenIncident]], Path],
    open_incidents: Sequence[OpenIncident],
    *,
    resolve: Callable[[OpenIncident], OpenIncident],
    below: Callable[[float], bool],
) -> tuple[list[OpenIncident], Path] | None:
    """The fewest incidents to resolve now so that every projected value is ``below`` the
    threshold, taking first those expected to stay open longest (never expected to close
    first, then the oldest). Returns them and the path they leave, ``([], path)`` when
    none is needed, ``None`` when resolving them all is not enough."""
    path = project(open_incidents)
    if all(v is None or below(v) for v in path):
        return [], path
    candidates = sorted(
        (i for i in open_incidents if not i.resolved),
        key=lambda i: (
            i.expected_close is not None,
            -(i.expected_close.timestamp() if i.expected_close else 0),
            i.opened_at,
        ),
    )
    chosen: list[OpenIncident] = []
    changed = {i.key: i for i in open_incidents}
    for incident in candidates:
        chosen.append(incident)
        changed[incident.key] = resolve(incident)
        path = project(list(changed.values()))
        if all(v is None or below(v) for v in path):
            return chosen, path
    return None


# --------------------------------------------------------------------------- replies


@dataclass(frozen=True, slots=True)
class PendingWait:
    """A message waiting for the shop's answer: the window day it started on (0 = the
    oldest day of the window) and its age now in hours."""

    day: int
    age_hours: float


def mean_delay_projection(
    answered: Sequence[tuple[float, int]],
    pending: Sequence[PendingWait],
    *,
    horizon: int = HORIZON_DAYS,
    arrivals_per_day: float = 0.0,
) -> Path:
    """An average delay in hours: now, over the answers of the window (``answered[d]`` is
    ``(sum of delays, count)`` for the messages that started on window day ``d``); ``k``
    days ahead, over the answers still in the moved window, the waiting messages still in
    it answered then (their age plus ``24 k`` hours) and ``k`` days of new messages at
    ``arrivals_per_day`` answered in the window's current average."""
    total0 = sum(s for s, _ in answered)
    count0 = sum(c for _, c in answered)
    mean0 = total0 / count0 if count0 else None
    path: Path = [mean0]
    for k in range(1, horizon + 1):
        total = sum(s for s, _ in answered[k:])
        count = float(sum(c for _, c in answered[k:]))
        for wait in pending:
            if wait.day >= k:
                total += wait.age_hours + 24.0 * k
                count += 1
        if mean0 is not None:
            total += k * arrivals_per_day * mean0
            count += k * arrivals_per_day
        path.append(total / count if count else None)
    return path


def compliance_projection(
    due: Sequence[int],
    on_time: Sequence[int],
    pending_due_in: Sequence[float],
    *,
    horizon: int = HORIZON_DAYS,
    answered_on_time: int = 0,
) -> Path:
    """The share (%) of deadlines met: now, over the deadlines of the window
    (``due[d]``, ``on_time[d]`` per window day); ``k`` days ahead, over those still in
    the moved window plus the waits open now whose deadline falls within ``k`` days
    (``pending_due_in``: days from now to each deadline), counted as missed except the
    first ``answered_on_time`` of them (the what-if: answered in time)."""
    if len(due) != len(on_time):
        raise ValueError("due and on_time must cover the same days")
    upcoming = sorted(pending_due_in)
    path: Path = []
    for k in range(horizon + 1):
        n_due = sum(due[k:])
        n_on_time = sum(on_time[k:])
        if k:
            falling = [d for d in upcoming if 0 <= d <= k]
            n_due += len(falling)
            n_on_time += min(answered_on_time, len(falling))
        path.append(100.0 * n_on_time / n_due if n_due else None)
    return path


# --------------------------------------------------------------------------- trends


def linear_trend(
    points: Sequence[tuple[float, float]], *, horizon: int = HORIZON_DAYS, min_points: int = 3
) -> Path | None:
    """The least-squares line through ``(day, value)`` points, from the last point's
    value on: ``[last, last + slope, ..., last + horizon * slope]``. ``None`` with fewer
    than ``min_points`` points or all on one day."""
    if len(points) < min_points:
        return None
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    mean_x = sum(xs) / len(xs)
    mean_y = sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if not spread:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    last = ys[-1]
    return [last + slope * k for k in range(horizon + 1)]


def shifted(base: float | None, ours: Sequence[float | None]) -> Path:
    """``base`` (Mirakl's figure) moved by how much ours is projected to change:
    ``base + (ours[k] - ours[0])``. All ``None`` without a base or a figure of ours now."""
    if base is None or not ours or ours[0] is None:
        return [None] * len(ours)
    return [None if v is None else base + (v - ours[0]) for v in ours]
