"""Parsing of the recorded Mirakl payloads in tests/fixtures/mirakl."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from mirakl.client import decode_json, encode_json
from mirakl.errors import MiraklPayloadError
from mirakl.schemas import (
    Message,
    MessageCreated,
    MessageInput,
    Order,
    OrderDocumentList,
    OrderPage,
    Reason,
    Recipient,
    RefundLineRequest,
    RefundRequest,
    RefundResult,
    ResolveIncidentInput,
    Sender,
    ShopAccount,
    ShopStatistics,
    Thread,
    ThreadInput,
    ThreadPage,
)

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "mirakl"


def load(name: str) -> Any:
    """A recorded body decoded as the client decodes it (floats as Decimal)."""
    return decode_json((FIXTURES_DIR / name).read_text(encoding="utf-8"))


PARSERS: dict[str, Callable[[Any], BaseModel]] = {
    "OR11-orders-with-refunds.json": OrderPage.from_payload,
    "OR11-order-with-incident.json": OrderPage.from_payload,
    "OR11-order-received-with-refund-and-cancelation.json": Order.model_validate,
    "M11-threads-es-marketplace.json": ThreadPage.from_payload,
    "M10-thread-with-messages.json": Thread.model_validate,
    "M12-message_input-customer-and-operator.json": MessageInput.model_validate,
    "M12-message_input-operator-only.json": MessageInput.model_validate,
    "M12-response-201.json": MessageCreated.model_validate,
    "OR43-thread_input.json": ThreadInput.model_validate,
    "OR28-request-partial-refund.json": RefundRequest.model_validate,
    "OR28-request-schema-example-from-docs.json": RefundRequest.model_validate,
    "OR28-response.json": RefundResult.model_validate,
    "OR64-request.json": ResolveIncidentInput.model_validate,
    "A01-account.json": ShopAccount.model_validate,
    "A21-statistics.json": ShopStatistics.model_validate,
    "OR72-documents.json": OrderDocumentList.from_payload,
}


def test_every_fixture_has_a_parser() -> None:
    on_disk = {path.name for path in FIXTURES_DIR.glob("*.json")}
    assert on_disk == set(PARSERS)


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_fixture_parses(name: str) -> None:
    result = PARSERS[name](load(name))
    assert isinstance(result, BaseModel)
    assert getattr(result, "invalid", []) == []


# --------------------------------------------------------------------------- orders


def test_order_page_with_refunds_exact_decimals_and_ids() -> None:
    page = OrderPage.from_payload(load("OR11-orders-with-refunds.json"))

    assert page.total_count == 1
    assert page.next_offset is None
    (order,) = page.orders
    assert order.order_id == "1234561-A"
    assert order.channel is None
    assert order.total_price == Decimal("114.24")
    line_95, line_96 = order.order_lines
    assert line_95.price == Decimal("11.24")
    assert str(line_95.price) == "11.24"
    assert line_95.offer_id == "2199"  # a JSON number in the payload
    assert line_95.shipping_taxes[1].amount == Decimal("2.2")
    assert [refund.id for refund in line_96.refunds] == ["1121", "1122"]
    shipping_only = line_96.refunds[1]
    assert shipping_only.quantity is None
    assert shipping_only.amount == Decimal("0.00")
    assert shipping_only.shipping_amount == Decimal("0.01")
    assert shipping_only.state == "WAITING_REFUND"
    assert shipping_only.created_date == datetime(2019, 4, 2, 9, 13, 51, tzinfo=UTC)


def test_single_order_with_refund_and_cancelation() -> None:
    order = Order.model_validate(load("OR11-order-received-with-refund-and-cancelation.json"))

    assert order.order_state == "RECEIVED"
    assert order.has_customer_message is True
    assert order.channel is not None and order.channel.code == "INIT"
    assert order.customer is not None
    assert order.customer.shipping_address is not None
    assert order.customer.shipping_address.additional_info == "Code: 38JD31"
    (line,) = order.order_lines
    assert line.can_refund is False
    assert line.refunds[0].current_state == "WAITING_REFUND_PAYMENT"
    assert line.refunds[0].amount + line.refunds[0].shipping_amount == line.total_price
    (cancelation,) = line.cancelations
    assert cancelation.id == "10"
    assert str(cancelation.amount) == "3.50"
    assert cancelation.taxes[0].code == "VAT"


def test_order_with_incident() -> None:
    (order,) = OrderPage.from_payload(load("OR11-order-with-incident.json")).orders

    assert order.has_incident is True
    assert [line.order_line_id for line in order.incident_lines] == ["MY-LINE"]


def test_unknown_fields_ignored_and_unknown_states_kept() -> None:
    raw = load("OR11-order-received-with-refund-and-cancelation.json")
    raw["brand_new_field"] = {"nested": [1, 2]}
    raw["order_state"] = "WAITING_SOMETHING_NEW"
    raw["order_lines"][0]["order_line_state"] = "INCIDENT_ESCALATED"
    raw["order_lines"][0]["refunds"][0]["state"] = "REFUND_PENDING_REVIEW"

    order = Order.model_validate(raw)

    assert order.order_state == "WAITING_SOMETHING_NEW"
    assert order.order_lines[0].order_line_state == "INCIDENT_ESCALATED"
    assert order.order_lines[0].refunds[0].state == "REFUND_PENDING_REVIEW"
    assert not hasattr(order, "brand_new_field")


def test_numeric_ids_become_strings() -> None:
    raw = load("OR11-order-received-with-refund-and-cancelation.json")
    raw["order_lines"][0]["order_line_id"] = 96
    raw["order_lines"][0]["refunds"][0]["id"] = 1100
    raw["customer"]["customer_id"] = 34053485

    order = Order.model_validate(raw)

    assert order.order_lines[0].order_line_id == "96"
    assert order.order_lines[0].refunds[0].id == "1100"
    assert order.customer is not None and order.customer.customer_id == "34053485"


def test_null_on_defaulted_fields_gives_the_default() -> None:
    raw = load("OR11-order-received-with-refund-and-cancelation.json")
    raw["order_lines"][0]["refunds"] = None
    raw["order_lines"][0]["shipping_price"] = None
    raw["has_incident"] = None

    order = Order.model_validate(raw)

    assert order.order_lines[0].refunds == []
    assert order.order_lines[0].shipping_price == Decimal(0)
    assert order.has_incident is False


def test_float_input_keeps_its_printed_digits() -> None:
    # A caller that decoded JSON without parse_float=Decimal still gets the printed value.
    raw = load("OR11-order-received-with-refund-and-cancelation.json")
    raw["order_lines"][0]["price"] = 11.24

    assert Order.model_validate(raw).order_lines[0].price == Decimal("11.24")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-17T11:34:22.677Z", datetime(2024, 5, 17, 11, 34, 22, 677000, tzinfo=UTC)),
        ("2014-10-17T10:05:14Z", datetime(2014, 10, 17, 10, 5, 14, tzinfo=UTC)),
        ("2019-04-02T09:13:52+00:00", datetime(2019, 4, 2, 9, 13, 52, tzinfo=UTC)),
        ("2024-05-17T13:34:22+02:00", datetime(2024, 5, 17, 11, 34, 22, tzinfo=UTC)),
        ("2024-05-17T11:34:22", datetime(2024, 5, 17, 11, 34, 22, tzinfo=UTC)),
    ],
)
def test_datetimes_are_aware_utc(text: str, expected: datetime) -> None:
    message = Message.model_validate({"id": "m1", "date_created": text, "from": {"type": "X"}})

    assert message.date_created == expected
    assert message.date_created.utcoffset() == timedelta(0)


def test_malformed_order_goes_to_invalid_with_its_id() -> None:
    good = load("OR11-order-received-with-refund-and-cancelation.json")
    no_id = copy.deepcopy(good)
    del no_id["order_id"]
    bad_price = copy.deepcopy(good)
    bad_price["order_id"] = "BAD-1"
    bad_price["order_lines"][0]["price"] = "abc"
    payload = {"orders": [no_id, good, bad_price, "not an order"], "total_count": 4}

    page = OrderPage.from_payload(payload)

    assert [order.order_id for order in page.orders] == ["DKFSLFKZ-SDF993-A"]
    assert [record.id for record in page.invalid] == [None, "BAD-1", None]
    assert "order_id" in page.invalid[0].error
    assert "order_lines.0.price" in page.invalid[1].error
    assert "abc" not in page.invalid[1].error  # input values (personal data) stay out
    assert page.invalid[1].raw["order_id"] == "BAD-1"
    assert page.next_offset is None  # 4 records received out of 4


def _orders(count: int) -> list[dict[str, Any]]:
    base = {
        "order_state": "SHIPPING",
        "created_date": "2024-01-01T00:00:00Z",
        "last_updated_date": "2024-01-02T00:00:00Z",
    }
    return [{"order_id": f"O-{i}", **base} for i in range(count)]


@pytest.mark.parametrize(
    ("records", "total_count", "offset", "max_", "expected"),
    [
        (100, 250, 0, 100, 100),
        (100, 250, 100, 100, 200),
        (50, 250, 200, 100, None),
        (10, None, 0, 10, 10),  # full page without total_count: maybe more
        (7, None, 20, 10, None),  # short page without total_count: last
        (0, 250, 300, 100, None),  # never loop on an empty page
    ],
)
def test_order_page_next_offset(
    records: int, total_count: int | None, offset: int, max_: int, expected: int | None
) -> None:
    payload: dict[str, Any] = {"orders": _orders(records)}
    if total_count is not None:
        payload["total_count"] = total_count

    page = OrderPage.from_payload(payload, offset=offset, max=max_)

    assert len(page.orders) == records
    assert page.offset == offset
    assert page.next_offset == expected


@pytest.mark.parametrize("payload", [{"total_count": 0}, {"orders": None}, [], "x"])
def test_order_page_top_level_shape_error(payload: Any) -> None:
    with pytest.raises(MiraklPayloadError) as info:
        OrderPage.from_payload(payload)
    assert info.value.call == "OR11"


# --------------------------------------------------------------------------- threads


def test_m11_page_of_real_threads() -> None:
    page = ThreadPage.from_payload(load("M11-threads-es-marketplace.json"))

    assert len(page.data) == 30
    assert page.invalid == []
    assert page.next_page_token is None
    first = page.data[0]
    assert first.order_id == "59443251-A"
    assert first.messages == []  # with_messages=false
    assert first.topic is not None and first.topic.type == "FREE_TEXT"
    assert first.date_created == datetime(2024, 5, 17, 11, 34, 22, 677000, tzinfo=UTC)
    operator = first.participant("OPERATOR")
    assert operator is not None and operator.id is None
    assert {thread.topic.type for thread in page.data if thread.topic} == {
        "FREE_TEXT",
        "REASON_CODE",
    }
    for thread in page.data:
        assert thread.metadata is not None and thread.metadata.last_sender is not None
        # In the real data a reply is needed exactly when the shop did not speak last.
        assert thread.needs_reply == (thread.metadata.last_sender.party != "SHOP")


def test_m10_thread_with_messages() -> None:
    thread = Thread.model_validate(load("M10-thread-with-messages.json"))

    assert thread.order_id == "59452730-A"
    assert thread.metadata is not None and thread.metadata.total_count == 3
    assert [message.from_.party for message in thread.messages] == [
        "CUSTOMER",
        "OPERATOR",
        "OPERATOR",
    ]
    customer_msg, operator_msg, _ = thread.messages
    assert customer_msg.from_.type == "CUSTOMER_USER"
    assert [p.type for p in customer_msg.to] == ["SHOP", "OPERATOR"]
    assert customer_msg.to[1].id is None
    (attachment,) = operator_msg.attachments
    assert (attachment.id, attachment.name, attachment.size) == (
        "synthetic-att-0001",
        "captura.png",
        48213,
    )
    assert operator_msg.model_dump(by_alias=True)["from"]["type"] == "OPERATOR_USER"


def test_thread_without_order_entity() -> None:
    raw = load("M10-thread-with-messages.json")
    raw["entities"] = [{"id": "OF-1", "type": "MMP_OFFER"}]

    assert Thread.model_validate(raw).order_id is None


def test_malformed_thread_goes_to_invalid() -> None:
    good = load("M10-thread-with-messages.json")
    bad = copy.deepcopy(good)
    bad["id"] = "broken-thread"
    bad["date_updated"] = "yesterday"
    payload = {"data": [bad, good], "next_page_token": "tok-2", "previous_page_token": ""}

    page = ThreadPage.from_payload(payload)

    assert [thread.id for thread in page.data] == [good["id"]]
    assert [record.id for record in page.invalid] == ["broken-thread"]
    assert "date_updated" in page.invalid[0].error
    assert page.next_page_token == "tok-2"
    assert page.previous_page_token is None


def test_an_unreadable_message_costs_only_that_message() -> None:
    good = load("M10-thread-with-messages.json")
    thread = copy.deepcopy(good)
    thread["messages"][0]["date_created"] = "yesterday"
    thread["messages"][2]["from"] = None

    page = ThreadPage.from_payload({"data": [thread]})

    assert not page.invalid
    (read,) = page.data
    assert [m.id for m in read.messages] == [good["messages"][1]["id"]]
    assert [(r.id, r.error) for r in read.invalid_messages] == [
        (good["messages"][0]["id"], "date_created: Input should be a valid datetime or date, "
         "input is too short"),
        (good["messages"][2]["id"], "from: Input should be a valid dictionary or instance of "
         "Sender"),
    ]  # fmt: skip
    assert "invalid_messages" not in read.model_dump()
    # A readable thread has none set aside.
    assert Thread.model_validate(good).invalid_messages == []


def test_thread_page_top_level_shape_error() -> None:
    with pytest.raises(MiraklPayloadError) as info:
        ThreadPage.from_payload({"threads": []})
    assert info.value.call == "M11"


@pytest.mark.parametrize(
    ("sender", "party"),
    [
        ({"type": "CUSTOMER_USER"}, "CUSTOMER"),
        ({"type": "SHOP_USER"}, "SHOP"),
        ({"type": "OPERATOR_USER"}, "OPERATOR"),
        ({"type": "OPERATOR"}, "OPERATOR"),
        ({"type": "SHOP_USER", "organization_details": {"type": "SHOP", "id": 4552}}, "SHOP"),
        ({"type": "WHATEVER_USER", "organization_details": {"type": "customer"}}, "CUSTOMER"),
        ({"type": "SYSTEM_BOT"}, "SYSTEM_BOT"),
        ({"type": "SYSTEM_BOT", "organization_details": {"type": None}}, "SYSTEM_BOT"),
    ],
)
def test_sender_party(sender: dict[str, Any], party: str) -> None:
    assert Sender.model_validate(sender).party == party


# --------------------------------------------------------------------------- writes


def test_m12_message_input_round_trip() -> None:
    raw = load("M12-message_input-customer-and-operator.json")

    message_input = MessageInput.model_validate(raw)

    assert message_input.to == [
        Recipient(type="CUSTOMER", id="MYA0169b23"),
        Recipient(type="OPERATOR"),
    ]
    assert message_input.to_payload() == raw  # OPERATOR has no "id": null


def test_or43_thread_input_round_trip() -> None:
    raw = load("OR43-thread_input.json")

    assert ThreadInput.model_validate(raw).to_payload() == raw


def test_or28_request_round_trip_is_exact() -> None:
    raw = load("OR28-request-partial-refund.json")

    request = RefundRequest.model_validate(raw)
    encoded = encode_json(request.to_payload())

    assert decode_json(encoded) == raw
    assert '"amount":10.0,' in encoded
    assert '{"code":"TVA20","amount":2.0}' in encoded


def test_refund_line_payload_digits_and_omissions() -> None:
    line = RefundLineRequest(
        order_line_id=96,
        amount=Decimal("0.1") + Decimal("0.2"),
        shipping_amount=Decimal("10.50"),
        reason_code="18",
    )

    payload = line.to_payload()

    assert payload == {
        "order_line_id": "96",
        "amount": Decimal("0.3"),
        "shipping_amount": Decimal("10.50"),
        "reason_code": "18",
    }
    assert encode_json(payload) == (
        '{"order_line_id":"96","amount":0.3,"shipping_amount":10.50,"reason_code":"18"}'
    )


@pytest.mark.parametrize("amount", [Decimal("-1"), Decimal("NaN"), Decimal("Infinity"), "abc"])
def test_refund_line_rejects_bad_amounts(amount: Any) -> None:
    with pytest.raises(ValidationError):
        RefundLineRequest(order_line_id="96", amount=amount, reason_code="18")


def test_encode_json_refuses_non_finite_decimals() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        encode_json({"amount": Decimal("NaN")})


def test_or28_response() -> None:
    result = RefundResult.model_validate(load("OR28-response.json"))

    assert result.order_tax_mode == "TAX_EXCLUDED"
    (created,) = result.refunds
    assert (created.refund_id, created.order_line_id) == ("1123", "96")
    assert created.amount == Decimal("10.0")
    assert created.taxes[1].amount == Decimal("2.0")


def test_or28_response_with_numeric_ids_and_unknown_fields() -> None:
    result = RefundResult.model_validate(
        {
            "refunds": [
                {"refund_id": 1123, "order_line_id": 96, "amount_breakdown": {"x": 1}},
            ]
        }
    )

    assert result.refunds[0].refund_id == "1123"
    assert result.refunds[0].amount is None


def test_or64_request_omits_missing_reason() -> None:
    assert ResolveIncidentInput(reason_code=None).to_payload() == {}
    assert ResolveIncidentInput.model_validate(load("OR64-request.json")).to_payload() == {
        "reason_code": "REPLACE_WITH_RE01_CODE"
    }


def test_reason_tolerates_numeric_code_and_unknown_type() -> None:
    reason = Reason.model_validate(
        {"code": 19, "label": "Agreement found", "type": "NEW_REASON_TYPE", "extra": True}
    )

    assert (reason.code, reason.type, reason.is_shop_right) == ("19", "NEW_REASON_TYPE", None)


def test_non_utc_offset_is_converted() -> None:
    madrid_summer = timezone(timedelta(hours=2))
    message = Message.model_validate(
        {
            "id": 7,
            "date_created": datetime(2024, 5, 17, 13, 0, tzinfo=madrid_summer),
            "from": {"type": "SHOP_USER"},
        }
    )

    assert message.id == "7"
    assert message.date_created == datetime(2024, 5, 17, 11, 0, tzinfo=UTC)
    assert message.date_created.tzinfo == UTC


def _models(base: type) -> list[type]:
    found = []
    for sub in base.__subclasses__():
        found += [sub, *_models(sub)]
    return found


def test_null_means_the_default_on_every_field_whose_default_is_not_none() -> None:
    """The null-to-default validator is put only on those fields: none is left out."""
    from mirakl.schemas.base import MiraklModel

    for model in _models(MiraklModel):
        covered = {
            name
            for decorator in model.__pydantic_decorators__.field_validators.values()
            if decorator.cls_var_name.startswith("_null_means_default")
            for name in decorator.info.fields
        }
        for name, field in model.model_fields.items():
            if field.is_required():
                continue
            if field.default_factory is not None or field.default is not None:
                assert name in covered, f"{model.__name__}.{name}"
