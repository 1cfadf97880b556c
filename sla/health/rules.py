"""Thresholds and where a figure stands against them (pure; no database).

A threshold is *set* (a value and a comparison, e.g. ``>= 8``), *none* (the marketplace
has no such threshold: PcComponentes gives the rating no alert) or *unknown* (the
marketplace has one but nobody has typed it yet: an explicit state, shown as such, never
a silent blank). A figure is at the **limit** when it meets the limit's comparison, at
the **alert** when it meets the alert's, else **ok**. The watchdog orders these with the
projections into one ladder (:class:`Level`) so that each step up is announced once.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum

from django.db import models
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from core.choices import Badge, BadgeChoices

__all__ = [
    "Comparison",
    "Level",
    "Standing",
    "Threshold",
    "ThresholdState",
    "level_of",
    "standing_of",
]


class ThresholdState(models.TextChoices):
    SET = "set", _("Set")
    NONE = "none", _("None (the marketplace has no such threshold)")
    UNKNOWN = "unknown", _("Unknown (to be filled in)")


class Comparison(models.TextChoices):
    GTE = ">=", "≥"
    GT = ">", ">"
    LTE = "<=", "≤"
    LT = "<", "<"

    @property
    def higher_is_worse(self) -> bool:
        return self in (Comparison.GTE, Comparison.GT)


_OPERATORS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    Comparison.GTE: operator.ge,
    Comparison.GT: operator.gt,
    Comparison.LTE: operator.le,
    Comparison.LT: operator.lt,
}


@dataclass(frozen=True, slots=True)
class Threshold:
    """One alert or limit of a rulebook."""

    state: str = ThresholdState.UNKNOWN
    value: Decimal | None = None
    comparison: str = Comparison.GTE

    @property
    def is_set(self) -> bool:
        return self.state == ThresholdState.SET and self.value is not None

    @property
    def is_unknown(self) -> bool:
        return self.state == ThresholdState.UNKNOWN

    def met_by(self, value: Decimal | None) -> bool:
        """True when ``value`` meets this threshold (False when either is missing)."""
        if value is None or not self.is_set:
            return False
        assert self.value is not None  # noqa: S101 - is_set says so
        return _OPERATORS[self.comparison](value, self.value)

    def text(self) -> str:
        """``≥ 8`` / ``< 3,5`` (in the active language), ``—`` for none, ``?`` for unknown;
        without unit (the health pages add it)."""
        if self.is_set:
            assert self.value is not None  # noqa: S101 - is_set says so
            value = self.value.normalize()
            if value == value.to_integral():
                value = value.quantize(Decimal(1))
            return f"{Comparison(self.comparison).label} {number_format(value, use_l10n=True)}"
        return "?" if self.is_unknown else "—"


class Standing(BadgeChoices):
    """Where a figure stands now (or which threshold a projection crosses)."""

    OK = "ok", _("Within the thresholds"), Badge.OK
    ALERT = "alert", _("Alert threshold reached"), Badge.WARN
    LIMIT = "limit", _("Limit reached: automatic suspension"), Badge.BAD
    NO_FIGURE = "no_figure", _("No figure yet")


def standing_of(value: Decimal | None, *, alert: Threshold, limit: Threshold) -> Standing:
    """Where ``value`` stands against the alert and the limit."""
    if value is None:
        return Standing.NO_FIGURE
    if limit.met_by(value):
        return Standing.LIMIT
    if alert.met_by(value):
        return Standing.ALERT
    return Standing.OK


class Level(IntEnum):
    """The watchdog's ladder for one criterion: each step up is announced once per episode,
    and the return to :attr:`OK` ends it ("back to normal"). Never renumber: stored."""

    OK = 0
    PROJECTED_ALERT = 1
    ALERT = 2
    PROJECTED_LIMIT = 3
    LIMIT = 4


def level_of(
    current: Decimal | None,
    projected: Sequence[Decimal | None],
    *,
    alert: Threshold,
    limit: Threshold,
) -> Level:
    """The highest rung ``current`` (now) and ``projected`` (the coming days) reach."""
    if limit.met_by(current):
        return Level.LIMIT
    if any(limit.met_by(value) for value in projected):
        return Level.PROJECTED_LIMIT
    if alert.met_by(current):
        return Level.ALERT
    if any(alert.met_by(value) for value in projected):
        return Level.PROJECTED_ALERT
    return Level.OK
