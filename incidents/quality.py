"""The quality rules of the seller guides that hang on the delivery date.

PcComponentes' quality criteria (``seeds/004``, ``seeds/001``; DOMAIN.md):

- warranty: "Si todavía no han pasado 30 días desde la entrega del pedido, gestionadle la
  garantía vosotros internamente"; after 30 days, offer the customer two options (the
  shop intermediates with the manufacturer, or the customer deals with it directly);
- transport: "El cliente tiene cinco días como mínimo para reclamar incidencias de
  transporte";
- withdrawal: "Los gastos de envío iniciales hay que devolverlos siempre" (the refund
  side is :mod:`refunds.rules`).

Pure functions of an incident's reason, the order's line dates and ``now``: days are
counted on the Europe/Madrid calendar (delivered at 23:30 on the 1st, it is one day on
the 2nd). Which rule applies is read from the reason's label, as the codes are each
marketplace's own.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from core.models import OrderLine

__all__ = [
    "MADRID",
    "TRANSPORT_CLAIM_DAYS",
    "WARRANTY_CANNED_AFTER",
    "WARRANTY_CANNED_WITHIN",
    "WARRANTY_SHOP_DAYS",
    "QualityAdvice",
    "ReasonKind",
    "TransportWindow",
    "WarrantyRule",
    "days_since",
    "delivered_at",
    "madrid_date",
    "quality_advice",
    "reason_kind",
    "shipped_at",
    "transport_window",
    "warranty_rule",
]

MADRID = ZoneInfo("Europe/Madrid")
#: Within this many days of delivery the shop handles a warranty itself.
WARRANTY_SHOP_DAYS = 30
#: The customer has at least this many days from delivery to claim a transport incident.
TRANSPORT_CLAIM_DAYS = 5
#: The titles of the canned replies that match each side of the 30-day rule (seeded by
#: ``messaging/migrations``; an admin may rename them, the advice then names none).
WARRANTY_CANNED_WITHIN = "Garantía (30 días o menos)"
WARRANTY_CANNED_AFTER = "Garantía (más de 30 días)"


class ReasonKind(StrEnum):
    """The families of incident reasons the guides give a rule for."""

    WARRANTY = "warranty"
    TRANSPORT = "transport"
    WITHDRAWAL = "withdrawal"


# Folded (lower case, no accents) words of the reasons' labels, Spanish and English.
_KIND_WORDS: tuple[tuple[ReasonKind, tuple[str, ...]], ...] = (
    (ReasonKind.WARRANTY, ("garantia", "warranty", "guarantee")),
    (ReasonKind.WITHDRAWAL, ("desistimiento", "devolucion", "withdrawal", "return")),
    (
        ReasonKind.TRANSPORT,
        (
            "transporte",
            "transportista",
            "no recibido",
            "no entregado",
            "extraviado",
            "transport",
            "not received",
            "not delivered",
            "in transit",
        ),
    ),
)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def reason_kind(label: str) -> ReasonKind | None:
    """Which rule an incident reason falls under, from its label (None: no rule)."""
    folded = _fold(label or "")
    for kind, words in _KIND_WORDS:
        if any(word in folded for word in words):
            return kind
    return None


def madrid_date(moment: datetime) -> date:
    """The Europe/Madrid calendar day of an aware datetime."""
    return moment.astimezone(MADRID).date()


def days_since(moment: datetime, now: datetime) -> int:
    """Whole Madrid calendar days from ``moment`` to ``now`` (0 on the same day)."""
    return (madrid_date(now) - madrid_date(moment)).days


def delivered_at(lines: Iterable[OrderLine], *, line_id: int | None = None) -> datetime | None:
    """When the order was delivered: the incident's line's ``received_date`` when known,
    else the latest of the order's lines (the last parcel to arrive)."""
    lines = list(lines)
    if line_id is not None:
        for line in lines:
            if line.pk == line_id and line.received_date is not None:
                return line.received_date
    dates = [line.received_date for line in lines if line.received_date is not None]
    return max(dates) if dates else None


def shipped_at(lines: Iterable[OrderLine]) -> datetime | None:
    """When the order left: the first ``shipped_date`` of its lines."""
    dates = [line.shipped_date for line in lines if line.shipped_date is not None]
    return min(dates) if dates else None


@dataclass(frozen=True, slots=True)
class WarrantyRule:
    """The 30-day rule of a warranty incident.

    ``shop_handles``: within 30 days of delivery (the 30th day included), the shop
    handles the warranty itself; after it, it offers the customer the two options.
    ``canned_title`` names the canned reply that says so.
    """

    days: int
    shop_handles: bool
    last_day: date

    @property
    def canned_title(self) -> str:
        return WARRANTY_CANNED_WITHIN if self.shop_handles else WARRANTY_CANNED_AFTER


def warranty_rule(delivered: datetime, now: datetime) -> WarrantyRule:
    """Where a warranty claim stands against the 30 days from ``delivered``."""
    days = days_since(delivered, now)
    return WarrantyRule(
        days=days,
        shop_handles=days <= WARRANTY_SHOP_DAYS,
        last_day=madrid_date(delivered) + timedelta(days=WARRANTY_SHOP_DAYS),
    )


@dataclass(frozen=True, slots=True)
class TransportWindow:
    """The customer's minimum window to claim a transport incident: the 5 days after the
    delivery day (delivered on Monday 1st: until Saturday 6th, included).

    ``claimed_within``: the incident was opened within the window (None: no incident
    date to compare).
    """

    delivered_on: date
    last_day: date
    claimed_within: bool | None
    open_now: bool


def transport_window(
    delivered: datetime, now: datetime, *, opened_at: datetime | None = None
) -> TransportWindow:
    """The 5-day minimum claim window from the delivery date."""
    delivered_on = madrid_date(delivered)
    last_day = delivered_on + timedelta(days=TRANSPORT_CLAIM_DAYS)
    return TransportWindow(
        delivered_on=delivered_on,
        last_day=last_day,
        claimed_within=None if opened_at is None else madrid_date(opened_at) <= last_day,
        open_now=madrid_date(now) <= last_day,
    )


@dataclass(frozen=True, slots=True)
class QualityAdvice:
    """What the page shows from the guides for one incident and its order."""

    kind: ReasonKind | None
    delivered: datetime | None
    days_since_delivery: int | None
    warranty: WarrantyRule | None
    transport: TransportWindow | None

    @property
    def withdrawal(self) -> bool:
        return self.kind is ReasonKind.WITHDRAWAL


def quality_advice(
    *,
    reason_label: str,
    lines: Iterable[OrderLine],
    line_id: int | None,
    opened_at: datetime | None,
    now: datetime,
) -> QualityAdvice:
    """The guides' rules that apply to an incident, from its reason and the delivery."""
    kind = reason_kind(reason_label)
    delivered = delivered_at(lines, line_id=line_id)
    days = days_since(delivered, now) if delivered is not None else None
    warranty = None
    transport = None
    if delivered is not None and kind is ReasonKind.WARRANTY:
        warranty = warranty_rule(delivered, now)
    if delivered is not None and kind is ReasonKind.TRANSPORT:
        transport = transport_window(delivered, now, opened_at=opened_at)
    return QualityAdvice(
        kind=kind,
        delivered=delivered,
        days_since_delivery=days,
        warranty=warranty,
        transport=transport,
    )
