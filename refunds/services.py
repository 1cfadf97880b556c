"""Writes of the refunds app: asking Mirakl for refunds (OR28), exactly once.

1. :func:`refund_request_create` validates the request against what is left to refund
   on each line (:func:`refund_remainders`: synced refunds plus the requests made here
   that Mirakl has not refused), with the order row locked so that two requests on the
   same line cannot both pass, and stores it before anything is sent. The same
   idempotency key returns the same request. A request that takes its author above
   their limit on the order (:func:`refund_approval_check`) waits for a second user
   (:func:`refund_request_approve` / :func:`refund_request_reject`).
2. The request's outbox entry (:mod:`core.outbox`) sends all its lines in one OR28 call
   once the transaction commits (:mod:`refunds.outbox`). A timeout or 5xx leaves it
   ``in_doubt``: the next attempt first looks for its refunds in Mirakl's order (OR11)
   and only sends again if they are not there. A refusal (4xx) leaves it ``refused``
   with Mirakl's message; it then counts for nothing.
3. :func:`refund_requests_confirm` (called by the order sync) marks ``confirmed`` the
   requests whose refunds OR11 now shows.

Amounts are ``Decimal`` with two places, tax included like the line prices of OR11.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet, Sum
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.models import MarketplaceConnection, Order, OrderLine
from core.outbox.engine import outbox_enqueue
from core.outbox.kinds import OutboxKind
from core.outbox.models import OutboxEntry
from incidents.audit import audit_entry, audit_log
from incidents.models import AuditEntry, Incident
from refunds.constants import CENT, REFUNDABLE_LINE_STATES, UNREFUNDABLE_ORDER_STATES, ZERO
from refunds.models import Refund, RefundLimit, RefundRequest, RefundRequestLine

__all__ = [
    "REFUND_PERMISSION",
    "ApprovalCheck",
    "LineRemainder",
    "RefundApprovalError",
    "RefundIdempotencyError",
    "RefundLineInput",
    "RefundValidationError",
    "refund_approval_check",
    "refund_approval_limit",
    "refund_full_lines",
    "refund_reason_choices",
    "refund_remainders",
    "refund_remainders_compute",
    "refund_request_approve",
    "refund_request_create",
    "refund_request_reject",
    "refund_request_validate",
    "refund_requests_confirm",
    "refund_requests_confirm_synced",
    "refund_tax_sums",
    "refund_amounts_data",
    "refund_request_data",
    "refund_requested_total",
]

REFUND_PERMISSION = "incidents.refund_incident"
REFUND_REASON_TYPE = "REFUND"

State = RefundRequest.State
Kind = RefundRequest.Kind
Action = AuditEntry.Action
Source = AuditEntry.Source

ErrorKey = tuple[int | None, str]


# --------------------------------------------------------------------------- types


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


# --------------------------------------------------------------------------- helpers


def _money_text(value: Decimal) -> str:
    """Two decimals in the active language's format (``12.50`` / ``12,50``)."""
    return number_format(value, decimal_pos=2)


def _q2(value: Decimal) -> Decimal:
    return value.quantize(CENT)


def _dec(value: Any) -> Decimal:
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
            sums[str(code)] += _dec(amount)
    elif isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, Mapping) and entry.get("code") is not None:
                sums[str(entry["code"])] += _dec(entry.get("amount"))
    return dict(sums)


def _has_perm(user: Any, perm: str = REFUND_PERMISSION) -> bool:
    return bool(user is not None and getattr(user, "is_active", False) and user.has_perm(perm))


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


# --------------------------------------------------------------------------- reads


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
            amount=_q2(max(line.price - refunded, ZERO)),
            shipping_amount=_q2(max(line.shipping_price - refunded_shipping, ZERO)),
            taxes={
                code: _q2(max(amount - taxes_used[code], ZERO))
                for code, amount in refund_tax_sums(line.taxes).items()
            },
            shipping_taxes={
                code: _q2(max(amount - shipping_taxes_used[code], ZERO))
                for code, amount in refund_tax_sums(line.shipping_taxes).items()
            },
            refunded_amount=_q2(refunded),
            refunded_shipping_amount=_q2(refunded_shipping),
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


def refund_approval_limit(user: Any) -> Decimal | None:
    """The most ``user`` may refund on one order without approval; None = no limit."""
    if getattr(user, "is_superuser", False):
        return None
    row = RefundLimit.objects.filter(user_id=getattr(user, "pk", None)).first()
    if row is not None:
        return row.limit
    return Decimal(str(settings.REFUND_APPROVAL_LIMIT))


@dataclass(frozen=True, slots=True)
class ApprovalCheck:
    """Whether a refund of ``total`` needs a second approver, and why.

    ``already``: what the user has asked to refund on the same order before (requests
    neither refused nor rejected, whatever their state); ``limit`` None = no limit.
    """

    limit: Decimal | None
    already: Decimal
    total: Decimal

    @property
    def needs_approval(self) -> bool:
        return self.limit is not None and self.already + self.total > self.limit


def refund_requested_total(*, user: Any, order: Order) -> Decimal:
    """What ``user`` has asked to refund on ``order`` through Incidesk, not refused or
    rejected (awaiting approval, queued, sent, confirmed…)."""
    if getattr(user, "pk", None) is None:
        return ZERO
    total = (
        RefundRequest.objects.filter(order_id=order.pk, requested_by_id=user.pk)
        .exclude(state__in=RefundRequest.VOID_STATES)
        .aggregate(total=Sum("total"))["total"]
    )
    return _q2(total or ZERO)


def refund_approval_check(*, user: Any, order: Order, total: Decimal) -> ApprovalCheck:
    """Whether ``user`` asking for ``total`` more on ``order`` needs a second approver.

    The limit applies to everything the user asks to refund on one order, not to each
    request: splitting a refund into small requests does not avoid the approver.
    """
    limit = refund_approval_limit(user)
    already = ZERO if limit is None else refund_requested_total(user=user, order=order)
    return ApprovalCheck(limit=limit, already=already, total=_q2(total))


# --------------------------------------------------------------------------- validation


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
        errors.add(line_id, name, too_much % {"left": _money_text(left), "code": code})
        return None
    try:
        rounded = _q2(value)
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


def _validate(
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
        elif lines and _canonical(lines) != _canonical(full):
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


def _canonical(lines: Iterable[RefundLineInput]) -> list[Any]:
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
            sorted((str(c), money(a)) for c, a in (line.taxes or {}).items() if _dec(a)),
            sorted((str(c), money(a)) for c, a in (line.shipping_taxes or {}).items() if _dec(a)),
        ]
        for line in lines
        if not line.is_zero
    )


def _fingerprint(
    *, order: Order, lines: Sequence[RefundLineInput], kind: str, reason_code: str
) -> str:
    payload = {
        "order": order.pk,
        "kind": kind,
        "reason_code": reason_code,
        "lines": _canonical(lines),
    }
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, default=str).encode("utf-8")
    ).hexdigest()


# --------------------------------------------------------------------------- create


def _delivery(order: Order, now: datetime) -> OutboxEntry:
    """The outbox entry that sends a request (OR28) once its transaction commits; the
    requests of one order go out in the order they entered the outbox."""
    return outbox_enqueue(kind=OutboxKind.REFUND, group_key=f"order:{order.pk}", now=now)


def _replay(existing: RefundRequest, fingerprint: str) -> tuple[RefundRequest, bool]:
    if existing.fingerprint != fingerprint:
        raise RefundIdempotencyError(
            {
                (None, "__all__"): [
                    _("This idempotency key was already used for a different refund.")
                ]
            }
        )
    return existing, False


def _open_incident(order: Order) -> Incident | None:
    return (
        Incident.objects.filter(order=order, closed_at__isnull=True)
        .order_by("opened_at", "pk")
        .first()
    )


def refund_request_validate(
    *, order: Order, lines: Sequence[RefundLineInput], kind: str, reason_code: str
) -> list[RefundLineInput]:
    """Check a refund as :func:`refund_request_create` will, without storing or locking.

    The review step of the forms calls it so that errors show before the summary; the
    create call checks again under the order lock, since things may change meanwhile.

    :raises RefundValidationError: every problem found, keyed by (line pk, field).
    """
    clean, _label = _validate(
        order=order,
        lines=lines,
        kind=kind,
        reason_code=reason_code,
        remainders=refund_remainders(order=order),
    )
    return clean


@transaction.atomic
def refund_request_create(
    *,
    order: Order,
    lines: list[RefundLineInput],
    reason_code: str,
    actor: Any,
    idempotency_key: str,
    kind: str,
    incident: Incident | None = None,
    source: str = Source.USER,
    now: datetime | None = None,
) -> tuple[RefundRequest, bool]:
    """Validate and store a refund request; it is sent after commit unless it needs approval.

    ``kind`` full refunds everything left (``lines`` may be empty; if given they must be
    exactly :func:`refund_full_lines`). Lines whose every number is zero are ignored.
    Returns ``(request, created)``: the same ``idempotency_key`` on the same marketplace
    returns the first request with ``created=False``.

    :raises PermissionDenied: ``actor`` may not refund.
    :raises RefundIdempotencyError: the key was used for another refund.
    :raises RefundValidationError: every problem found, keyed by (line pk, field).
    """
    if not _has_perm(actor):
        raise PermissionDenied(_("You are not allowed to refund orders."))
    key = (idempotency_key or "").strip()
    if not key or len(key) > 255:
        raise RefundValidationError(
            {(None, "__all__"): [_("An idempotency key of 1 to 255 characters is required.")]}
        )
    fingerprint = _fingerprint(order=order, lines=lines, kind=kind, reason_code=reason_code)
    existing = RefundRequest.objects.filter(
        connection_id=order.connection_id, idempotency_key=key
    ).first()
    if existing is not None:
        return _replay(existing, fingerprint)

    # The order row is the lock of its lines' remainders: a second request on the same
    # order waits here until the first has committed, then sees its lines.
    locked = (
        Order.objects.select_for_update(of=("self",)).select_related("connection").get(pk=order.pk)
    )
    existing = RefundRequest.objects.filter(
        connection_id=order.connection_id, idempotency_key=key
    ).first()
    if existing is not None:
        return _replay(existing, fingerprint)

    remainders = refund_remainders(order=locked)
    clean, reason_label = _validate(
        order=locked, lines=lines, kind=kind, reason_code=reason_code, remainders=remainders
    )
    total = _q2(sum((line.amount + line.shipping_amount for line in clean), ZERO))
    # Read under the order lock: two requests of one user cannot both slip under it.
    approval = refund_approval_check(user=actor, order=locked, total=total)
    limit = approval.limit
    needs_approval = approval.needs_approval
    now = now or timezone.now()
    if incident is None:
        incident = _open_incident(locked)
    try:
        with transaction.atomic():
            request = RefundRequest.objects.create(
                connection_id=locked.connection_id,
                order=locked,
                incident=incident,
                kind=kind,
                reason_code=reason_code,
                reason_label=reason_label,
                idempotency_key=key,
                fingerprint=fingerprint,
                state=State.AWAITING_APPROVAL if needs_approval else State.QUEUED,
                total=total,
                source=source,
                requested_by=actor if getattr(actor, "is_authenticated", False) else None,
                created_at=now,
                delivery=None if needs_approval else _delivery(locked, now),
            )
            RefundRequestLine.objects.bulk_create(
                RefundRequestLine(
                    request=request,
                    line_id=line.line_id,
                    quantity=line.quantity,
                    amount=line.amount,
                    shipping_amount=line.shipping_amount,
                    taxes={code: str(a) for code, a in line.taxes.items()},
                    shipping_taxes={code: str(a) for code, a in line.shipping_taxes.items()},
                )
                for line in clean
            )
    except IntegrityError:
        # The same key on another order of this marketplace, committed meanwhile.
        existing = RefundRequest.objects.filter(
            connection_id=order.connection_id, idempotency_key=key
        ).first()
        if existing is None:
            raise
        return _replay(existing, fingerprint)

    audit_log(
        action=Action.REFUND_REQUESTED,
        source=source,
        actor=actor,
        incident=incident,
        order=locked,
        detail=_("%(kind)s of %(total)s EUR (%(reason)s)")
        % {"kind": request.get_kind_display(), "total": _money_text(total), "reason": reason_label},
        data=refund_request_data(
            request,
            state=request.state,
            limit=None if limit is None else str(limit),
            requested_before=str(approval.already),
            lines=refund_amounts_data(clean),
        ),
        at=now,
    )
    return request, True


# --------------------------------------------------------------------------- approval


def _lock_request(refund_request: RefundRequest) -> RefundRequest:
    return (
        RefundRequest.objects.select_for_update(of=("self",))
        .select_related("order", "incident")
        .get(pk=refund_request.pk)
    )


def _copy_decision(source: RefundRequest, target: RefundRequest) -> None:
    """Keep the caller's instance in step with the locked copy that was saved."""
    for name in ("state", "approved_by_id", "approved_at", "rejection_reason", "delivery_id"):
        setattr(target, name, getattr(source, name))


@transaction.atomic
def refund_request_approve(
    *, refund_request: RefundRequest, approver: Any, now: datetime | None = None
) -> RefundRequest:
    """A second user approves a request above its author's limit; it is then sent.

    :raises RefundApprovalError: not awaiting approval, the author approving, no refund
        permission, or a total above the approver's own limit.
    """
    request = _lock_request(refund_request)
    if request.state != State.AWAITING_APPROVAL:
        raise RefundApprovalError(_("This refund is not awaiting approval."))
    if not _has_perm(approver):
        raise RefundApprovalError(_("You are not allowed to approve refunds."), code="permission")
    if request.requested_by_id is not None and request.requested_by_id == approver.pk:
        raise RefundApprovalError(
            _("Another user must approve your own refund."), code="self_approval"
        )
    limit = refund_approval_limit(approver)
    if limit is not None and request.total > limit:
        raise RefundApprovalError(
            _("This refund of %(total)s EUR is above your own limit of %(limit)s EUR.")
            % {"total": _money_text(request.total), "limit": _money_text(limit)},
            code="limit",
        )
    now = now or timezone.now()
    request.state = State.QUEUED
    request.approved_by = approver
    request.approved_at = now
    request.delivery = _delivery(request.order, now)
    request.save(update_fields=["state", "approved_by", "approved_at", "delivery"])
    audit_log(
        action=Action.REFUND_APPROVED,
        actor=approver,
        incident=request.incident,
        order=request.order,
        detail=_("%(total)s EUR") % {"total": _money_text(request.total)},
        data=refund_request_data(request, limit=None if limit is None else str(limit)),
        at=now,
    )
    _copy_decision(request, refund_request)
    return request


@transaction.atomic
def refund_request_reject(
    *, refund_request: RefundRequest, approver: Any, reason: str, now: datetime | None = None
) -> RefundRequest:
    """Reject a request awaiting approval: nothing is sent and its amounts are freed.

    The author may withdraw their own request this way.
    """
    request = _lock_request(refund_request)
    if request.state != State.AWAITING_APPROVAL:
        raise RefundApprovalError(_("This refund is not awaiting approval."))
    if not _has_perm(approver):
        raise RefundApprovalError(_("You are not allowed to approve refunds."), code="permission")
    now = now or timezone.now()
    request.state = State.REJECTED
    request.approved_by = approver
    request.approved_at = now
    request.rejection_reason = reason
    request.save(update_fields=["state", "approved_by", "approved_at", "rejection_reason"])
    audit_log(
        action=Action.REFUND_REJECTED,
        actor=approver,
        incident=request.incident,
        order=request.order,
        detail=reason,
        data=refund_request_data(request, reason=reason),
        at=now,
    )
    _copy_decision(request, refund_request)
    return request


# --------------------------------------------------------------------------- reconciliation


def _confirm(requests: QuerySet[RefundRequest], *, now: datetime) -> int:
    """Mark ``confirmed`` the sent requests among ``requests``, with one audit entry each."""
    found = list(requests.filter(state=State.SENT).select_related("order", "incident").distinct())
    if not found:
        return 0
    RefundRequest.objects.filter(pk__in=[r.pk for r in found]).update(
        state=State.CONFIRMED, confirmed_at=now
    )
    AuditEntry.objects.bulk_create(
        audit_entry(
            action=Action.REFUND_CONFIRMED,
            source=Source.SYNC,
            incident=request.incident,
            order=request.order,
            detail=_("%(total)s EUR") % {"total": _money_text(request.total)},
            data=refund_request_data(request),
            at=now,
        )
        for request in found
    )
    return len(found)


def _already_synced(requests: QuerySet[RefundRequest]) -> QuerySet[RefundRequest]:
    """The requests with a line whose Mirakl refund is already among the synced refunds."""
    synced = Refund.objects.filter(
        line_id=OuterRef("line_id"), mirakl_id=OuterRef("mirakl_refund_id")
    )
    lines = (
        RefundRequestLine.objects.filter(request_id=OuterRef("pk"))
        .exclude(mirakl_refund_id="")
        .filter(Exists(synced))
    )
    return requests.filter(Exists(lines))


def refund_requests_confirm(
    *,
    connection: MarketplaceConnection,
    mirakl_refund_ids: Iterable[str],
    now: datetime | None = None,
) -> int:
    """Mark ``confirmed`` the sent requests whose refunds the sync now holds; returns how many.

    Called once per OR11 page with the refund ids of that page: one query when none of
    them is ours. OR28 creates all refunds of a request at once and OR11 returns every
    line of an order, so one refund seen means the request's refunds are all there.
    """
    ids = {str(i) for i in mirakl_refund_ids if i}
    if not ids:
        return 0
    return _confirm(
        RefundRequest.objects.filter(connection=connection, lines__mirakl_refund_id__in=ids),
        now=now or timezone.now(),
    )


def refund_requests_confirm_synced(
    *, now: datetime | None = None, requests: QuerySet[RefundRequest] | None = None
) -> int:
    """Confirm the sent requests (of ``requests``, default all) whose refunds were synced
    before their ids were stored.

    A sync can read the order between Mirakl's answer and the moment the ids are saved
    (or an in-doubt request is found later): the sync then had nothing to match.
    """
    if requests is None:
        requests = RefundRequest.objects.all()
    return _confirm(_already_synced(requests), now=now or timezone.now())
