"""The shop account (A01) and its statistics (A21), read leniently: one odd value reads
as ``None`` instead of costing the whole answer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)

from mirakl.constants import (
    RATE_KPIS,
    STATISTIC_KPIS,
    ShopState,
    StatisticPeriod,
)
from mirakl.schemas.base import MiraklDatetime, MiraklId, MiraklModel, _as_utc, _id_to_str

__all__ = [
    "CodeList",
    "KpiSeries",
    "Kyc",
    "LenientBool",
    "LenientDatetime",
    "LenientDecimal",
    "LenientInt",
    "PaymentDetails",
    "PaymentSubBalance",
    "ShopAccount",
    "ShopShipping",
    "ShopStatistics",
    "StatisticValue",
]


def _none_when_invalid(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    try:
        return handler(value)
    except ValidationError:
        return None


def _to_whole_number(value: Any) -> Any:
    """Counts and delays are int64 in the OpenAPI; an average may still come as 33.5."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except ArithmeticError:
            return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value.to_integral_value(rounding=ROUND_HALF_UP))
    return value


def _not_bool(value: Any) -> Any:
    return None if isinstance(value, bool) else value


def _str_list(value: Any) -> Any:
    """A list of codes: ``null`` is empty, numbers become text, ``{"code": ...}`` its code."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return []
    items: list[str] = []
    for item in value:
        if isinstance(item, Mapping):
            item = item.get("code")
        item = _id_to_str(item)
        if isinstance(item, str) and item.strip():
            items.append(item)
    return items


#: A number (``Decimal``) or ``None`` when missing or unreadable.
LenientDecimal = Annotated[
    Decimal | None, BeforeValidator(_not_bool), WrapValidator(_none_when_invalid)
]


#: A whole number (rounded half up when Mirakl sends decimals) or ``None``.
LenientInt = Annotated[
    int | None, BeforeValidator(_to_whole_number), WrapValidator(_none_when_invalid)
]


#: A boolean or ``None`` when missing or unreadable.
LenientBool = Annotated[bool | None, WrapValidator(_none_when_invalid)]


#: An aware UTC datetime or ``None`` when missing or unreadable.
LenientDatetime = Annotated[MiraklDatetime | None, WrapValidator(_none_when_invalid)]


#: A list of codes (channels, domains, mime types).
CodeList = Annotated[list[str], BeforeValidator(_str_list)]


class PaymentSubBalance(MiraklModel):
    """One ``payment_details.sub_balances`` entry (hybrid pay-out PSP platforms only)."""

    pay_out_psp_code: str | None = None
    paid: LenientDecimal = None
    payable: LenientDecimal = None
    pending: LenientDecimal = None


class PaymentDetails(MiraklModel):
    """A01 ``payment_details``. Balances may be negative; their currency is not documented
    (◐ the shop's ``currency_iso_code``)."""

    paid_balance: LenientDecimal = None
    payable_balance: LenientDecimal = None
    pending_balance: LenientDecimal = None
    reserve_balance: LenientDecimal = None
    reserve_target: LenientDecimal = None
    sub_balances: list[PaymentSubBalance] = Field(default_factory=list)


class Kyc(MiraklModel):
    """A01 ``kyc`` (only when the platform's KYC feature is on)."""

    status: str | None = None
    reason: str | None = None


class ShopShipping(MiraklModel):
    """A01 ``shipping``."""

    lead_time_to_ship: LenientInt = None


class ShopAccount(MiraklModel):
    """A01: the shop's state, closing dates, balance, currency, channels and headline KPIs.

    Only ``shop_id`` is required: the OpenAPI marks many more fields required (some of them
    deprecated and missing from its own example), and a shop whose state is readable but
    whose balance is not is still worth knowing about. ``shop_state`` is kept as sent
    (compare with :class:`mirakl.constants.ShopState`); ``None`` means Mirakl did not say.

    The KPI fields (``grade``, ``approval_rate``, the delays in seconds...) are the
    all-time figures; A21 gives them per period. They do not move ``last_updated_date``.
    """

    shop_id: MiraklId
    shop_name: str | None = None
    shop_state: str | None = None
    suspension_type: str | None = None
    closed_from: LenientDatetime = None
    closed_to: LenientDatetime = None
    currency_iso_code: str | None = None
    channels: CodeList = Field(default_factory=list)
    date_created: LenientDatetime = None
    last_updated_date: LenientDatetime = None
    grade: LenientDecimal = None
    evaluations_count: LenientInt = None
    approval_delay: LenientInt = None
    approval_rate: LenientDecimal = None
    order_messages_response_delay: LenientInt = None
    orders_count: LenientInt = None
    offers_count: LenientInt = None
    payment_details: PaymentDetails | None = None
    kyc: Kyc | None = None
    model: str | None = None
    premium: LenientBool = None
    is_professional: LenientBool = None
    free_shipping: LenientBool = None
    payment_method_mandatory: LenientBool = None
    shipping: ShopShipping | None = None
    shipping_country: str | None = None
    domains: CodeList = Field(default_factory=list)

    @field_validator("shop_state", "suspension_type", "currency_iso_code", mode="before")
    @classmethod
    def _code(cls, value: Any) -> Any:
        # Codes are compared upper-case; ``""`` means "not said".
        if isinstance(value, str):
            return value.strip().upper() or None
        return value

    @property
    def payable_balance(self) -> Decimal | None:
        """``payment_details.payable_balance``: what refunds are paid from (◐)."""
        return self.payment_details.payable_balance if self.payment_details else None

    @property
    def is_open(self) -> bool:
        return self.shop_state == ShopState.OPEN

    @property
    def is_suspended(self) -> bool:
        return self.shop_state == ShopState.SUSPENDED

    @property
    def is_terminated(self) -> bool:
        return self.shop_state == ShopState.TERMINATED

    def is_closed_at(self, moment: datetime) -> bool:
        """True when the shop is closed (holidays) at ``moment``.

        How ``shop_state: CLOSE`` relates to ``closed_from``/``closed_to`` is not documented
        (MIRAKL_API_ACCOUNT.md section 8, question 2): the shop counts as closed when the
        state says ``CLOSE`` or when ``moment`` falls inside a closing window, whichever
        Mirakl reports. An open-ended window (no ``closed_to``) runs on.
        """
        if self.shop_state == ShopState.CLOSE:
            return True
        if self.closed_from is None:
            return False
        moment = _as_utc(moment)
        return self.closed_from <= moment and (self.closed_to is None or moment < self.closed_to)

    @property
    def approval_delay_duration(self) -> timedelta | None:
        return _seconds(self.approval_delay)

    @property
    def order_messages_response_duration(self) -> timedelta | None:
        return _seconds(self.order_messages_response_delay)


def _seconds(value: int | Decimal | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=int(value))


class StatisticValue(MiraklModel):
    """One ``{period, value}`` entry of an A21 KPI; ``value`` is ``None`` when not given."""

    period: str
    value: LenientDecimal = None


def _kpi_entries(value: Any) -> Any:
    """Keep the entries that have a period; anything else in the array is dropped."""
    if not isinstance(value, list):
        return []
    return [
        entry
        for entry in value
        if isinstance(entry, Mapping)
        and isinstance(entry.get("period"), str)
        and entry["period"].strip()
    ]


#: An A21 KPI: its ``{period, value}`` entries (``null`` or an odd value reads as ``[]``).
KpiSeries = Annotated[list[StatisticValue], BeforeValidator(_kpi_entries)]


_STATISTICS_SCALARS = frozenset({"shop_id", "channel", "last_updated_date"})


class ShopStatistics(MiraklModel):
    """A21: the shop's quality and sales KPIs per period, overall or for one channel.

    Every KPI is a list of :class:`StatisticValue`; read one with :meth:`value`,
    :meth:`rate` (a 0-1 fraction whatever scale Mirakl used) or :meth:`duration`. KPIs
    Mirakl adds later are kept in ``other_kpis``. Without a ``channel_code`` filter
    ``channel`` is ``None``; with one, ``offers_count`` and
    ``consecutive_refused_orders_count`` are absent (documented).

    Not documented, so not assumed: whether ``LAST_MONTH`` is a calendar month or a rolling
    window, the time zone, the order of the entries (the first entry of a period wins),
    and whether a period without data is omitted or ``null`` (both read as ``None``).
    """

    shop_id: MiraklId | None = None
    channel: str | None = None
    last_updated_date: LenientDatetime = None
    approval_delay: KpiSeries = Field(default_factory=list)
    approval_rate: KpiSeries = Field(default_factory=list)
    auto_refused_rate: KpiSeries = Field(default_factory=list)
    average_cart: KpiSeries = Field(default_factory=list)
    average_cart_with_shipping: KpiSeries = Field(default_factory=list)
    cancelation_rate: KpiSeries = Field(default_factory=list)
    consecutive_refused_orders_count: KpiSeries = Field(default_factory=list)
    evaluations_count: KpiSeries = Field(default_factory=list)
    grade: KpiSeries = Field(default_factory=list)
    incident_rate: KpiSeries = Field(default_factory=list)
    late_shipment_rate: KpiSeries = Field(default_factory=list)
    offers_count: KpiSeries = Field(default_factory=list)
    order_messages_response_delay: KpiSeries = Field(default_factory=list)
    orders_count: KpiSeries = Field(default_factory=list)
    refund_rate: KpiSeries = Field(default_factory=list)
    return_rate: KpiSeries = Field(default_factory=list)
    shipping_delay: KpiSeries = Field(default_factory=list)
    total_revenue: KpiSeries = Field(default_factory=list)
    valid_tracking_rate: KpiSeries = Field(default_factory=list)
    #: KPI arrays this client does not know yet, by their JSON name.
    other_kpis: dict[str, KpiSeries] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _collect_other_kpis(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        others = {
            key: value
            for key, value in data.items()
            if key not in STATISTIC_KPIS
            and key not in _STATISTICS_SCALARS
            and isinstance(value, list)
            and value
            and all(isinstance(entry, Mapping) and "period" in entry for entry in value)
        }
        return {**data, "other_kpis": others}

    @field_validator("channel", mode="before")
    @classmethod
    def _channel(cls, value: Any) -> Any:
        value = _id_to_str(value)
        if isinstance(value, str) and not value.strip():
            return None
        return value

    def kpis(self) -> dict[str, list[StatisticValue]]:
        """Every KPI with at least one entry (known and ``other_kpis``), by JSON name."""
        known = {name: getattr(self, name) for name in sorted(STATISTIC_KPIS)}
        merged: dict[str, list[StatisticValue]] = {**known, **self.other_kpis}
        return {name: series for name, series in merged.items() if series}

    def series(self, kpi: str) -> list[StatisticValue]:
        """The entries of one KPI (``[]`` when Mirakl sent none)."""
        if kpi in STATISTIC_KPIS:
            series: list[StatisticValue] = getattr(self, kpi)
            return series
        return self.other_kpis.get(kpi, [])

    def value(self, kpi: str, period: str = StatisticPeriod.LAST_MONTH) -> Decimal | None:
        """The raw value of ``kpi`` for ``period``, as Mirakl sent it."""
        for entry in self.series(kpi):
            if entry.period == period:
                return entry.value
        return None

    @property
    def rate_scale(self) -> Literal["fraction", "percent"]:
        """How this answer writes rates.

        The scale is not documented (section 8, question 1); the definitions are ratios and
        A01's example has ``approval_rate: 1``, so 0-1 is expected. An answer in which any
        rate exceeds 1 is read as percentages instead. Deciding on the whole answer, not
        per value, keeps a 1 (100 %) from being read as 1 % next to percentages.
        """
        for kpi in RATE_KPIS:
            for entry in self.series(kpi):
                if entry.value is not None and entry.value > 1:
                    return "percent"
        return "fraction"

    def rate(self, kpi: str, period: str = StatisticPeriod.LAST_MONTH) -> Decimal | None:
        """A rate KPI as a 0-1 fraction (``Decimal("0.076")`` for 7.6 %)."""
        raw = self.value(kpi, period)
        if raw is None:
            return None
        return raw / 100 if self.rate_scale == "percent" else raw

    def duration(self, kpi: str, period: str = StatisticPeriod.LAST_MONTH) -> timedelta | None:
        """A KPI in seconds (``approval_delay``, ``order_messages_response_delay``...)."""
        raw = self.value(kpi, period)
        if raw is None or not raw.is_finite():
            return None
        return timedelta(seconds=float(raw))
