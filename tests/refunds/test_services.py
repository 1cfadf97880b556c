"""Refund requests: reasons, remainders, every validation rule, idempotency, approval."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from incidents.models import AuditEntry
from refunds.approvals import refund_approval_check, refund_approval_limit, refund_requested_total
from refunds.models import RefundRequest
from refunds.rules import (
    RefundApprovalError,
    RefundIdempotencyError,
    RefundLineInput,
    RefundValidationError,
    refund_full_lines,
    refund_reason_choices,
    refund_remainders,
)
from refunds.services import refund_request_approve, refund_request_create, refund_request_reject
from refunds.signals import refund_awaiting_approval
from tests.factories.core import OrderLineFactory, UserFactory
from tests.factories.refunds import (
    RefundFactory,
    RefundLimitFactory,
    RefundRequestFactory,
    RefundRequestLineFactory,
)
from tests.refunds.conftest import REASON

pytestmark = pytest.mark.django_db

D = Decimal
State = RefundRequest.State


def create(shop, agent, lines, *, key="k-1", kind="partial", reason=REASON, order=None):
    return refund_request_create(
        order=order or shop["order"],
        lines=lines,
        reason_code=reason,
        actor=agent,
        idempotency_key=key,
        kind=kind,
    )


def errors_of(shop, agent, lines, **kwargs) -> dict:
    with pytest.raises(RefundValidationError) as caught:
        create(shop, agent, lines, **kwargs)
    return caught.value.errors


def _told_only(callbacks) -> bool:
    """The on-commit callbacks only tell the approvers (nothing is sent to Mirakl)."""
    return [getattr(c, "func", c) for c in callbacks] == [refund_awaiting_approval.send]


def line(shop, n=1, **kwargs) -> RefundLineInput:
    values = {"quantity": 0, "amount": D("0.00")} | kwargs
    return RefundLineInput(line_id=shop[f"line{n}"].pk, **values)


# --------------------------------------------------------------------------- reasons


def test_reason_choices_are_the_shop_usable_refund_reasons(shop) -> None:
    assert refund_reason_choices(connection=shop["connection"]) == [
        ("15", "Sin stock"),
        (REASON, "Artículo devuelto"),
    ]


@pytest.mark.parametrize("code", ["99", "3", "nope", ""])
def test_reason_outside_the_re01_refund_list_is_refused(shop, agent, code) -> None:
    errors = errors_of(shop, agent, [line(shop, amount=D("5.00"))], reason=code)
    assert errors == {
        (None, "reason_code"): ["Choose a refund reason from the marketplace's list."]
    }


# --------------------------------------------------------------------------- remainders


def test_remainders_subtract_synced_refunds_and_pending_requests_once(shop) -> None:
    line1, line2 = shop["line1"], shop["line2"]
    RefundFactory(
        line=line1,
        mirakl_id="900",
        amount=D("10.00"),
        shipping_amount=D("1.00"),
        quantity=None,
        taxes=[{"code": "IVA21", "amount": "1.74"}],
        shipping_taxes=[{"code": "IVA21", "amount": "0.17"}],
    )
    pending = RefundRequestLineFactory(
        request__order=shop["order"],
        request__state=State.AWAITING_APPROVAL,
        line=line1,
        quantity=1,
        amount=D("20.00"),
        taxes={"IVA21": "3.47"},
    )
    # Sent, and its refund is already synced: counted once (as the synced refund).
    RefundRequestLineFactory(
        request__order=shop["order"],
        request__state=State.SENT,
        line=line1,
        amount=D("10.00"),
        shipping_amount=D("1.00"),
        quantity=0,
        mirakl_refund_id="900",
    )
    for void in (State.REFUSED, State.REJECTED):
        RefundRequestLineFactory(
            request__order=shop["order"], request__state=void, line=line2, amount=D("20.00")
        )

    rest = refund_remainders(order=shop["order"])

    first = rest[line1.pk]
    assert (first.quantity, first.amount, first.shipping_amount) == (1, D("70.00"), D("5.05"))
    assert first.taxes == {"IVA21": D("12.15")}
    assert first.shipping_taxes == {"IVA21": D("0.88")}
    assert (first.refunded_amount, first.refunded_shipping_amount) == (D("30.00"), D("1.00"))
    assert first.pending is True
    second = rest[line2.pk]
    assert (second.amount, second.taxes, second.pending) == (
        D("20.00"),
        {"IVA21": D("3.47")},
        False,
    )
    assert str(first.amount) == "70.00"  # two places

    pending.request.state = State.CONFIRMED  # its refund is synced from now on
    pending.request.save()
    assert refund_remainders(order=shop["order"])[line1.pk].amount == D("90.00")


def test_full_lines_take_every_remainder_with_taxes(shop) -> None:
    RefundFactory(line=shop["line2"], amount=D("20.00"), taxes=[])  # nothing left
    OrderLineFactory(order=shop["order"], mirakl_id="59400001-A-3", state="CANCELED")
    assert refund_full_lines(order=shop["order"]) == [
        RefundLineInput(
            line_id=shop["line1"].pk,
            quantity=2,
            amount=D("100.00"),
            shipping_amount=D("6.05"),
            taxes={"IVA21": D("17.36")},
            shipping_taxes={"IVA21": D("1.05")},
        ),
    ]


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("fields", "key", "message"),
    [
        ({"amount": D("-1.00")}, "amount", "Enter an amount of zero or more."),
        ({"amount": D("1.005")}, "amount", "Enter an amount with at most two decimals."),
        ({"amount": D("100.01")}, "amount", "Only 100.00 EUR left to refund on this line."),
        (
            {"amount": D("1"), "shipping_amount": D("6.06")},
            "shipping_amount",
            "Only 6.05 EUR of shipping left to refund on this line.",
        ),
        (
            {"amount": D("1"), "shipping_amount": D("-0.01")},
            "shipping_amount",
            "Enter an amount of zero or more.",
        ),
        (
            {"amount": D("1"), "taxes": {"IVA21": D("17.37")}},
            "tax:IVA21",
            "Only 17.36 EUR of tax IVA21 left to refund on this line.",
        ),
        (
            {"amount": D("1"), "taxes": {"IVA21": D("0.001")}},
            "tax:IVA21",
            "Enter an amount with at most two decimals.",
        ),
        (
            {"amount": D("1"), "taxes": {"IVA10": D("1.00")}},
            "tax:IVA10",
            "Tax IVA10 does not apply to this line.",
        ),
        (
            {"amount": D("1"), "shipping_taxes": {"IVA21": D("1.06")}},
            "shipping_tax:IVA21",
            "Only 1.05 EUR of shipping tax IVA21 left to refund on this line.",
        ),
        (
            {"amount": D("1"), "shipping_taxes": {"ECO": D("1.00")}},
            "shipping_tax:ECO",
            "Shipping tax ECO does not apply to this line.",
        ),
        (
            {"amount": D("1"), "quantity": 3},
            "quantity",
            "Only 2 units left to refund on this line.",
        ),
        ({"amount": D("1"), "quantity": -1}, "quantity", "Enter a quantity of zero or more."),
        (
            {"quantity": 1},
            "amount",
            "Enter an amount or a shipping amount to refund on this line.",
        ),
    ],
)
def test_each_line_rule_has_its_exact_message(shop, agent, fields, key, message) -> None:
    errors = errors_of(shop, agent, [line(shop, **fields)])
    assert errors == {(shop["line1"].pk, key): [message]}
    assert not RefundRequest.objects.exists()


def test_what_is_left_accounts_for_earlier_refunds(shop, agent) -> None:
    RefundFactory(line=shop["line1"], amount=D("87.50"), quantity=1)
    errors = errors_of(shop, agent, [line(shop, amount=D("12.51"), quantity=2)])
    assert errors == {
        (shop["line1"].pk, "quantity"): ["Only 1 unit left to refund on this line."],
        (shop["line1"].pk, "amount"): ["Only 12.50 EUR left to refund on this line."],
    }


def test_amount_left_is_formatted_in_spanish(shop, agent) -> None:
    from django.utils import translation

    RefundFactory(line=shop["line1"], amount=D("87.50"))
    with translation.override("es"):
        errors = errors_of(shop, agent, [line(shop, amount=D("99.00"))])
    assert "12,50" in errors[(shop["line1"].pk, "amount")][0]


def test_nothing_to_refund(shop, agent) -> None:
    errors = errors_of(shop, agent, [line(shop), line(shop, 2)])
    assert errors == {(None, "lines"): ["Nothing to refund: enter an amount on at least one line."]}
    assert errors_of(shop, agent, []) == errors


def test_line_of_another_order_is_refused(shop, agent) -> None:
    other = OrderLineFactory(order__connection=shop["connection"])
    errors = errors_of(
        shop, agent, [RefundLineInput(line_id=other.pk, quantity=1, amount=D("1.00"))]
    )
    assert errors == {(other.pk, "lines"): ["This line is not part of order 59400001-A."]}
    errors = errors_of(shop, agent, [RefundLineInput(line_id=0, quantity=1, amount=D("1.00"))])
    assert errors == {(0, "lines"): ["This line is not part of order 59400001-A."]}


def test_duplicate_line_is_refused(shop, agent) -> None:
    errors = errors_of(shop, agent, [line(shop, amount=D("1")), line(shop, amount=D("2"))])
    assert errors == {
        (shop["line1"].pk, "lines"): ["This line appears more than once in the refund."]
    }


def test_line_that_mirakl_marks_not_refundable(shop, agent) -> None:
    shop["line1"].can_refund = False
    shop["line1"].save()
    errors = errors_of(shop, agent, [line(shop, amount=D("1.00"))])
    assert errors == {
        (shop["line1"].pk, "__all__"): ["Mirakl does not allow a refund of this line."]
    }


@pytest.mark.parametrize("state", ["CLOSED", "CANCELED", "REFUSED", "WAITING_DEBIT", "REFUNDED"])
def test_line_in_a_state_mirakl_refuses(shop, agent, state) -> None:
    shop["line2"].state = state
    shop["line2"].save()
    errors = errors_of(shop, agent, [line(shop, 2, amount=D("1.00"))])
    assert errors == {
        (shop["line2"].pk, "__all__"): [f"A line in state {state} cannot be refunded."]
    }


@pytest.mark.parametrize("state", ["CLOSED", "CANCELED", "REFUSED", "WAITING_ACCEPTANCE"])
def test_order_in_a_state_mirakl_refuses(shop, agent, state) -> None:
    shop["order"].state = state
    shop["order"].save()
    errors = errors_of(shop, agent, [line(shop, amount=D("1.00"))])
    assert errors == {(None, "__all__"): [f"An order in state {state} cannot be refunded."]}


def test_full_refund_with_nothing_left(shop, agent) -> None:
    RefundFactory(line=shop["line1"], amount=D("100.00"), shipping_amount=D("6.05"))
    RefundFactory(line=shop["line2"], amount=D("20.00"))
    errors = errors_of(shop, agent, [], kind="full")
    assert errors == {(None, "lines"): ["Nothing is left to refund on this order."]}


def test_full_refund_lines_must_be_the_whole_remainder(shop, agent) -> None:
    errors = errors_of(shop, agent, [line(shop, amount=D("1.00"))], kind="full")
    assert errors == {
        (None, "__all__"): [
            "A full refund must refund everything left on the order, which has changed: "
            "reload the page and try again."
        ]
    }
    assert not RefundRequest.objects.exists()


@pytest.mark.parametrize("value", [D("NaN"), D("sNaN"), D("Infinity"), D("-Infinity"), "abc"])
@pytest.mark.parametrize("field", ["amount", "shipping_amount"])
def test_an_amount_that_is_not_a_number_is_refused(shop, agent, field, value) -> None:
    fields = {"quantity": 1, "amount": D("1.00"), field: value}
    errors = errors_of(shop, agent, [line(shop, **fields)])
    assert errors == {(shop["line1"].pk, field): ["Enter a valid amount."]}
    assert not RefundRequest.objects.exists()


@pytest.mark.parametrize("value", [D("NaN"), D("Infinity"), "abc"])
def test_a_tax_that_is_not_a_number_is_refused(shop, agent, value) -> None:
    errors = errors_of(shop, agent, [line(shop, amount=D("1.00"), taxes={"IVA21": value})])
    assert errors == {(shop["line1"].pk, "tax:IVA21"): ["Enter a valid amount."]}
    assert not RefundRequest.objects.exists()


@pytest.mark.parametrize("quantity", [1.5, True, "1"])
def test_a_quantity_that_is_not_a_whole_number_is_refused(shop, agent, quantity) -> None:
    errors = errors_of(shop, agent, [line(shop, quantity=quantity, amount=D("1.00"))])
    assert errors == {(shop["line1"].pk, "quantity"): ["Enter a whole number of units."]}
    assert not RefundRequest.objects.exists()


def test_kind_must_be_full_or_partial(shop, agent) -> None:
    errors = errors_of(shop, agent, [line(shop, quantity=1, amount=D("1.00"))], kind="x")
    assert errors == {(None, "kind"): ["Choose a full or a partial refund."]}
    assert not RefundRequest.objects.exists()


@pytest.mark.parametrize("key", ["", "   ", None, "k" * 256])
def test_idempotency_key_of_1_to_255_characters_is_required(shop, agent, key) -> None:
    errors = errors_of(shop, agent, [line(shop, quantity=1, amount=D("1.00"))], key=key)
    assert errors == {(None, "__all__"): ["An idempotency key of 1 to 255 characters is required."]}
    assert not RefundRequest.objects.exists()


def test_idempotency_key_of_255_characters_is_accepted(shop, agent) -> None:
    request, created = create(
        shop, agent, [line(shop, quantity=1, amount=D("1.00"))], key="k" * 255
    )
    assert created and request.idempotency_key == "k" * 255


# --------------------------------------------------------------------------- create


def test_partial_request_is_stored_queued_and_audited(
    shop, agent, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        request, created = create(
            shop,
            agent,
            [
                line(
                    shop,
                    quantity=1,
                    amount=D("50.00"),
                    shipping_amount=D("6.05"),
                    taxes={"IVA21": D("8.68")},
                    shipping_taxes={"IVA21": D("1.05")},
                ),
                line(shop, 2),  # all zero: ignored
            ],
        )
    assert created and request.state == State.QUEUED
    assert request.total == D("56.05")  # tax included in the amounts
    assert request.reason_label == "Artículo devuelto"
    assert request.incident is not None  # the order's open incident
    stored = request.lines.get()
    assert (stored.line, stored.amount, stored.taxes) == (
        shop["line1"],
        D("50.00"),
        {"IVA21": "8.68"},
    )
    assert len(callbacks) == 1  # the delivery task, after commit
    entry = AuditEntry.objects.get(action=AuditEntry.Action.REFUND_REQUESTED)
    assert entry.actor == agent and entry.order == shop["order"]
    assert entry.data["total"] == "56.05" and entry.data["idempotency_key"] == "k-1"
    assert entry.data["lines"][0]["amount"] == "50.00"
    rest = refund_remainders(order=shop["order"])[shop["line1"].pk]
    assert (rest.amount, rest.pending) == (D("50.00"), True)


def test_same_key_returns_the_same_request(shop, agent, django_capture_on_commit_callbacks) -> None:
    lines = [line(shop, quantity=1, amount=D("10.00"))]
    first, created = create(shop, agent, lines, key="same")
    with django_capture_on_commit_callbacks() as callbacks:
        again, created_again = create(
            shop, agent, [line(shop, quantity=1, amount=D("10.0"))], key="same"
        )
    assert created and not created_again and again.pk == first.pk
    assert callbacks == []
    assert RefundRequest.objects.count() == 1


def test_same_key_with_another_payload_is_an_error(shop, agent) -> None:
    create(shop, agent, [line(shop, quantity=1, amount=D("10.00"))], key="same")
    with pytest.raises(RefundIdempotencyError) as caught:
        create(shop, agent, [line(shop, quantity=1, amount=D("11.00"))], key="same")
    assert caught.value.errors == {
        (None, "__all__"): ["This idempotency key was already used for a different refund."]
    }


def test_user_without_refund_permission_cannot_create(shop) -> None:
    manager = UserFactory(role="account_manager")
    with pytest.raises(PermissionDenied):
        create(shop, manager, [line(shop, amount=D("1.00"))])


# --------------------------------------------------------------------------- approval


def test_limits(settings, agent) -> None:
    settings.REFUND_APPROVAL_LIMIT = D("300.00")
    assert refund_approval_limit(agent) == D("300.00")
    RefundLimitFactory(user=agent, limit=None)
    assert refund_approval_limit(agent) is None
    assert refund_approval_limit(UserFactory(is_superuser=True)) is None


def test_over_limit_waits_for_another_approver(
    shop, agent, approver, django_capture_on_commit_callbacks
) -> None:
    RefundLimitFactory(user=agent, limit=D("50.00"))
    with django_capture_on_commit_callbacks() as callbacks:
        request, _ = create(shop, agent, [line(shop, quantity=1, amount=D("50.01"))])
    assert request.state == State.AWAITING_APPROVAL and request.needs_approval
    assert _told_only(callbacks)  # nothing sent: the approvers are told

    with pytest.raises(RefundApprovalError) as caught:
        refund_request_approve(refund_request=request, approver=agent)
    assert caught.value.code == "self_approval"

    low = UserFactory(username="corto", role="agent")
    RefundLimitFactory(user=low, limit=D("50.00"))
    with pytest.raises(RefundApprovalError) as caught:
        refund_request_approve(refund_request=request, approver=low)
    assert caught.value.message == "This refund of 50.01 EUR is above your own limit of 50.00 EUR."

    with pytest.raises(RefundApprovalError) as caught:
        refund_request_approve(refund_request=request, approver=UserFactory(role="account_manager"))
    assert caught.value.code == "permission"

    with django_capture_on_commit_callbacks() as callbacks:
        refund_request_approve(refund_request=request, approver=approver)
    assert len(callbacks) == 1
    request.refresh_from_db()
    assert (request.state, request.approved_by) == (State.QUEUED, approver)
    entry = AuditEntry.objects.get(action=AuditEntry.Action.REFUND_APPROVED)
    assert entry.actor == approver and entry.data["total"] == "50.01"
    with pytest.raises(RefundApprovalError) as caught:
        refund_request_approve(refund_request=request, approver=approver)
    assert caught.value.code == "state"


def test_limit_applies_to_what_the_user_asks_on_the_order_not_per_request(
    shop, agent, approver, django_capture_on_commit_callbacks
) -> None:
    RefundLimitFactory(user=agent, limit=D("50.00"))
    first, _ = create(shop, agent, [line(shop, quantity=1, amount=D("30.00"))], key="a")
    assert first.state == State.QUEUED

    # 25.00 is under the limit, but with the 30.00 already asked it is 55.00.
    with django_capture_on_commit_callbacks() as callbacks:
        second, _ = create(shop, agent, [line(shop, 2, amount=D("20.00"))], key="b")
    assert second.state == State.QUEUED  # 30.00 + 20.00 = 50.00: at the limit, not above
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks() as callbacks:
        third, _ = create(shop, agent, [line(shop, amount=D("0.01"))], key="c")
    assert third.state == State.AWAITING_APPROVAL
    assert _told_only(callbacks)  # nothing sent before the second person approves
    entry = AuditEntry.objects.get(
        action=AuditEntry.Action.REFUND_REQUESTED, data__refund_request=third.pk
    )
    assert (entry.data["limit"], entry.data["requested_before"]) == ("50.00", "50.00")

    # Approved or not, what was asked counts: the next one waits as well.
    refund_request_approve(refund_request=third, approver=approver)
    fourth, _ = create(shop, agent, [line(shop, amount=D("0.01"))], key="d")
    assert fourth.state == State.AWAITING_APPROVAL


def test_two_small_requests_above_the_limit_together_need_approval(shop, agent) -> None:
    RefundLimitFactory(user=agent, limit=D("50.00"))
    first, _ = create(shop, agent, [line(shop, quantity=1, amount=D("30.00"))], key="a")
    second, _ = create(shop, agent, [line(shop, amount=D("25.00"))], key="b")
    assert (first.state, second.state) == (State.QUEUED, State.AWAITING_APPROVAL)
    check = refund_approval_check(user=agent, order=shop["order"], total=D("1.00"))
    assert (check.limit, check.already, check.needs_approval) == (D("50.00"), D("55.00"), True)


@pytest.mark.parametrize("void", [State.REFUSED, State.REJECTED])
def test_refused_or_rejected_requests_do_not_count_towards_the_limit(shop, agent, void) -> None:
    RefundLimitFactory(user=agent, limit=D("50.00"))
    RefundRequestFactory(order=shop["order"], requested_by=agent, state=void, total=D("40.00"))
    request, _ = create(shop, agent, [line(shop, quantity=1, amount=D("30.00"))])
    assert request.state == State.QUEUED


def test_only_the_users_own_requests_on_the_same_order_count(shop, agent) -> None:
    RefundLimitFactory(user=agent, limit=D("50.00"))
    colleague = UserFactory(username="jorge", role="agent")
    RefundRequestFactory(order=shop["order"], requested_by=colleague, total=D("40.00"))
    RefundRequestFactory(requested_by=agent, total=D("40.00"))  # another order
    assert refund_requested_total(user=agent, order=shop["order"]) == D("0.00")
    request, _ = create(shop, agent, [line(shop, quantity=1, amount=D("30.00"))])
    assert request.state == State.QUEUED
    assert refund_requested_total(user=agent, order=shop["order"]) == D("30.00")


def test_a_user_without_limit_never_waits(shop, agent) -> None:
    RefundLimitFactory(user=agent, limit=None)
    create(shop, agent, [line(shop, quantity=1, amount=D("100.00"))], key="a")
    request, _ = create(shop, agent, [line(shop, 2, amount=D("20.00"))], key="b")
    assert request.state == State.QUEUED
    check = refund_approval_check(user=agent, order=shop["order"], total=D("1000.00"))
    assert (check.limit, check.needs_approval) == (None, False)


def test_rejected_request_frees_its_amount(shop, agent, approver) -> None:
    RefundLimitFactory(user=agent, limit=D("10.00"))
    request, _ = create(shop, agent, [line(shop, quantity=1, amount=D("60.00"))])
    assert refund_remainders(order=shop["order"])[shop["line1"].pk].amount == D("40.00")
    refund_request_reject(refund_request=request, approver=approver, reason="Demasiado")
    assert request.state == State.REJECTED
    assert refund_remainders(order=shop["order"])[shop["line1"].pk].amount == D("100.00")
    entry = AuditEntry.objects.get(action=AuditEntry.Action.REFUND_REJECTED)
    assert entry.data["reason"] == "Demasiado"


def test_factory_request_is_pending() -> None:
    request = RefundRequestFactory()
    assert request.is_pending and not request.needs_approval


def test_database_refuses_a_line_beyond_what_is_left(shop) -> None:
    from django.db import IntegrityError, transaction

    RefundFactory(line=shop["line1"], amount=D("60.00"))
    RefundRequestLineFactory(request__order=shop["order"], line=shop["line1"], amount=D("40.00"))
    with pytest.raises(IntegrityError, match="exceeds what is left"), transaction.atomic():
        RefundRequestLineFactory(request__order=shop["order"], line=shop["line1"], amount=D("0.01"))
    # Refused and rejected requests free their amounts.
    RefundRequest.objects.filter(lines__line=shop["line1"]).update(state=State.REFUSED)
    RefundRequestLineFactory(request__order=shop["order"], line=shop["line1"], amount=D("40.00"))
