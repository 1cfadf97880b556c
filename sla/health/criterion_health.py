"""What a marketplace's health is made of, as the page, the API and the watchdog see it:
one :class:`CriterionHealth` per criterion inside a :class:`MarketplaceHealth`, and how a
figure is written (:func:`format_figure`). Built by :mod:`sla.health.figures`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.translation import gettext as _

from core.models import MarketplaceConnection
from core.shop_account import ShopAccountSnapshot
from incidents.models import Incident
from sla.health.banner import ShopStateChoices, shop_state_label
from sla.health.criteria import Criterion, Unit
from sla.health.rules import Comparison, Level, Standing, Threshold, level_of, standing_of
from sla.models.health import DailyCall, ShopStatisticsSnapshot

#: Past this difference ours and Mirakl's "disagree", and the page says why.
TOLERANCE = {
    Unit.PERCENT: Decimal("0.5"),
    Unit.HOURS: Decimal("1"),
    Unit.COUNT: Decimal("0.5"),
    Unit.STARS: Decimal("0.1"),
}


def format_figure(value: Decimal | float | None, criterion: Criterion) -> str:
    """A figure with its unit, Spanish style when Spanish is active (``7,60 %``)."""
    from django.utils.formats import number_format

    if value is None:
        return "—"
    number = number_format(
        Decimal(str(value)).quantize(criterion.quantum, ROUND_HALF_UP),
        decimal_pos=criterion.places,
        use_l10n=True,
    )
    suffix = {Unit.PERCENT: "\u00a0%", Unit.HOURS: "\u00a0h", Unit.STARS: "\u00a0★"}
    return f"{number}{suffix.get(criterion.unit, '')}"


def quantize(value: float | Decimal | None, criterion: Criterion) -> Decimal | None:
    """``value`` within the criterion's bounds, to its number of places (``None`` stays)."""
    if value is None:
        return None
    return criterion.clamp(Decimal(str(value))).quantize(criterion.quantum, ROUND_HALF_UP)


@dataclass(slots=True)
class IncidentRow:
    """An open incident as the projection sees it."""

    pk: int
    order_id: str
    state: str
    state_label: str
    opened_at: datetime
    age: timedelta
    expected_close: datetime | None
    resolved: bool

    @property
    def badge(self) -> str:
        """The colour of the state's badge (:class:`incidents.models.Incident.State`)."""
        return Incident.State.badge_of(self.state)


@dataclass(slots=True)
class WhatIf:
    """ "Resolving these N incidents brings the figure to X": what, how many, the figure
    seven days ahead, and whether it stays clear of the thresholds."""

    text: str
    count: int
    value: Decimal | None
    clears: bool | None = None
    incident_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class CriterionHealth:
    """One criterion of one marketplace, as the page, the API and the watchdog see it."""

    criterion: Criterion
    alert: Threshold
    limit: Threshold
    mirakl: Decimal | None = None
    mirakl_at: datetime | None = None
    ours: Decimal | None = None
    #: ``k`` days ahead (index 0 = now) for ours, and for the judged figure.
    ours_path: list[Decimal | None] = field(default_factory=list)
    path: list[Decimal | None] = field(default_factory=list)
    #: ``"shifted"`` (Mirakl's moved by ours), ``"ours"``, ``"trend"`` or ``""`` (none).
    basis: str = ""
    spark_ours: list[Decimal | None] = field(default_factory=list)
    spark_mirakl: list[Decimal | None] = field(default_factory=list)
    explanations: list[str] = field(default_factory=list)
    what_if: WhatIf | None = None
    note: str = ""

    @property
    def key(self) -> str:
        return self.criterion.key

    @property
    def judged(self) -> Decimal | None:
        """The figure the marketplace decides on: Mirakl's, else ours."""
        return self.mirakl if self.mirakl is not None else self.ours

    @property
    def standing(self) -> Standing:
        return standing_of(self.judged, alert=self.alert, limit=self.limit)

    @property
    def projected(self) -> Decimal | None:
        """The judged figure at the end of the horizon."""
        return self.path[-1] if len(self.path) > 1 else None

    @property
    def projected_standing(self) -> Standing:
        return standing_of(self.projected, alert=self.alert, limit=self.limit)

    @property
    def level(self) -> Level:
        return level_of(self.judged, self.path[1:], alert=self.alert, limit=self.limit)

    @property
    def crossing(self) -> tuple[Standing, int, Threshold] | None:
        """The first threshold the projection meets that the figure has not: ``("limit"
        or "alert", days from now, threshold)``."""
        now = self.standing
        for day, value in enumerate(self.path[1:], start=1):
            if now != Standing.LIMIT and self.limit.met_by(value):
                return (Standing.LIMIT, day, self.limit)
            if now not in (Standing.ALERT, Standing.LIMIT) and self.alert.met_by(value):
                return (Standing.ALERT, day, self.alert)
        return None

    @property
    def unknown_thresholds(self) -> bool:
        return self.alert.is_unknown or self.limit.is_unknown

    @property
    def disagrees(self) -> bool:
        if self.mirakl is None or self.ours is None:
            return False
        return abs(self.mirakl - self.ours) > TOLERANCE[self.criterion.unit]

    def fmt(self, value: Decimal | float | None) -> str:
        return format_figure(value, self.criterion)

    def threshold_text(self, threshold: Threshold) -> str:
        """``≥ 8,00 %``, or "unknown" / "none"."""
        if threshold.is_set:
            return f"{Comparison(threshold.comparison).label} {self.fmt(threshold.value)}"
        return _("unknown") if threshold.is_unknown else _("none")

    @property
    def alert_text(self) -> str:
        return self.threshold_text(self.alert)

    @property
    def limit_text(self) -> str:
        return self.threshold_text(self.limit)


@dataclass(slots=True)
class MarketplaceHealth:
    """Everything the health page shows of one marketplace."""

    connection: MarketplaceConnection
    now: datetime
    rulebook: Any
    account: ShopAccountSnapshot | None
    statistics: ShopStatisticsSnapshot | None
    channel_statistics: list[ShopStatisticsSnapshot]
    criteria: list[CriterionHealth]
    incidents: list[IncidentRow]
    incidents_open: int
    calls: list[DailyCall]
    history_since: datetime | None
    spark_days: list[date]

    @property
    def level(self) -> Level:
        return max((c.level for c in self.criteria), default=Level.OK)

    @property
    def shop_state(self) -> str:
        return self.account.shop_state if self.account else ""

    @property
    def shop_state_label(self) -> str:
        return shop_state_label(self.shop_state)

    @property
    def shop_state_badge(self) -> str:
        return ShopStateChoices.badge_of(self.shop_state)

    def criterion(self, key: str) -> CriterionHealth:
        return next(c for c in self.criteria if c.key == key)
