"""What the refund forms propose and warn from the sellers' guides.

- A partial refund's amount and taxes are proposed from the quantity the agent enters,
  the line's unit price and its tax rate (the share of the line's price its tax is, as
  OR11 gives both: the same whichever tax mode the marketplace uses). The agent may
  change them before reviewing.
- On a withdrawal, "los gastos de envío iniciales hay que devolverlos siempre"
  (PcComponentes, ``seeds/004``): a refund that leaves a refunded line's shipping out
  warns before it is confirmed.

Pure functions of the lines and what is left on them (:class:`refunds.rules.LineRemainder`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from core.models import OrderLine
from incidents.quality import ReasonKind, reason_kind
from refunds.constants import ZERO
from refunds.rules import LineRemainder, RefundLineInput, quantize_cents, to_decimal

__all__ = [
    "WITHDRAWAL_SHIPPING_WARNING",
    "line_tax_rates",
    "line_unit_price",
    "refund_line_proposal",
    "withdrawal_shipping_left_out",
]

#: The guide's words (PcComponentes, "Incidencias de desistimiento").
WITHDRAWAL_SHIPPING_WARNING: Promise = _(
    "On a withdrawal the initial shipping costs must always be refunded: this refund "
    "leaves them out."
)


def line_unit_price(line: OrderLine) -> Decimal:
    """The price of one unit: OR11's ``price_unit``, else the line's price over its
    quantity."""
    if line.price_unit is not None:
        return line.price_unit
    if line.quantity:
        return quantize_cents(line.price / line.quantity)
    return line.price


def line_tax_rates(line: OrderLine) -> dict[str, Decimal]:
    """Each tax of the line as a share of its price (0.21 for a 21 % VAT included in the
    price, 0.20 for 20 % on top of it): what one euro of product carries of that tax."""
    rates: dict[str, Decimal] = {}
    if not line.price:
        return rates
    for entry in line.taxes or []:
        code = str(entry.get("code", ""))
        if code:
            rates[code] = rates.get(code, ZERO) + to_decimal(entry.get("amount")) / line.price
    return rates


def refund_line_proposal(remainder: LineRemainder, quantity: int) -> RefundLineInput:
    """The amount and taxes to refund ``quantity`` units of a line: unit price × quantity
    and, per tax, the amount × the tax's rate, never above what is left. Everything that
    is left when the quantity is all that is left (no cent forgotten by rounding).
    Shipping is not proposed: the agent says whether it goes back."""
    line = remainder.line
    quantity = max(0, min(quantity, remainder.quantity))
    if quantity == 0:
        return RefundLineInput(line_id=line.pk, quantity=0, amount=ZERO)
    if quantity == remainder.quantity:
        return RefundLineInput(
            line_id=line.pk,
            quantity=quantity,
            amount=remainder.amount,
            taxes={code: left for code, left in remainder.taxes.items() if left > 0},
        )
    amount = min(quantize_cents(line_unit_price(line) * quantity), remainder.amount)
    rates = line_tax_rates(line)
    taxes: dict[str, Decimal] = {}
    for code, left in remainder.taxes.items():
        tax = min(quantize_cents(amount * rates.get(code, ZERO)), left)
        if tax > 0:
            taxes[code] = tax
    return RefundLineInput(line_id=line.pk, quantity=quantity, amount=amount, taxes=taxes)


def withdrawal_shipping_left_out(
    *,
    reason_label: str,
    lines: Iterable[RefundLineInput],
    remainders: Mapping[int, LineRemainder],
) -> bool:
    """Whether a refund on a withdrawal incident leaves out initial shipping that is
    still to refund on a line it refunds."""
    if reason_kind(reason_label) is not ReasonKind.WITHDRAWAL:
        return False
    for item in lines:
        remainder = remainders.get(item.line_id)
        if remainder is None or (not item.quantity and not item.amount):
            continue
        if item.shipping_amount < remainder.shipping_amount:
            return True
    return False
