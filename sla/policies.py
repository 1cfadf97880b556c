"""Deadline rules, the marketplace presets, and which policy a connection uses.

A connection uses the :class:`~sla.models.SlaPolicy` whose ``preset`` equals its
``sla_policy`` code; when that row is missing, the ``default`` preset's; when that is
missing too, :data:`FALLBACK_RULE` (48 wall-clock hours). Lookups are cached per
process for :data:`POLICY_CACHE_SECONDS`; the sweep reloads every policy on each run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar, cast
from zoneinfo import ZoneInfo

from django.conf import settings

from sla.business_hours import MON_FRI_9_18, Calendar, advance_us, from_us, to_us
from sla.calendars import calendar_from_model
from sla.models import SlaPolicy

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from core.models import MarketplaceConnection

__all__ = [
    "BUSINESS",
    "FALLBACK_RULE",
    "POLICY_CACHE_SECONDS",
    "PRESETS",
    "SPANISH_CALENDAR_NAME",
    "WALL",
    "DeadlineRule",
    "PresetSpec",
    "clear_cache",
    "policy_for",
    "presets_install",
    "rule_for",
    "rule_from_policy",
    "rule_resolve",
    "rules_by_preset",
]

BUSINESS = "business"
WALL = "wall"
POLICY_CACHE_SECONDS = 60.0
_US = timedelta(microseconds=1)
SPANISH_CALENDAR_NAME = "España, L-V 9:00-18:00"


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    """How long the shop has to answer, on which clock, and when to warn.

    ``warn_fraction`` (the last part of the deadline, e.g. 0.25) or ``warn_before``
    (a duration of the same clock before the deadline); with neither, the warning is
    the deadline itself.
    """

    clock: str
    reply_within: timedelta
    calendar: Calendar | None = None
    warn_fraction: float | None = None
    warn_before: timedelta | None = None
    time_zone: str = "Europe/Madrid"
    policy_id: int | None = None

    _due_us: int = field(init=False, repr=False, compare=False, default=0)
    _warn_us: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        if self.clock == BUSINESS and self.calendar is None:
            raise ValueError("a business-hours rule needs a calendar")
        if self.reply_within <= timedelta(0):
            raise ValueError("the reply deadline must be positive")
        object.__setattr__(self, "_due_us", self.reply_within // _US)
        object.__setattr__(self, "_warn_us", self.warn_offset // _US)

    @property
    def tz(self) -> ZoneInfo:
        """The zone deadlines are shown in: the calendar's, else the policy's."""
        return self.calendar.tz if self.calendar is not None else ZoneInfo(self.time_zone)

    @property
    def warn_offset(self) -> timedelta:
        """Clock time from the start to the warning (never negative)."""
        if self.warn_fraction is not None:
            offset = self.reply_within * (1 - self.warn_fraction)
        elif self.warn_before is not None:
            offset = self.reply_within - self.warn_before
        else:
            offset = self.reply_within
        return max(offset, timedelta(0))

    def due(self, start: datetime) -> datetime:
        """The deadline of something that started waiting at ``start``, in :attr:`tz`."""
        t = to_us(start)
        if self.calendar is not None and self.clock == BUSINESS:
            (due,) = advance_us(self.calendar, t, (self._due_us,))
        else:
            due = t + self._due_us
        return from_us(due).astimezone(self.tz)

    def due_and_warn(self, start: datetime) -> tuple[datetime, datetime]:
        """``(due_at, warn_at)`` in UTC for a wait that started at ``start``.

        Wall-clock rules add real elapsed time (an aware datetime plus a timedelta in
        a local zone would add wall time, an hour off across a DST switch).
        """
        t = to_us(start)
        if self.calendar is not None and self.clock == BUSINESS:
            warn, due = advance_us(self.calendar, t, (self._warn_us, self._due_us))
        else:
            warn, due = t + self._warn_us, t + self._due_us
        return from_us(due), from_us(warn)


#: What a connection gets when neither its preset nor ``default`` exists.
FALLBACK_RULE = DeadlineRule(clock=WALL, reply_within=timedelta(hours=48), warn_fraction=0.25)


def _hours(value: Decimal | None) -> timedelta | None:
    return None if value is None else timedelta(hours=float(value))


def rule_from_policy(policy: SlaPolicy) -> DeadlineRule:
    """The rule of a policy row (its calendar's periods and closed days may be prefetched)."""
    calendar = (
        calendar_from_model(policy.calendar)
        if policy.calendar_id and policy.calendar is not None
        else None
    )
    return DeadlineRule(
        clock=policy.clock,
        reply_within=timedelta(hours=float(policy.reply_hours)),
        calendar=calendar if policy.clock == BUSINESS else None,
        warn_fraction=None if policy.warn_fraction is None else float(policy.warn_fraction),
        warn_before=_hours(policy.warn_hours),
        time_zone=calendar.time_zone if calendar else settings.TIME_ZONE,
        policy_id=policy.pk,
    )


def _policies() -> QuerySet[SlaPolicy]:
    return SlaPolicy.objects.select_related("calendar").prefetch_related(
        "calendar__periods", "calendar__closed_days"
    )


def rules_by_preset() -> dict[str, DeadlineRule]:
    """Every policy's rule by preset code, read now (one query per table)."""
    return {policy.preset: rule_from_policy(policy) for policy in _policies()}


def rule_resolve(by_preset: Mapping[str, DeadlineRule], code: str) -> DeadlineRule:
    """The rule of preset ``code``, else ``default``'s, else :data:`FALLBACK_RULE`."""
    return by_preset.get(code) or by_preset.get("default") or FALLBACK_RULE


_cache: dict[str, tuple[float, Any]] = {}
T = TypeVar("T")


def _cached(key: str, load: Callable[[], T]) -> T:
    hit = _cache.get(key)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return cast(T, hit[1])
    value = load()
    _cache[key] = (now + POLICY_CACHE_SECONDS, value)
    return value


def policy_for(connection: MarketplaceConnection) -> SlaPolicy | None:
    """The policy a connection uses (its preset's, else ``default``'s), cached briefly."""
    by_preset = _cached("policies", lambda: {p.preset: p for p in _policies()})
    return by_preset.get(connection.sla_policy) or by_preset.get("default")


def rule_for(connection: MarketplaceConnection) -> DeadlineRule:
    """The deadline rule a connection uses, cached briefly."""
    return rule_resolve(_cached("rules", rules_by_preset), connection.sla_policy)


def clear_cache() -> None:
    """Forget the cached policies (tests, and after editing a policy in a shell)."""
    _cache.clear()


@dataclass(frozen=True, slots=True)
class PresetSpec:
    """A policy as shipped: what the data migration and :func:`presets_install` create."""

    preset: str
    name: str
    clock: str
    reply_hours: int
    warn_fraction: Decimal | None
    spanish_calendar: bool = False


#: PcComponentes asks for a reply within "24 horas laborales" without saying which
#: hours are working hours: we assume Monday to Friday, 9:00 to 18:00 in Madrid time,
#: with Spain's national holidays. The admin can change the calendar. MediaMarkt asks
#: for 48 hours, every hour counting. Quality thresholds are in the rulebooks
#: (``sla.health.rulebook``).
PRESETS: tuple[PresetSpec, ...] = (
    PresetSpec("pccomponentes", "PcComponentes", BUSINESS, 24, Decimal("0.25"), True),
    PresetSpec("mediamarkt", "MediaMarkt", WALL, 48, Decimal("0.25")),
    PresetSpec("default", "Por defecto (48 h)", WALL, 48, Decimal("0.25")),
)


def presets_install(*, apps: Any = None) -> list[Any]:
    """Create the shipped calendar and policies that are missing; existing ones are kept.

    - PcComponentes: 24 business hours, warning in the last 25 %. Its guides ask for a
      reply within "24 horas laborales" without saying which hours are working hours:
      we assume Monday to Friday, 9:00 to 18:00, Madrid time, with Spain's national
      holidays (the calendar is editable in the admin, e.g. to add a region).
    - MediaMarkt: 48 hours, every hour counting, warning in the last 25 %.
    - default: 48 hours, every hour counting, warning in the last 25 %.

    :param apps: the migration's app registry (historical models); the live models
        when omitted.
    """
    if apps is None:
        from django.apps import apps as live_apps

        apps = live_apps
    calendar_model = apps.get_model("sla", "BusinessCalendar")
    period_model = apps.get_model("sla", "WorkingPeriod")
    policy_model = apps.get_model("sla", "SlaPolicy")

    calendar, created = calendar_model.objects.get_or_create(
        name=SPANISH_CALENDAR_NAME,
        defaults={"time_zone": "Europe/Madrid", "country": "ES", "subdivision": ""},
    )
    if created:
        period_model.objects.bulk_create(
            period_model(
                calendar=calendar,
                weekday=weekday,
                start_time=f"{start // 3600:02d}:{start % 3600 // 60:02d}",
                end_time=f"{end // 3600 % 24:02d}:{end % 3600 // 60:02d}",
            )
            for weekday, periods in enumerate(MON_FRI_9_18)
            for start, end in periods
        )
    policies = []
    for spec in PRESETS:
        policy, _ = policy_model.objects.get_or_create(
            preset=spec.preset,
            defaults={
                "name": spec.name,
                "clock": spec.clock,
                "reply_hours": Decimal(spec.reply_hours),
                "warn_fraction": spec.warn_fraction,
                "calendar": calendar if spec.spanish_calendar else None,
            },
        )
        policies.append(policy)
    return policies
