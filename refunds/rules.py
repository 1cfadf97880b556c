"""The rules of refunds: what is left to refund, the checks of each line, approval limits.

Reads and pure checks only; the writes that rely on them are in :mod:`refunds.services`.
Amounts are ``Decimal`` with two places, tax included like the line prices of OR11.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.models import MarketplaceConnection, Order, OrderLine
from refunds.constants import CENT, REFUNDABLE_LINE_STATES, UNREFUNDABLE_ORDER_STATES, ZERO
from refunds.models import Refund, RefundRequest, RefundRequestLine

__all__ = [
    "REFUND_PERMISSION",
    "REFUND_REASON_TYPE",
    "LineRemainder",
    "RefundApprovalError",
    "RefundIdempotencyError",
    "RefundLineInput",
    "RefundValidationError",
    "can_refund",
    "canonical_lines",
    "money_text",
    "quantize_cents",
    "to_decimal",
    "refund_full_lines",
    "refund_reason_choices",
    "refund_remainders",
    "refund_remainders_compute",
    "refund_amounts_data",
    "refund_request_data",
    "refund_tax_sums",
    "validate_lines",
]

State = RefundRequest.State
Kind = RefundRequest.Kind


REFUND_PERMISSION = "incidents.refund_incident"


REFUND_REASON_TYPE = "REFUND"


ErrorKey = tuple[int | None, str]


@dataclass(frozen=True)
class LineRemainder:
    """What may still be refunded on one order line."""

    line: OrderLine
    quantity: int
    amount: Decimal
    shipping_amount: Decimal
    taxes: dict[str, Decimal]
    shipping_taxes: dict[str, Decimal]
    refunded_amount: Decimal
    refunded_shipping_amount: Decimal
    pending: bool

    @property
    def total(self) -> Decimal:
        """Amount plus shipping left (taxes are included in both)."""
        return self.amount + self.shipping_amount

    @property
    def is_empty(self) -> bool:
        return self.amount <= 0 and self.shipping_amount <= 0


@dataclass(frozen=True)
class RefundLineInput:
    """What to refund on one order line (``line_id`` is the ``OrderLine`` pk)."""

    line_id: int
    quantity: int
    amount: Decimal
    shipping_amount: Decimal = Decimal("0.00")
    taxes: dict[str, Decimal] = field(default_factory=dict)
    shipping_taxes: dict[str, Decimal] = field(default_factory=dict)

    @property
    def is_zero(self) -> bool:
        return (
            not self.quantity
            and not self.amount
            and not self.shipping_amount
            and not any(self.taxes.values())
            and not any(self.shipping_taxes.values())
        )


class RefundValidationError(Exception):
    """The request cannot be made; ``errors`` maps (line pk or None, field) to messages.

    Fields: ``quantity``, ``amount``, ``shipping_amount``, ``tax:<code>``,
    ``shipping_tax:<code>``, ``reason_code``, ``lines``, ``kind``, ``__all__``.
    """

    def __init__(self, errors: Mapping[ErrorKey, list[str]]) -> None:
        self.errors: dict[ErrorKey, list[str]] = {k: list(v) for k, v in errors.items()}
        super().__init__("; ".join(m for messages in self.errors.values() for m in messages))


class RefundIdempotencyError(RefundValidationError):
    """The idempotency key was already used for a different refund."""


class RefundApprovalError(Exception):
    """The approval or rejection is not allowed; ``message`` says why (translated).

    ``code``: ``state`` (not awaiting approval), ``permission``, ``self_approval`` or
    ``limit`` (above the approver's own limit).
    """

    def __init__(self, message: str, *, code: str = "state") -> None:
        self.message = message
        self.code = code
        super().__init__(message)


def money_text(value: Decimal) -> str:
    """Two decimals in the active language's format (``12.50`` / ``12,50``)."""
    return number_format(value, decimal_pos=2)


def quantize_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT)


def to_decimal(value: Any) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ZERO
    return number if number.is_finite() else ZERO


def refund_tax_sums(entries: Any) -> dict[str, Decimal]:
    """Sum tax amounts by code, from a list of ``{code, amount}`` or a ``{code: amount}``."""
    sums: dict[str, Decimal] = defaultdict(lambda: ZERO)
    if isinstance(entries, Mapping):
        for code, amount in entries.items():
            sums[str(code)] += to_decimal(amount)
    elif isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, Mapping) and entry.get("code") is not None:
                sums[str(entry["code"])] += to_decimal(entry.get("amount"))
    return dict(sums)


def can_refund(user: Any, perm: str = REFUND_PERMISSION) -> bool:
    return bool(user is not None and getattr(user, "is_active", False) and user.has_perm(perm))


def refund_reason_choices(*, connection: MarketplaceConnection) -> list[tuple[str, str]]:
    """The marketplace's refund reasons (RE01 type REFUND usable by the shop): (code, label)."""
    return [
        (code, label or code)
        for code, label in connection.reasons.filter(type=REFUND_REASON_TYPE)
        .exclude(is_shop_right=False)
        .order_by("code")
        .values_list("code", "label")
    ]


def refund_remainders(*, order: Order) -> dict[int, LineRemainder]:
    """What is left to refund on each line of ``order``, keyed by ``OrderLine`` pk.

    Subtracts every synced refund, and every request made here that is not refused or
    rejected and whose Mirakl refund is not among the synced ones yet (so a request is
    never counted twice once the sync brings its refund).
    """
    lines = list(OrderLine.objects.filter(order=order).order_by("index", "mirakl_id", "pk"))
    synced = list(
        Refund.objects.filter(line__order=order).values_list(
            "line_id", "mirakl_id", "amount", "shipping_amount", "quantity", "taxes",
            "shipping_taxes",
        )
    )  # fmt: skip
    requested = list(
        RefundRequestLine.objects.filter(line__order=order)
        .exclude(request__state__in=(*RefundRequest.VOID_STATES, State.CONFIRMED))
        .values_list(
            "line_id", "mirakl_refund_id", "amount", "shipping_amount", "quantity", "taxes",
            "shipping_taxes", "request__state",
        )
    )  # fmt: skip
    return refund_remainders_compute(lines=lines, synced=synced, requested=requested)


def refund_remainders_compute(
    *, lines: Iterable[OrderLine], synced: Iterable[tuple], requested: Iterable[tuple]
) -> dict[int, LineRemainder]:
    """:func:`refund_remainders` from rows already read: the order's ``lines`` (in order),
    ``synced`` refunds as (line_id, mirakl_id, amount, shipping_amount, quantity, taxes,
    shipping_taxes) and the ``requested`` lines of requests neither void nor confirmed,
    the same plus the request's state (the Mirakl refund id in second place)."""
    synced_ids: dict[int, set[str]] = defaultdict(set)
    used: dict[int, list[tuple[Decimal, Decimal, int, Any, Any]]] = defaultdict(list)
    for line_id, mirakl_id, amount, shipping, quantity, taxes, shipping_taxes in synced:
        synced_ids[line_id].add(mirakl_id)
        used[line_id].append((amount, shipping, quantity or 0, taxes, shipping_taxes))
    pending: set[int] = set()
    for line_id, mirakl_id, amount, shipping, quantity, taxes, shipping_taxes, state in requested:
        if mirakl_id and mirakl_id in synced_ids[line_id]:
            continue
        used[line_id].append((amount, shipping, quantity or 0, taxes, shipping_taxes))
        if state in RefundRequest.PENDING_STATES:
            pending.add(line_id)

    remainders: dict[int, LineRemainder] = {}
    for line in lines:
        refunded = sum((u[0] for u in used[line.pk]), ZERO)
        refunded_shipping = sum((u[1] for u in used[line.pk]), ZERO)
        refunded_quantity = sum(u[2] for u in used[line.pk])
        taxes_used: dict[str, Decimal] = defaultdict(lambda: ZERO)
        shipping_taxes_used: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for *_ignored, taxes, shipping_taxes in used[line.pk]:
            for code, amount in refund_tax_sums(taxes).items():
                taxes_used[code] += amount
            for code, amount in refund_tax_sums(shipping_taxes).items():
                shipping_taxes_used[code] += amount
        remainders[line.pk] = LineRemainder(
            line=line,
            quantity=max(line.quantity - refunded_quantity, 0),
            amount=quantize_cents(max(line.price - refunded, ZERO)),
            shipping_amount=quantize_cents(max(line.shipping_price - refunded_shipping, ZERO)),
            taxes={
                code: quantize_cents(max(amount - taxes_used[code], ZERO))
                for code, amount in refund_tax_sums(line.taxes).items()
            },
            shipping_taxes={
                code: quantize_cents(max(amount - shipping_taxes_used[code], ZERO))
                for code, amount in refund_tax_sums(line.shipping_taxes).items()
            },
            refunded_amount=quantize_cents(refunded),
            refunded_shipping_amount=quantize_cents(refunded_shipping),
            pending=line.pk in pending,
        )
    return remainders


def _refundable(line: OrderLine) -> bool:
    return line.state in REFUNDABLE_LINE_STATES and line.can_refund is not False


def _full_lines(remainders: Mapping[int, LineRemainder]) -> list[RefundLineInput]:
    return [
        RefundLineInput(
            line_id=pk,
            quantity=rest.quantity,
            amount=rest.amount,
            shipping_amount=rest.shipping_amount,
            taxes={code: amount for code, amount in rest.taxes.items() if amount > 0},
            shipping_taxes={c: a for c, a in rest.shipping_taxes.items() if a > 0},
        )
        for pk, rest in remainders.items()
        if not rest.is_empty and _refundable(rest.line)
    ]


def refund_full_lines(*, order: Order) -> list[RefundLineInput]:
    """A full refund of ``order``: every refundable line's whole remainder, taxes included.

    Lines with nothing left, and lines Mirakl would not refund (state, ``can_refund``),
    are left out.
    """
    return _full_lines(refund_remainders(order=order))


class _Errors:
    def __init__(self) -> None:
        self.errors: dict[ErrorKey, list[str]] = {}

    def add(self, line_id: int | None, name: str, message: str) -> None:
        self.errors.setdefault((line_id, name), []).append(message)

    def __bool__(self) -> bool:
        return bool(self.errors)


def _check_money(
    errors: _Errors,
    line_id: int,
    name: str,
    value: Any,
    left: Decimal,
    too_much: str,
    code: str = "",
) -> Decimal | None:
    """Validate one amount; ``too_much`` is the message with ``%(left)s`` (and ``%(code)s``)."""
    if not isinstance(value, Decimal):
        try:
            value = Decimal(str(value))
        except (InvalidOperation, ValueError):
            errors.add(line_id, name, _("Enter a valid amount."))
            return None
    if not value.is_finite():
        errors.add(line_id, name, _("Enter a valid amount."))
        return None
    if value < 0:
        errors.add(line_id, name, _("Enter an amount of zero or more."))
        return None
    if value > left:
        errors.add(line_id, name, too_much % {"left": money_text(left), "code": code})
        return None
    try:
        rounded = quantize_cents(value)
    except InvalidOperation:
        rounded = None
    if rounded is None or value != rounded:
        errors.add(line_id, name, _("Enter an amount with at most two decimals."))
        return None
    return rounded


def _check_line(
    errors: _Errors, item: RefundLineInput, rest: LineRemainder
) -> RefundLineInput | None:
    line = rest.line
    pk = item.line_id
    if line.state not in REFUNDABLE_LINE_STATES:
        errors.add(
            pk,
            "__all__",
            _("A line in state %(state)s cannot be refunded.") % {"state": line.state},
        )
        return None
    if line.can_refund is False:
        errors.add(pk, "__all__", _("Mirakl does not allow a refund of this line."))
        return None
    ok = True
    quantity = item.quantity
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        errors.add(pk, "quantity", _("Enter a whole number of units."))
        ok = False
    elif quantity < 0:
        errors.add(pk, "quantity", _("Enter a quantity of zero or more."))
        ok = False
    elif quantity > rest.quantity:
        errors.add(
            pk,
            "quantity",
            ngettext(
                "Only %(left)s unit left to refund on this line.",
                "Only %(left)s units left to refund on this line.",
                rest.quantity,
            )
            % {"left": rest.quantity},
        )
        ok = False
    amount = _check_money(
        errors, pk, "amount", item.amount, rest.amount,
        _("Only %(left)s EUR left to refund on this line."),
    )  # fmt: skip
    shipping = _check_money(
        errors, pk, "shipping_amount", item.shipping_amount, rest.shipping_amount,
        _("Only %(left)s EUR of shipping left to refund on this line."),
    )  # fmt: skip
    taxes: dict[str, Decimal] = {}
    for code, value in (item.taxes or {}).items():
        if code not in rest.taxes:
            errors.add(
                pk, f"tax:{code}", _("Tax %(code)s does not apply to this line.") % {"code": code}
            )
            ok = False
            continue
        checked = _check_money(
            errors, pk, f"tax:{code}", value, rest.taxes[code],
            _("Only %(left)s EUR of tax %(code)s left to refund on this line."), code,
        )  # fmt: skip
        if checked is None:
            ok = False
        elif checked:
            taxes[code] = checked
    shipping_taxes: dict[str, Decimal] = {}
    for code, value in (item.shipping_taxes or {}).items():
        if code not in rest.shipping_taxes:
            errors.add(
                pk,
                f"shipping_tax:{code}",
                _("Shipping tax %(code)s does not apply to this line.") % {"code": code},
            )
            ok = False
            continue
        checked = _check_money(
            errors, pk, f"shipping_tax:{code}", value, rest.shipping_taxes[code],
            _("Only %(left)s EUR of shipping tax %(code)s left to refund on this line."), code,
        )  # fmt: skip
        if checked is None:
            ok = False
        elif checked:
            shipping_taxes[code] = checked
    if amount is None or shipping is None or not ok:
        return None
    if amount == 0 and shipping == 0:
        errors.add(pk, "amount", _("Enter an amount or a shipping amount to refund on this line."))
        return None
    return RefundLineInput(
        line_id=pk,
        quantity=quantity,
        amount=amount,
        shipping_amount=shipping,
        taxes=taxes,
        shipping_taxes=shipping_taxes,
    )


def validate_lines(
    *,
    order: Order,
    lines: Sequence[RefundLineInput],
    kind: str,
    reason_code: str,
    remainders: Mapping[int, LineRemainder],
) -> tuple[list[RefundLineInput], str]:
    """The clean lines and the reason's label, or RefundValidationError with every error."""
    errors = _Errors()
    reasons = dict(refund_reason_choices(connection=order.connection))
    if reason_code not in reasons:
        errors.add(None, "reason_code", _("Choose a refund reason from the marketplace's list."))
    if kind not in Kind.values:
        errors.add(None, "kind", _("Choose a full or a partial refund."))
    if order.state in UNREFUNDABLE_ORDER_STATES:
        errors.add(
            None,
            "__all__",
            _("An order in state %(state)s cannot be refunded.") % {"state": order.state},
        )
    if errors:
        raise RefundValidationError(errors.errors)

    if kind == Kind.FULL:
        full = _full_lines(remainders)
        if not full:
            errors.add(None, "lines", _("Nothing is left to refund on this order."))
        elif lines and canonical_lines(lines) != canonical_lines(full):
            errors.add(
                None,
                "__all__",
                _(
                    "A full refund must refund everything left on the order, which has "
                    "changed: reload the page and try again."
                ),
            )
        if errors:
            raise RefundValidationError(errors.errors)
        return full, reasons[reason_code]

    clean: list[RefundLineInput] = []
    seen: set[int] = set()
    for item in lines:
        if item.line_id in seen:
            errors.add(item.line_id, "lines", _("This line appears more than once in the refund."))
            continue
        seen.add(item.line_id)
        rest = remainders.get(item.line_id)
        if rest is None:
            errors.add(
                item.line_id,
                "lines",
                _("This line is not part of order %(order)s.") % {"order": order.mirakl_id},
            )
            continue
        if item.is_zero:
            continue
        checked = _check_line(errors, item, rest)
        if checked is not None:
            clean.append(checked)
    if not errors and not clean:
        errors.add(None, "lines", _("Nothing to refund: enter an amount on at least one line."))
    if errors:
        raise RefundValidationError(errors.errors)
    return clean, reasons[reason_code]


def refund_amounts_data(
    lines: Iterable[RefundRequestLine | RefundLineInput],
) -> list[dict[str, Any]]:
    data = []
    for line in lines:
        line_id = line.line_id
        data.append(
            {
                "line": line_id,
                "quantity": line.quantity,
                "amount": str(line.amount),
                "shipping_amount": str(line.shipping_amount),
                "taxes": {code: str(a) for code, a in (line.taxes or {}).items()},
                "shipping_taxes": {code: str(a) for code, a in (line.shipping_taxes or {}).items()},
            }
        )
    return data


def refund_request_data(request: RefundRequest, **extra: Any) -> dict[str, Any]:
    return {
        "refund_request": request.pk,
        "kind": request.kind,
        "total": str(request.total),
        "reason_code": request.reason_code,
        "idempotency_key": request.idempotency_key,
        **extra,
    }


def canonical_lines(lines: Iterable[RefundLineInput]) -> list[Any]:
    def money(value: Any) -> str:
        try:
            number = Decimal(str(value))
        except (InvalidOperation, ValueError):
            return str(value)
        if not number.is_finite() or abs(number.adjusted()) > 30:
            return str(number)
        return format(number.normalize(), "f")

    return sorted(
        [
            line.line_id,
            line.quantity,
            money(line.amount),
            money(line.shipping_amount),
            sorted((str(c), money(a)) for c, a in (line.taxes or {}).items() if to_decimal(a)),
            sorted(
                (str(c), money(a)) for c, a in (line.shipping_taxes or {}).items() if to_decimal(a)
            ),
        ]
        for line in lines
        if not line.is_zero
    )
