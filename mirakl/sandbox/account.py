"""The shop account (A01) and its quality statistics (A21), as MIRAKL_API_ACCOUNT.md shows them.

``ShopAccount`` holds what the marketplace knows about the seller: its state (``OPEN``,
``CLOSE``, ``SUSPENDED``, ``TERMINATED``), suspension type, closing dates, balances and the
KPIs per period. The payable balance is the one OR28 checks refunds against.

Seeded figures are those of a Spanish shop close to PcComponentes' quality thresholds
(DOMAIN.md: incident rate alert 8 % / limit 9 %, response time alert 20 h / limit 24 h,
acceptance rate alert 97 %, late shipments 8 %, valid tracking 91 %, rating 3.5), with the
last month worse than the longer periods, so a projection from them crosses an alert soon.
They are set, not computed from the orders. Rates are written as 0-1 fractions (the
scale is not documented; the client reads both).

Not documented, hence not modelled: whether ``CLOSE`` follows ``closed_from``/``closed_to``
by itself (the state is what the control API last set), and whether a suspended shop can
still call the API (it can, here).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from mirakl.sandbox.catalog import ShopProfile
from mirakl.sandbox.clock import format_ms
from mirakl.sandbox.render import q2
from mirakl.sandbox.wire import ApiError

__all__ = [
    "COUNT_KPIS",
    "KPIS",
    "OVERALL_ONLY_KPIS",
    "PERIODS",
    "RATE_KPIS",
    "SECONDS_KPIS",
    "SEEDED_STATISTICS",
    "SHOP_STATES",
    "SUSPENSION_TYPES",
    "ShopAccount",
]

DAY_MS = 86_400_000
SHOP_STATES = ("OPEN", "CLOSE", "SUSPENDED", "TERMINATED")
SUSPENSION_TYPES = ("MANUAL", "PENDING_APPROVAL", "INCOMPLETE_PROFILE", "AUTOMATIC_SUSPENSION")
PERIODS = (
    "ALL_SINCE_BEGINNING",
    "LAST_MONTH",
    "LAST_THREE_MONTHS",
    "LAST_SIX_MONTHS",
    "LAST_YEAR",
)
RATE_KPIS = frozenset(
    {
        "approval_rate",
        "auto_refused_rate",
        "cancelation_rate",
        "incident_rate",
        "late_shipment_rate",
        "refund_rate",
        "return_rate",
        "valid_tracking_rate",
    }
)
SECONDS_KPIS = frozenset({"approval_delay", "order_messages_response_delay", "shipping_delay"})
COUNT_KPIS = frozenset(
    {"consecutive_refused_orders_count", "evaluations_count", "offers_count", "orders_count"}
)
_HIGHER_IS_BETTER = frozenset({"approval_rate", "valid_tracking_rate"})
#: "Only present when the channelCode filter is not present."
OVERALL_ONLY_KPIS = frozenset({"consecutive_refused_orders_count", "offers_count"})

_H = 3600


def _row(*values: str | int) -> tuple[Decimal, ...]:
    """One KPI's values in ``PERIODS`` order."""
    return tuple(Decimal(str(value)) for value in values)


# Per period: ALL_SINCE_BEGINNING, LAST_MONTH, LAST_THREE_MONTHS, LAST_SIX_MONTHS, LAST_YEAR.
SEEDED_STATISTICS: dict[str, tuple[Decimal, ...]] = {
    "approval_delay": _row(9 * _H, 14 * _H, 12 * _H, 11 * _H, 10 * _H),
    "approval_rate": _row("0.985", "0.975", "0.979", "0.981", "0.983"),
    "auto_refused_rate": _row("0.002", "0.004", "0.003", "0.003", "0.002"),
    "average_cart": _row("142.35", "131.80", "137.25", "139.90", "141.10"),
    "average_cart_with_shipping": _row("145.02", "134.61", "139.98", "142.61", "143.80"),
    "cancelation_rate": _row("0.016", "0.021", "0.019", "0.018", "0.017"),
    "consecutive_refused_orders_count": _row(0, 0, 0, 0, 0),
    "evaluations_count": _row(2318, 96, 301, 612, 1245),
    "grade": _row("4.3", "3.9", "4.1", "4.2", "4.3"),
    "incident_rate": _row("0.052", "0.076", "0.064", "0.058", "0.055"),
    "late_shipment_rate": _row("0.045", "0.062", "0.055", "0.050", "0.048"),
    "offers_count": _row(1840, 1840, 1840, 1840, 1840),
    "order_messages_response_delay": _row(14 * _H, 19 * _H, 17 * _H, 16 * _H, 15 * _H),
    "orders_count": _row(14872, 612, 1790, 3480, 7120),
    "refund_rate": _row("0.038", "0.047", "0.043", "0.041", "0.039"),
    "return_rate": _row("0.029", "0.034", "0.032", "0.031", "0.030"),
    "shipping_delay": _row(26 * _H, 31 * _H, 29 * _H, 28 * _H, 27 * _H),
    "total_revenue": _row("2117030.20", "80661.60", "245677.50", "486852.00", "1004632.00"),
    "valid_tracking_rate": _row("0.952", "0.934", "0.941", "0.947", "0.950"),
}
KPIS: tuple[str, ...] = tuple(sorted(SEEDED_STATISTICS))

#: A KPI's values by period (a value may be ``None``), or ``None``: the field is ``null``.
Series = dict[str, Decimal | None] | None


@dataclass(slots=True)
class _Balances:
    paid: Decimal
    payable: Decimal
    pending: Decimal


@dataclass(slots=True)
class ShopAccount:
    """The seller as the marketplace sees it. Callers hold the state lock."""

    shop: ShopProfile
    channels: tuple[str, ...]
    created_ms: int
    updated_ms: int
    balances: _Balances
    state: str = "OPEN"
    suspension_type: str | None = None
    closed_from_ms: int | None = None
    closed_to_ms: int | None = None
    statistics_ms: int = 0
    #: Overall KPIs (no channel filter); the channels' figures derive from them.
    overall: dict[str, Series] = field(default_factory=dict)
    #: Figures set for one channel through the control API, on top of the derived ones.
    channel_overrides: dict[str, dict[str, Series]] = field(default_factory=dict)

    @classmethod
    def seeded(
        cls,
        shop: ShopProfile,
        *,
        now_ms: int,
        payable_balance: Decimal,
        channels: Iterable[str] = ("ES",),
    ) -> ShopAccount:
        codes = tuple(dict.fromkeys(code.strip().upper() for code in channels if code.strip()))
        if not codes:
            raise ValueError("a shop sells on at least one channel")
        today = now_ms - now_ms % DAY_MS
        calculated = today + 3 * 3_600_000 + 12 * 60_000  # Mirakl's nightly run, 03:12 UTC
        if calculated > now_ms:
            calculated -= DAY_MS
        return cls(
            shop=shop,
            channels=codes,
            created_ms=today - 1_100 * DAY_MS + 10 * 3_600_000,
            updated_ms=today - 41 * DAY_MS + 16 * 3_600_000,
            balances=_Balances(
                paid=Decimal("48211.90"),
                payable=q2(payable_balance),
                pending=Decimal("1834.27"),
            ),
            statistics_ms=calculated,
            overall={
                kpi: dict(zip(PERIODS, values, strict=True))
                for kpi, values in SEEDED_STATISTICS.items()
            },
        )

    @property
    def main_channel(self) -> str:
        """The channel the orders are on (OR11 renders ``ES``), else the first one."""
        return "ES" if "ES" in self.channels else self.channels[0]

    # ------------------------------------------------------------ balances
    @property
    def payable_balance(self) -> Decimal:
        return self.balances.payable

    @payable_balance.setter
    def payable_balance(self, value: Decimal) -> None:
        self.balances.payable = q2(value)

    # ------------------------------------------------------------ A01
    def payload(self) -> dict[str, Any]:
        """The A01 body, keys sorted as in the OpenAPI's example."""
        shop = self.shop
        overall = self.overall
        payload: dict[str, Any] = {
            "applicable_taxes": [
                {
                    "code": "IVA21",
                    "fee_types": ["COMMISSION", "SUBSCRIPTION", "ADDITIONAL_FEES"],
                    "label": "IVA 21 %",
                }
            ],
            "approval_delay": _json_value(_all_time(overall, "approval_delay"), integer=True),
            "approval_rate": _json_value(_all_time(overall, "approval_rate")),
            "channels": list(self.channels),
            "contact_informations": {
                "city": "Sevilla",
                "civility": "Mr",
                "country": "ESP",
                "email": shop.user_email,
                "firstname": "Javier",
                "lastname": "Moreno Castillo",
                "phone": "954000123",
                "phone_secondary": None,
                "state": "Sevilla",
                "street1": "Calle Astronomía, 1",
                "street2": "Torre 3, planta 5",
                "web_site": "https://www.siliciosur.es",
                "zip_code": "41015",
            },
            "currency_iso_code": "EUR",
            "date_created": format_ms(self.created_ms),
            "default_billing_information": {
                "corporate_information": {
                    "company_registration_name": f"{shop.name} S.L.",
                    "company_registration_number": "B90000000",
                },
                "default_language": "es_ES",
                "fiscal_information": {
                    "tax_identification_country": "ESP",
                    "tax_identification_number": "ESB90000000",
                },
                "id": "5b0f2c1e-7a43-4c8e-9d51-2f6a8c3e1b07",
                "registration_address": {
                    "city": "Sevilla",
                    "country_iso_code": "ESP",
                    "state": "Sevilla",
                    "street_1": "Calle Astronomía, 1",
                    "street_2": "Torre 3, planta 5",
                    "zip_code": "41015",
                },
            },
            "description": "Componentes y periféricos informáticos con envío desde Sevilla.",
            "domains": ["PRODUCT"],
            "evaluations_count": _json_value(_all_time(overall, "evaluations_count"), integer=True),
            "free_shipping": False,
            "grade": _json_value(_all_time(overall, "grade")),
            "is_professional": True,
            "last_updated_date": format_ms(self.updated_ms),
            "model": "MARKETPLACE",
            "offers_count": _json_value(_all_time(overall, "offers_count"), integer=True),
            "order_messages_response_delay": _json_value(
                _all_time(overall, "order_messages_response_delay"), integer=True
            ),
            "orders_count": _json_value(_all_time(overall, "orders_count"), integer=True),
            "payment_details": {
                "paid_balance": float(self.balances.paid),
                "payable_balance": float(self.balances.payable),
                "pending_balance": float(self.balances.pending),
                "reserve_balance": 0,
                "reserve_target": 0,
                "sub_balances": [
                    {
                        "paid": float(self.balances.paid),
                        "pay_out_psp_code": "NOT_SPECIFIED",
                        "payable": float(self.balances.payable),
                        "pending": float(self.balances.pending),
                    }
                ],
            },
            "payment_info": {
                "@type": "IBAN",
                "bank_city": "Sevilla",
                "bank_name": "Banco de Pruebas",
                "bank_street": "Avenida de la Constitución, 20",
                "bank_zip": "41004",
                "bic": "PRUEESMMXXX",
                "iban": "ES0000000000000000000000",
                "owner": f"{shop.name} S.L.",
            },
            "payment_method_mandatory": False,
            "premium": False,
            "pro_details": {
                "corporate_name": f"{shop.name} S.L.",
                "identification_number": "B90000000",
                "tax_identification_number": "ESB90000000",
            },
            "producer_identifiers": [
                {"epr_category_code": "ES-RAEE", "producer_id": "RII-AEE-0000"}
            ],
            "recycling_policy": (
                "Recogemos gratis tu aparato eléctrico o electrónico usado al entregarte "
                "uno equivalente."
            ),
            "return_policy": (
                "Dispones de 30 días naturales desde la entrega para devolver el producto en "
                "su embalaje original. La recogida es gratuita."
            ),
            "shipping": {"lead_time_to_ship": 2},
            "shipping_country": "ESP",
            "shippings": [
                {
                    "additional_fields": [],
                    "shipping_free_amount": 50,
                    "shipping_type_code": "STD",
                    "shipping_type_label": "Envío estándar",
                    "shipping_type_standard_code": "CU_ADD-STD",
                    "shipping_zone_code": "ES-PEN",
                    "shipping_zone_label": "Península",
                }
            ],
            "shop_additional_fields": [],
            "shop_id": int(shop.shop_id) if shop.shop_id.isdigit() else shop.shop_id,
            "shop_name": shop.name,
            "shop_state": self.state,
            "suspension_type": self.suspension_type,
        }
        # Unset closing dates are left out rather than sent as null.
        if self.closed_from_ms is not None:
            payload["closed_from"] = format_ms(self.closed_from_ms)
        if self.closed_to_ms is not None:
            payload["closed_to"] = format_ms(self.closed_to_ms)
        return dict(sorted(payload.items()))

    def update(self, changes: Mapping[str, Any], now_ms: int) -> dict[str, Any]:
        """Apply a control-API change (state, suspension type, closing dates, balances).

        The whole change is checked before anything is applied. Leaving ``SUSPENDED``
        clears the suspension type; entering it without one means Mirakl's quality
        control (``AUTOMATIC_SUSPENSION``). State and closing dates move
        ``last_updated_date``; balances do not (◐: they move with every payment).
        """
        known = {
            "shop_state",
            "suspension_type",
            "closed_from",
            "closed_to",
            "payable_balance",
            "paid_balance",
            "pending_balance",
        }
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ApiError(400, f"Unknown field(s) {', '.join(unknown)}; expected {sorted(known)}")
        state = self.state
        suspension = self.suspension_type
        if "shop_state" in changes:
            raw = changes["shop_state"]
            state = str(raw).strip().upper() if isinstance(raw, str) else ""
            if state not in SHOP_STATES:
                raise ApiError(
                    400, f"Invalid shop_state '{raw}': expected one of {', '.join(SHOP_STATES)}"
                )
            if state != "SUSPENDED":
                suspension = None
            elif self.state != "SUSPENDED":
                suspension = "AUTOMATIC_SUSPENSION"
        if "suspension_type" in changes:
            raw = changes["suspension_type"]
            if raw is None:
                suspension = None
            else:
                suspension = str(raw).strip().upper()
                if suspension not in SUSPENSION_TYPES:
                    raise ApiError(
                        400,
                        f"Invalid suspension_type '{raw}': expected one of "
                        f"{', '.join(SUSPENSION_TYPES)}",
                    )
                if state != "SUSPENDED":
                    raise ApiError(400, "suspension_type is only meaningful for a SUSPENDED shop")
        closed_from = _date_change(changes, "closed_from", self.closed_from_ms)
        closed_to = _date_change(changes, "closed_to", self.closed_to_ms)
        if closed_from is not None and closed_to is not None and closed_to <= closed_from:
            raise ApiError(400, "closed_to must be after closed_from")
        balances = {
            name: _amount_change(changes, name)
            for name in ("payable_balance", "paid_balance", "pending_balance")
        }

        moved = (state, suspension, closed_from, closed_to) != (
            self.state,
            self.suspension_type,
            self.closed_from_ms,
            self.closed_to_ms,
        )
        self.state, self.suspension_type = state, suspension
        self.closed_from_ms, self.closed_to_ms = closed_from, closed_to
        if balances["payable_balance"] is not None:
            self.balances.payable = balances["payable_balance"]
        if balances["paid_balance"] is not None:
            self.balances.paid = balances["paid_balance"]
        if balances["pending_balance"] is not None:
            self.balances.pending = balances["pending_balance"]
        if moved:
            self.updated_ms = max(self.updated_ms, now_ms)
        return self.summary()

    def summary(self) -> dict[str, Any]:
        """What the control API answers: the state and balances, readable."""
        return {
            "shop_id": self.shop.shop_id,
            "shop_state": self.state,
            "suspension_type": self.suspension_type,
            "closed_from": None if self.closed_from_ms is None else format_ms(self.closed_from_ms),
            "closed_to": None if self.closed_to_ms is None else format_ms(self.closed_to_ms),
            "payable_balance": str(self.balances.payable),
            "paid_balance": str(self.balances.paid),
            "pending_balance": str(self.balances.pending),
            "channels": list(self.channels),
            "last_updated_date": format_ms(self.updated_ms),
            "statistics_date": format_ms(self.statistics_ms),
        }

    # ------------------------------------------------------------ A21
    def statistics_payload(
        self, *, periods: list[str] | None, channel: str | None
    ) -> dict[str, Any]:
        """The A21 body for ``periods`` (all when None), overall or for one channel."""
        if periods is not None:
            wrong = [period for period in periods if period not in PERIODS]
            if wrong:
                raise ApiError(400, f"Invalid value '{wrong[0]}' for parameter 'periods'")
        if channel is not None and channel not in self.channels:
            raise ApiError(400, f"Invalid value '{channel}' for parameter 'channel_code'")
        wanted = [period for period in PERIODS if periods is None or period in periods]
        figures = self.overall if channel is None else self._channel_figures(channel)
        payload: dict[str, Any] = {
            "channel": channel,
            "last_updated_date": format_ms(self.statistics_ms),
            "shop_id": int(self.shop.shop_id) if self.shop.shop_id.isdigit() else self.shop.shop_id,
        }
        integer_kpis = SECONDS_KPIS | COUNT_KPIS
        for kpi in KPIS:
            if channel is not None and kpi in OVERALL_ONLY_KPIS:
                continue
            series = figures.get(kpi)
            if series is None:
                payload[kpi] = None
                continue
            payload[kpi] = [
                {
                    "period": period,
                    "value": _json_value(series.get(period), integer=kpi in integer_kpis),
                }
                for period in wanted
            ]
        return dict(sorted(payload.items()))

    def _channel_figures(self, channel: str) -> dict[str, Series]:
        """A channel's KPIs: the overall ones for the main channel, scaled for the others
        (they carry a share of the orders), then what was set for that channel."""
        main = channel == self.main_channel
        figures: dict[str, Series] = {}
        for kpi, series in self.overall.items():
            if series is None or main:
                figures[kpi] = None if series is None else dict(series)
                continue
            figures[kpi] = {
                period: None if value is None else _scaled(kpi, value)
                for period, value in series.items()
            }
        figures.update(self.channel_overrides.get(channel, {}))
        return figures

    def set_statistics(
        self,
        values: Mapping[str, Any],
        *,
        channel: str | None,
        now_ms: int,
    ) -> dict[str, Any]:
        """Change KPIs (``{kpi: {period: value}}``, ``{kpi: value}`` for every period, or
        ``{kpi: null}`` for a null field), overall or for one channel. Mirakl recalculated:
        A21's ``last_updated_date`` becomes now; A01's does not move (documented)."""
        if channel is not None and channel not in self.channels:
            raise ApiError(
                400, f"Unknown channel '{channel}': the shop sells on {', '.join(self.channels)}"
            )
        if not isinstance(values, Mapping) or not values:
            raise ApiError(400, "The field 'values' must be an object of KPI values")
        target = self.overall if channel is None else self.channel_overrides.setdefault(channel, {})
        base = self.overall if channel is None else self._channel_figures(channel)
        parsed: dict[str, Series] = {}
        for kpi, given in values.items():
            if kpi not in SEEDED_STATISTICS:
                raise ApiError(400, f"Unknown KPI '{kpi}'; expected one of {', '.join(KPIS)}")
            if given is None:
                parsed[kpi] = None
                continue
            current = base.get(kpi)
            series: dict[str, Decimal | None] = dict(current) if current else dict.fromkeys(PERIODS)
            if isinstance(given, Mapping):
                for period, value in given.items():
                    if period not in PERIODS:
                        raise ApiError(
                            400, f"Unknown period '{period}'; expected one of {', '.join(PERIODS)}"
                        )
                    series[period] = _kpi_value(kpi, value)
            else:
                value = _kpi_value(kpi, given)
                series = dict.fromkeys(PERIODS, value)
            parsed[kpi] = series
        target.update(parsed)
        self.statistics_ms = max(self.statistics_ms, now_ms)
        return {
            "channel": channel,
            "statistics_date": format_ms(self.statistics_ms),
            "values": {
                kpi: None
                if series is None
                else {period: None if v is None else str(v) for period, v in series.items()}
                for kpi, series in parsed.items()
            },
        }


def _all_time(figures: Mapping[str, Series], kpi: str) -> Decimal | None:
    series = figures.get(kpi)
    return None if series is None else series.get("ALL_SINCE_BEGINNING")


def _json_value(value: Decimal | None, *, integer: bool = False) -> int | float | None:
    if value is None:
        return None
    if integer:
        return int(value)
    return int(value) if value == value.to_integral_value() else float(value)


def _scaled(kpi: str, value: Decimal) -> Decimal:
    """A secondary channel's figure: a small share of the counts, rates a little off."""
    if kpi in COUNT_KPIS and kpi != "offers_count":
        return (value * Decimal("0.12")).to_integral_value()
    if kpi in ("total_revenue",):
        return q2(value * Decimal("0.12"))
    if kpi in RATE_KPIS and kpi not in _HIGHER_IS_BETTER:
        return (value * Decimal("0.9")).quantize(Decimal("0.0001"))
    return value


def _kpi_value(kpi: str, value: Any) -> Decimal | None:
    """A KPI value from the control API, checked against what the KPI can hold."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ApiError(400, f"The value of {kpi} must be a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ApiError(400, f"The value of {kpi} must be a number, got '{value}'") from None
    if not number.is_finite() or number < 0:
        raise ApiError(400, f"The value of {kpi} must be a non-negative number")
    if kpi in RATE_KPIS and number > 1:
        raise ApiError(400, f"{kpi} is a fraction between 0 and 1 (0.085 for 8.5 %)")
    if kpi == "grade" and number > 5:
        raise ApiError(400, "grade is between 0 and 5")
    if (kpi in SECONDS_KPIS or kpi in COUNT_KPIS) and number != number.to_integral_value():
        raise ApiError(400, f"{kpi} is a whole number")
    return number


def _date_change(changes: Mapping[str, Any], name: str, current: int | None) -> int | None:
    if name not in changes:
        return current
    raw = changes[name]
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise ApiError(400, f"{name} must be an ISO-8601 date-time")
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name} must be an ISO-8601 date-time, got '{raw}'") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _amount_change(changes: Mapping[str, Any], name: str) -> Decimal | None:
    if name not in changes:
        return None
    raw = changes[name]
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ApiError(400, f"{name} must be an amount")
    try:
        amount = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ApiError(400, f"{name} must be an amount, got '{raw}'") from None
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise ApiError(400, f"{name} must be an amount with at most 2 decimals")
    return q2(amount)
