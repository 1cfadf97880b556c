"""OR28 (refund order lines): validation of the whole request, then all-or-nothing apply.

Rules (MIRAKL_API.md section 5, DOMAIN.md "Refunds"):
- every element names a known line in a refundable state and a REFUND reason;
- cumulative refunds never exceed the line's price, nor its shipping price;
- the total must fit in the shop's payable balance ("The shop does not have a sufficient
  payable balance for the refund");
- a refund that leaves every line of the order fully refunded (products and shipping)
  closes the order's open incidents; a partial one does not.
Amounts are read as ``Decimal``. With ``order_tax_mode`` TAX_EXCLUDED the refunded gross is
``amount + taxes`` (the sandbox's orders are TAX_INCLUDED, amounts stored gross).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from mirakl.sandbox.models import REFUNDABLE_STATES, ZERO, Line, Order
from mirakl.sandbox.reasons import REFUND, reasons_of_type
from mirakl.sandbox.render import IVA_CODE, money, q2, vat_included
from mirakl.sandbox.state import SandboxState
from mirakl.sandbox.wire import ApiError

__all__ = ["DATATYPE_ERROR", "INSUFFICIENT_BALANCE", "apply_refund_request", "parse_refund_body"]

DATATYPE_ERROR = "Error with field refunds. Please check the field datatype."
INSUFFICIENT_BALANCE = "The shop does not have a sufficient payable balance for the refund"
_TAX_MODES = ("TAX_INCLUDED", "TAX_EXCLUDED")
_CENT = Decimal("0.01")


@dataclass(slots=True)
class _Item:
    raw: dict[str, Any]
    order: Order
    line: Line
    amount: Decimal
    shipping_amount: Decimal
    gross_amount: Decimal
    gross_shipping: Decimal
    quantity: int | None
    reason_code: str
    taxes: list[tuple[str, Decimal]] | None
    shipping_taxes: list[tuple[str, Decimal]] | None


def parse_refund_body(body: bytes) -> Any:
    try:
        return json.loads(body, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ApiError(400, DATATYPE_ERROR) from None


def _decimal(value: Any, *, required: bool) -> Decimal | None:
    if value is None:
        if required:
            raise ApiError(400, DATATYPE_ERROR)
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ApiError(400, DATATYPE_ERROR)
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ApiError(400, DATATYPE_ERROR) from None
    if not number.is_finite():
        raise ApiError(400, DATATYPE_ERROR)
    return number


def _taxes(value: Any, line: Line, field: str) -> list[tuple[str, Decimal]] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ApiError(400, DATATYPE_ERROR)
    parsed = []
    for entry in value:
        if not isinstance(entry, dict) or not isinstance(entry.get("code"), str):
            raise ApiError(400, DATATYPE_ERROR)
        amount = _decimal(entry.get("amount"), required=True)
        assert amount is not None  # noqa: S101 - required=True
        if amount < 0:
            raise ApiError(400, f"Negative {field} amount on order line '{line.line_id}'")
        if entry["code"] != IVA_CODE:
            raise ApiError(
                400,
                f"Tax code '{entry['code']}' is not applicable to order line '{line.line_id}'",
            )
        parsed.append((entry["code"], q2(amount)))
    return parsed


def _parse_item(state: SandboxState, raw: Any, tax_mode: str) -> _Item:
    if not isinstance(raw, dict):
        raise ApiError(400, DATATYPE_ERROR)
    line_id = raw.get("order_line_id")
    if isinstance(line_id, int) and not isinstance(line_id, bool):
        line_id = str(line_id)
    if not isinstance(line_id, str) or not line_id:
        raise ApiError(400, DATATYPE_ERROR)
    amount = _decimal(raw.get("amount"), required=True)
    shipping_amount = _decimal(raw.get("shipping_amount"), required=False) or ZERO
    assert amount is not None  # noqa: S101 - required=True
    quantity = raw.get("quantity")
    if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int)):
        raise ApiError(400, DATATYPE_ERROR)
    reason_code = raw.get("reason_code")
    if not isinstance(reason_code, str):
        raise ApiError(400, DATATYPE_ERROR)
    currency = raw.get("currency_iso_code")
    if currency is not None and currency != "EUR":
        raise ApiError(400, f"Currency '{currency}' does not match the order currency EUR")
    if raw.get("excluded_from_shipment") is not None and not isinstance(
        raw.get("excluded_from_shipment"), bool
    ):
        raise ApiError(400, DATATYPE_ERROR)

    found = state.lines.get(line_id)
    if found is None:
        raise ApiError(400, f"Order line '{line_id}' does not exist")
    order, line = found
    if reason_code not in reasons_of_type(REFUND):
        raise ApiError(400, f"Reason code '{reason_code}' is not a valid refund reason")
    if line.state not in REFUNDABLE_STATES:
        raise ApiError(400, f"Order line '{line_id}' cannot be refunded in state {line.state}")
    for label, value in (("amount", amount), ("shipping_amount", shipping_amount)):
        if value < 0:
            raise ApiError(400, f"The refund {label} of order line '{line_id}' is negative")
        if value != value.quantize(_CENT):
            raise ApiError(
                400, f"The refund {label} of order line '{line_id}' has more than 2 decimals"
            )
    if amount == 0 and shipping_amount == 0:
        raise ApiError(400, f"The refund of order line '{line_id}' has no amount")
    taxes = _taxes(raw.get("taxes"), line, "tax")
    shipping_taxes = _taxes(raw.get("shipping_taxes"), line, "shipping tax")
    gross_amount, gross_shipping = amount, shipping_amount
    if tax_mode == "TAX_EXCLUDED":
        gross_amount += sum((a for _, a in taxes or ()), ZERO)
        gross_shipping += sum((a for _, a in shipping_taxes or ()), ZERO)
    return _Item(
        raw=raw,
        order=order,
        line=line,
        amount=amount,
        shipping_amount=shipping_amount,
        gross_amount=q2(gross_amount),
        gross_shipping=q2(gross_shipping),
        quantity=quantity,
        reason_code=reason_code,
        taxes=taxes,
        shipping_taxes=shipping_taxes,
    )


def apply_refund_request(state: SandboxState, payload: Any) -> dict[str, Any]:
    """Validate every element, then create the refunds; returns the OR28 response body."""
    if not isinstance(payload, dict):
        raise ApiError(400, DATATYPE_ERROR)
    refunds = payload.get("refunds")
    if not isinstance(refunds, list) or not refunds:
        raise ApiError(400, DATATYPE_ERROR)
    tax_mode = payload.get("order_tax_mode") or "TAX_INCLUDED"
    if tax_mode not in _TAX_MODES:
        raise ApiError(400, f"Invalid order_tax_mode '{tax_mode}'")

    with state.lock:
        state.process_due()
        items = [_parse_item(state, raw, tax_mode) for raw in refunds]
        requested: dict[str, tuple[Decimal, Decimal]] = {}
        total = ZERO
        for item in items:
            line = item.line
            prior_amount, prior_shipping = requested.get(
                line.line_id, (line.refunded_amount(), line.refunded_shipping())
            )
            new_amount = prior_amount + item.gross_amount
            new_shipping = prior_shipping + item.gross_shipping
            if new_amount > line.price:
                raise ApiError(
                    400,
                    f"The refund amount for order line '{line.line_id}' exceeds the refundable "
                    f"amount: price {line.price}, already refunded {prior_amount}, "
                    f"requested {item.gross_amount}",
                )
            if new_shipping > line.shipping_price:
                raise ApiError(
                    400,
                    f"The refund shipping amount for order line '{line.line_id}' exceeds the "
                    f"refundable shipping amount: shipping price {line.shipping_price}, already "
                    f"refunded {prior_shipping}, requested {item.gross_shipping}",
                )
            requested[line.line_id] = (new_amount, new_shipping)
            total += item.gross_amount + item.gross_shipping
        if total > state.payable_balance:
            raise ApiError(400, INSUFFICIENT_BALANCE)

        now = state.now_ms()
        response_items = []
        touched: dict[str, Order] = {}
        for item in items:
            refund = state.generator.build_refund(
                item.line,
                amount=item.gross_amount,
                shipping_amount=item.gross_shipping,
                reason_code=item.reason_code,
                when=now,
                quantity=item.quantity,
                taxes=item.taxes
                if item.taxes is not None
                else [(IVA_CODE, vat_included(item.gross_amount))],
                shipping_taxes=item.shipping_taxes
                if item.shipping_taxes is not None
                else [(IVA_CODE, vat_included(item.gross_shipping))],
            )
            item.line.refunds.append(refund)
            item.line.updated_ms = max(item.line.updated_ms, now)
            state.touch_order(item.order, now)
            touched[item.order.order_id] = item.order
            response_items.append(
                _response_item(item, refund.refund_id, refund.taxes, refund.shipping_taxes)
            )
        state.payable_balance -= total
        for order in touched.values():
            if order.fully_refunded:
                state.close_incidents_of(order, "FULL_REFUND")
        return {"order_tax_mode": tax_mode, "refunds": response_items}


def _response_item(
    item: _Item,
    refund_id: str,
    taxes: list[tuple[str, Decimal]],
    shipping_taxes: list[tuple[str, Decimal]],
) -> dict[str, Any]:
    raw = item.raw
    return {
        "amount": money(item.amount),
        "currency_iso_code": raw.get("currency_iso_code") or "EUR",
        "excluded_from_shipment": bool(raw.get("excluded_from_shipment", False)),
        "fees": _plain(raw.get("fees")) if isinstance(raw.get("fees"), list) else [],
        "order_line_id": item.line.line_id,
        "quantity": item.quantity,
        "reason_code": item.reason_code,
        "refund_id": refund_id,
        "shipping_amount": money(item.shipping_amount),
        "shipping_taxes": [{"amount": money(a), "code": c} for c, a in shipping_taxes],
        "taxes": [{"amount": money(a), "code": c} for c, a in taxes],
    }


def _plain(value: Any) -> Any:
    """Echo request data back as JSON-ready values (Decimal becomes a number)."""
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
