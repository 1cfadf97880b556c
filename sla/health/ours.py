"""Our own figure for the criteria we can compute from synced data, its 7-day projection
and the what-if ("resolving these N incidents brings it to X"), one function per
criterion (:data:`OURS`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sla.health import projection as proj
from sla.health.criteria import CriterionKey
from sla.health.criterion_health import CriterionHealth, WhatIf, format_figure, quantize
from sla.health.rules import Threshold
from sla.health.series import (
    WINDOW_DAYS,
    DailySeries,
    mean_delay,
    rate_of_pairs,
    rolling,
)

K = CriterionKey


def _threshold_below(item: CriterionHealth) -> Threshold | None:
    """The threshold a what-if aims to stay clear of: the alert when known, else the limit."""
    if item.alert.is_set:
        return item.alert
    if item.limit.is_set:
        return item.limit
    return None


WINDOW = slice(-WINDOW_DAYS, None)


@dataclass(slots=True)
class OursContext:
    """What the per-criterion functions below share."""

    data: DailySeries
    now: datetime
    open_incidents: list[proj.OpenIncident]
    review: Any
    day_ends: list[datetime]
    typical: timedelta | None


def _incident_rate(item: CriterionHealth, ctx: OursContext) -> list[float | None]:
    num, den = ctx.data.incident_lines, ctx.data.accepted_lines
    pairs = list(zip(num, den, strict=True))
    item.spark_ours = [quantize(v, item.criterion) for v in rolling(pairs, rate_of_pairs)]
    item.note = _(
        "Resolving an incident does not lower this rate (the line had an incident); "
        "it falls as the days with incidents leave the 30-day window."
    )
    return proj.rate_projection(num[WINDOW], den[WINDOW])


def _active_incidents(item: CriterionHealth, ctx: OursContext) -> list[float | None]:
    counts = ctx.data.day_end_open
    arrivals = proj.pace(ctx.data.incident_lines[WINDOW])

    def project(incidents: Sequence[proj.OpenIncident]) -> list[float | None]:
        return proj.active_average_projection(
            counts[WINDOW],
            incidents,
            day_ends=ctx.day_ends,
            arrivals_per_day=arrivals,
            typical_duration=ctx.typical,
        )

    averages = rolling(counts, lambda c: sum(c) / len(c))
    item.spark_ours = [quantize(v, item.criterion) for v in averages]
    item.what_if = _what_if_resolve(item, project, ctx.open_incidents, ctx.review, ctx.now)
    return project(ctx.open_incidents)


def _response_time(item: CriterionHealth, ctx: OursContext) -> list[float | None]:
    criterion = item.criterion
    answered = ctx.data.answered[WINDOW]
    offset = len(ctx.data.days) - WINDOW_DAYS
    pending = [
        proj.PendingWait(day - offset, age) for day, age in ctx.data.pending_waits if day >= offset
    ]
    arrivals = proj.pace(ctx.data.waits_started[WINDOW])
    path = proj.mean_delay_projection(answered, pending, arrivals_per_day=arrivals)
    item.spark_ours = [quantize(v, criterion) for v in rolling(ctx.data.answered, mean_delay)]
    if pending and path[0] is not None:
        # What if every waiting message were answered now: its age becomes its delay.
        folded = [[total, count] for total, count in answered]
        for wait in pending:
            folded[wait.day][0] += wait.age_hours
            folded[wait.day][1] += 1
        answered_now = proj.mean_delay_projection(
            [(float(t), int(c)) for t, c in folded], [], arrivals_per_day=arrivals
        )
        judged = proj.shifted(
            float(item.mirakl) if item.mirakl is not None else path[0], [path[0], answered_now[-1]]
        )[-1]
        value = quantize(judged, criterion)
        item.what_if = WhatIf(
            text=ngettext(
                "Answering the %(n)d message waiting now brings the response time to "
                "%(value)s in 7 days.",
                "Answering the %(n)d messages waiting now brings the response time to "
                "%(value)s in 7 days.",
                len(pending),
            )
            % {"n": len(pending), "value": format_figure(value, criterion)},
            count=len(pending),
            value=value,
            clears=_clears(item, value),
        )
    return path


def _reply_compliance(item: CriterionHealth, ctx: OursContext) -> list[float | None]:
    criterion, data = item.criterion, ctx.data
    item.spark_ours = [
        quantize(v, criterion)
        for v in rolling(list(zip(data.on_time, data.due, strict=True)), rate_of_pairs)
    ]
    upcoming = len(data.pending_due_in)
    if upcoming:
        answered = proj.compliance_projection(
            data.due[WINDOW], data.on_time[WINDOW], data.pending_due_in, answered_on_time=upcoming
        )
        value = quantize(answered[-1], criterion)
        item.what_if = WhatIf(
            text=ngettext(
                "Answering in time the %(n)d wait due in the next 7 days keeps this figure "
                "at %(value)s.",
                "Answering in time the %(n)d waits due in the next 7 days keeps this figure "
                "at %(value)s.",
                upcoming,
            )
            % {"n": upcoming, "value": format_figure(value, criterion)},
            count=upcoming,
            value=value,
            clears=_clears(item, value),
        )
    return proj.compliance_projection(data.due[WINDOW], data.on_time[WINDOW], data.pending_due_in)


#: The criteria we compute a figure of our own for, and how.
OURS: dict[str, Callable[[CriterionHealth, OursContext], list[float | None]]] = {
    K.INCIDENT_RATE: _incident_rate,
    K.ACTIVE_INCIDENTS: _active_incidents,
    K.RESPONSE_TIME: _response_time,
    K.REPLY_COMPLIANCE: _reply_compliance,
}


def _clears(item: CriterionHealth, value: Decimal | None) -> bool | None:
    target = _threshold_below(item)
    if target is None or value is None:
        return None
    return not target.met_by(value)


def _what_if_resolve(
    item: CriterionHealth,
    project: Any,
    open_incidents: Sequence[proj.OpenIncident],
    review: Any,
    now: datetime,
) -> WhatIf | None:
    """Which incidents to resolve now, and where the average is then in 7 days."""
    unresolved = [i for i in open_incidents if not i.resolved]
    if not unresolved:
        return None
    criterion = item.criterion

    def resolve(incident: proj.OpenIncident) -> proj.OpenIncident:
        return replace(incident, expected_close=max(now, review(now)), resolved=True)

    target = _threshold_below(item)
    if target is not None:
        found = proj.resolutions_needed(
            project,
            open_incidents,
            resolve=resolve,
            below=lambda v: not target.met_by(quantize(v, criterion)),
        )
        if found is not None:
            chosen, path = found
            if not chosen:
                return None
            value = quantize(path[-1], criterion)
            return WhatIf(
                text=ngettext(
                    "Resolving this %(n)d incident now keeps the average at %(value)s in "
                    "7 days, below the %(which)s.",
                    "Resolving these %(n)d incidents now keeps the average at %(value)s in "
                    "7 days, below the %(which)s.",
                    len(chosen),
                )
                % {
                    "n": len(chosen),
                    "value": format_figure(value, criterion),
                    "which": _("alert") if target is item.alert else _("limit"),
                },
                count=len(chosen),
                value=value,
                clears=True,
                incident_ids=[i.key for i in chosen],
            )
    changed = {i.key: i for i in open_incidents}
    for incident in unresolved:
        changed[incident.key] = resolve(incident)
    path = project(list(changed.values()))
    value = quantize(path[-1], criterion)
    return WhatIf(
        text=ngettext(
            "Resolving the %(n)d unresolved incident now brings the average to %(value)s "
            "in 7 days.",
            "Resolving the %(n)d unresolved incidents now brings the average to %(value)s "
            "in 7 days.",
            len(unresolved),
        )
        % {"n": len(unresolved), "value": format_figure(value, criterion)},
        count=len(unresolved),
        value=value,
        clears=_clears(item, value),
        incident_ids=[i.key for i in unresolved],
    )
