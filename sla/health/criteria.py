"""The quality criteria a marketplace judges a shop by, and where each figure comes from.

One registry (:data:`CRITERIA`) names every criterion once: its unit, which way is worse,
the A21 KPI and period Mirakl gives it under (if any), and whether Incidesk computes its
own figure from the synced orders, incidents and messages. Pages, the API, the rulebook
and the watchdog all read it; nothing else spells a criterion's properties.

Units: percentages are 0-100 (Mirakl's 0-1 fractions are converted once, when a
statistics answer is stored), durations are hours, the rating is stars (0-5), the
active incidents average is a count.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _

from mirakl.constants import StatisticPeriod

__all__ = [
    "CRITERIA",
    "Criterion",
    "CriterionKey",
    "Unit",
    "criterion",
]


class CriterionKey(models.TextChoices):
    """Every criterion, stored by this key (never renamed: rulebooks and alerts keep it)."""

    INCIDENT_RATE = "incident_rate", _("Incident rate")
    ACTIVE_INCIDENTS = "active_incidents", _("Active incidents (30-day average)")
    RESPONSE_TIME = "response_time", _("Response time to messages")
    REPLY_COMPLIANCE = "reply_compliance", _("Replies within the deadline")
    ACCEPTANCE_TIME = "acceptance_time", _("Acceptance time")
    ACCEPTANCE_RATE = "acceptance_rate", _("Acceptance rate")
    LATE_SHIPMENT_RATE = "late_shipment_rate", _("Late shipment rate")
    VALID_TRACKING_RATE = "valid_tracking_rate", _("Valid tracking rate")
    RATING = "rating", _("Average rating")


class Unit(StrEnum):
    PERCENT = "percent"
    HOURS = "hours"
    STARS = "stars"
    COUNT = "count"


@dataclass(frozen=True, slots=True)
class Criterion:
    """One criterion's fixed properties.

    :param higher_is_worse: a rate of incidents gets worse as it rises, an acceptance
        rate as it falls.
    :param mirakl_kpi: the A21 KPI that measures it (``None``: Mirakl gives no figure).
    :param mirakl_period: the A21 period the marketplace judges it over.
    :param ours: Incidesk computes a figure of its own (live, from the synced data).
    :param window_days: the length of the judged period, in days.
    """

    key: str
    unit: Unit
    higher_is_worse: bool
    mirakl_kpi: str | None
    mirakl_period: str = StatisticPeriod.LAST_MONTH
    ours: bool = False
    window_days: int = 30
    #: Decimal places shown and stored.
    places: int = 1

    @property
    def label(self) -> str:
        return str(CriterionKey(self.key).label)

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.places)

    def worse(self, a: Decimal, b: Decimal) -> Decimal:
        """The worse of two figures."""
        return max(a, b) if self.higher_is_worse else min(a, b)

    def clamp(self, value: Decimal) -> Decimal:
        """A projected figure kept inside what the unit allows (0-100 %, 0-5 stars, >= 0)."""
        value = max(value, Decimal(0))
        if self.unit == Unit.PERCENT:
            return min(value, Decimal(100))
        if self.unit == Unit.STARS:
            return min(value, Decimal(5))
        return value


K = CriterionKey
CRITERIA: dict[str, Criterion] = {
    c.key: c
    for c in (
        Criterion(K.INCIDENT_RATE, Unit.PERCENT, True, "incident_rate", ours=True, places=2),
        Criterion(K.ACTIVE_INCIDENTS, Unit.COUNT, True, None, ours=True),
        Criterion(K.RESPONSE_TIME, Unit.HOURS, True, "order_messages_response_delay", ours=True),
        Criterion(K.REPLY_COMPLIANCE, Unit.PERCENT, False, None, ours=True),
        Criterion(K.ACCEPTANCE_TIME, Unit.HOURS, True, "approval_delay"),
        Criterion(K.ACCEPTANCE_RATE, Unit.PERCENT, False, "approval_rate"),
        Criterion(K.LATE_SHIPMENT_RATE, Unit.PERCENT, True, "late_shipment_rate"),
        Criterion(K.VALID_TRACKING_RATE, Unit.PERCENT, False, "valid_tracking_rate"),
        Criterion(
            K.RATING,
            Unit.STARS,
            False,
            "grade",
            mirakl_period=StatisticPeriod.LAST_THREE_MONTHS,
            window_days=90,
            places=2,
        ),
    )
}


def criterion(key: str) -> Criterion:
    """The criterion of ``key`` (``KeyError`` for an unknown one)."""
    return CRITERIA[key]
