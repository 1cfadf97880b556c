"""Parsing of A01 (shop account), A21 (statistics), DO01, OR72 and OR74 payloads.

The fixtures are the OpenAPI's own examples (A01, OR72) and a schema-built A21; the
tolerance tests change them the way Mirakl might: new fields, missing fields, odd values.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from mirakl.client import decode_json
from mirakl.constants import STATISTIC_KPIS, ShopState, StatisticPeriod
from mirakl.errors import MiraklPayloadError
from mirakl.schemas import (
    DocumentType,
    DocumentUpload,
    DocumentUploadResult,
    OrderDocumentList,
    ShopAccount,
    ShopStatistics,
    UploadReturnEntity,
)

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "mirakl"


def load(name: str) -> Any:
    return decode_json((FIXTURES_DIR / name).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- A01


def test_a01_fixture() -> None:
    account = ShopAccount.model_validate(load("A01-account.json"))

    assert account.shop_id == "2000"
    assert account.shop_name == "ACME SHOP"
    assert account.shop_state == ShopState.OPEN and account.is_open
    assert account.suspension_type is None
    assert account.closed_from == datetime(2019, 7, 31, 22, 0, tzinfo=UTC)
    assert account.closed_to == datetime(2019, 8, 31, 21, 59, 59, tzinfo=UTC)
    assert account.currency_iso_code == "USD"
    assert account.channels == ["US"]
    assert account.grade == Decimal(4)
    assert account.evaluations_count == 3
    assert account.approval_delay_duration == timedelta(seconds=33)
    assert account.order_messages_response_duration == timedelta(seconds=76)
    assert account.approval_rate == Decimal(1)
    assert (account.orders_count, account.offers_count) == (7, 234)
    assert account.kyc is not None and account.kyc.status == "REFUSED"
    assert account.shipping is not None and account.shipping.lead_time_to_ship == 2
    assert account.domains == ["PRODUCT"]
    details = account.payment_details
    assert details is not None
    # Balances can be negative; exact decimals.
    assert account.payable_balance == Decimal("-259.2")
    assert str(details.paid_balance) == "-170.06"
    assert details.pending_balance == Decimal("512.84")
    assert details.sub_balances[0].pay_out_psp_code == "NOT_SPECIFIED"
    assert details.sub_balances[0].payable == Decimal("-259.2")


def test_a01_closing_window() -> None:
    account = ShopAccount.model_validate(load("A01-account.json"))

    assert account.shop_state == "OPEN"
    assert account.is_closed_at(datetime(2019, 8, 15, 12, tzinfo=UTC))
    assert not account.is_closed_at(datetime(2019, 7, 31, 21, 59, tzinfo=UTC))
    assert not account.is_closed_at(datetime(2019, 8, 31, 21, 59, 59, tzinfo=UTC))
    closed = account.model_copy(update={"shop_state": "CLOSE", "closed_from": None})
    assert closed.is_closed_at(datetime(2030, 1, 1, tzinfo=UTC))
    open_ended = account.model_copy(update={"closed_to": None})
    assert open_ended.is_closed_at(datetime(2030, 1, 1, tzinfo=UTC))


def test_a01_unknown_fields_and_states_are_kept_or_ignored() -> None:
    raw = load("A01-account.json")
    raw["shop_state"] = "UNDER_REVIEW"
    raw["suspension_type"] = "fraud_check"
    raw["brand_new"] = {"x": 1}
    raw["payment_details"]["new_balance"] = 1

    account = ShopAccount.model_validate(raw)

    assert account.shop_state == "UNDER_REVIEW"
    assert account.suspension_type == "FRAUD_CHECK"
    assert not (account.is_open or account.is_suspended or account.is_terminated)


def test_a01_only_the_shop_id_is_required() -> None:
    account = ShopAccount.model_validate({"shop_id": 2087})

    assert account.shop_id == "2087"
    assert account.shop_state is None
    assert account.payable_balance is None
    assert account.channels == [] and account.domains == []
    assert not account.is_closed_at(datetime(2024, 1, 1, tzinfo=UTC))
    with pytest.raises(ValidationError):
        ShopAccount.model_validate({"status": 500, "message": "oops"})


def test_a01_odd_values_become_none_instead_of_failing() -> None:
    raw = load("A01-account.json")
    raw.update(
        {
            "grade": "n/a",
            "approval_delay": "33.5",
            "order_messages_response_delay": 75.6,
            "orders_count": True,
            "closed_from": "next monday",
            "closed_to": "",
            "premium": "maybe",
            "channels": [{"code": "ES", "label": "España"}, None, 7, ""],
            "domains": None,
            "shop_state": " suspended ",
            "currency_iso_code": "eur",
        }
    )
    raw["payment_details"]["payable_balance"] = "1234.56"
    raw["payment_details"]["pending_balance"] = {"amount": 1}
    raw["payment_details"]["sub_balances"] = None

    account = ShopAccount.model_validate(raw)

    assert account.grade is None
    assert account.approval_delay == 34  # an average: rounded half up
    assert account.order_messages_response_delay == 76
    assert account.orders_count is None
    assert account.closed_from is None and account.closed_to is None
    assert account.premium is None
    assert account.channels == ["ES", "7"]
    assert account.domains == []
    assert account.shop_state == "SUSPENDED" and account.is_suspended
    assert account.currency_iso_code == "EUR"
    assert account.payable_balance == Decimal("1234.56")
    assert account.payment_details is not None
    assert account.payment_details.pending_balance is None
    assert account.payment_details.sub_balances == []


def test_a01_deprecated_required_fields_are_not_required() -> None:
    raw = load("A01-account.json")
    for name in ("pro_details", "contact_informations", "shipping", "payment_details"):
        raw.pop(name)
    account = ShopAccount.model_validate(raw)
    assert account.shipping is None and account.payable_balance is None


# --------------------------------------------------------------------------- A21


def test_a21_fixture() -> None:
    stats = ShopStatistics.model_validate(load("A21-statistics.json"))

    assert stats.shop_id == "2000"
    assert stats.channel is None
    assert stats.last_updated_date == datetime(2026, 8, 21, 3, 12, 45, tzinfo=UTC)
    assert set(stats.kpis()) == STATISTIC_KPIS - {"valid_tracking_rate"}
    assert stats.valid_tracking_rate == []  # the fixture's "valid_tracking_rate": null
    assert stats.other_kpis == {}
    assert stats.rate_scale == "fraction"
    assert stats.rate("incident_rate") == Decimal("0.5")
    assert stats.rate("incident_rate", StatisticPeriod.ALL_SINCE_BEGINNING) == Decimal("0.2857")
    assert stats.value("orders_count", "LAST_YEAR") == Decimal(7)
    assert stats.duration("order_messages_response_delay") == timedelta(seconds=118)
    assert stats.duration("shipping_delay", "ALL_SINCE_BEGINNING") == timedelta(hours=26)
    assert stats.value("valid_tracking_rate") is None
    assert stats.rate("valid_tracking_rate") is None
    assert [entry.period for entry in stats.grade] == [period.value for period in StatisticPeriod]


def test_a21_rates_written_as_percentages_are_read_as_fractions() -> None:
    raw = load("A21-statistics.json")
    for name in ("incident_rate", "approval_rate", "refund_rate"):
        for entry in raw[name]:
            entry["value"] = entry["value"] * 100

    stats = ShopStatistics.model_validate(raw)

    assert stats.rate_scale == "percent"
    assert stats.rate("incident_rate") == Decimal("0.5")
    assert stats.rate("approval_rate") == Decimal(1)  # 100 % next to percentages
    assert stats.value("incident_rate") == Decimal("50.0")


def test_a21_channel_answer_without_overall_only_kpis() -> None:
    raw = load("A21-statistics.json")
    raw["channel"] = "ES"
    del raw["offers_count"], raw["consecutive_refused_orders_count"]

    stats = ShopStatistics.model_validate(raw)

    assert stats.channel == "ES"
    assert stats.offers_count == [] and stats.value("offers_count") is None


def test_a21_tolerates_odd_shapes() -> None:
    raw = {
        "shop_id": "2000",
        "channel": "",
        "last_updated_date": "yesterday",
        "incident_rate": [
            {"period": "LAST_MONTH", "value": "0.081"},
            {"period": "LAST_MONTH", "value": 0.5},  # a repeat: the first one wins
            {"value": 0.2},  # no period
            "garbage",
            {"period": "LAST_WEEK", "value": 0.07},  # a period Mirakl may add
            {"period": "LAST_YEAR", "value": None},
            {"period": "ALL_SINCE_BEGINNING", "value": "n/a"},
        ],
        "grade": 4.2,  # a scalar instead of an array
        "approval_delay": None,
        "orders_count": [{"period": "LAST_MONTH"}],
        "brand_new_kpi": [{"period": "LAST_MONTH", "value": 3}],
        "brand_new_flag": True,
        "valid_tracking_rate": [{"period": "LAST_MONTH", "value": None}],
    }

    stats = ShopStatistics.model_validate(raw)

    assert stats.channel is None
    assert stats.last_updated_date is None
    assert stats.rate("incident_rate") == Decimal("0.081")
    assert stats.value("incident_rate", "LAST_WEEK") == Decimal("0.07")
    assert stats.value("incident_rate", "LAST_YEAR") is None
    assert stats.value("incident_rate", "ALL_SINCE_BEGINNING") is None
    assert len(stats.incident_rate) == 5
    assert stats.grade == [] and stats.approval_delay == []
    assert stats.value("orders_count") is None
    assert stats.other_kpis["brand_new_kpi"][0].value == Decimal(3)
    assert stats.value("brand_new_kpi") == Decimal(3)
    assert "brand_new_flag" not in stats.other_kpis
    assert stats.rate("valid_tracking_rate") is None
    assert set(stats.kpis()) == {"incident_rate", "orders_count", "brand_new_kpi",
                                 "valid_tracking_rate"}  # fmt: skip
    assert ShopStatistics.model_validate({}).kpis() == {}


# --------------------------------------------------------------------------- DO01 / OR72


def test_document_type_tolerance() -> None:
    doc_type = DocumentType.model_validate(
        {
            "code": "CUSTOMER_INVOICE",
            "label": "Factura",
            "description": "Factura del pedido",
            "entity": "ORDER",
            "mime_types": ["application/pdf", None, "image/png"],
            "new": 1,
        }
    )
    assert doc_type.mime_types == ["application/pdf", "image/png"]
    minimal = DocumentType.model_validate({"code": 17})
    assert minimal.code == "17" and minimal.label is None and minimal.mime_types == []


def test_or72_fixture() -> None:
    documents = OrderDocumentList.from_payload(load("OR72-documents.json"))

    assert documents.invalid == []
    slip, invoice = documents.documents
    assert (slip.id, slip.order_id, slip.type) == (
        "2024",
        "Classic_Order_0006-A",
        "SYSTEM_DELIVERY_BILL",
    )
    assert slip.file_name == "delivery-Classic_Order_0006-A.pdf"
    assert slip.file_size == 64890
    assert slip.date_uploaded == datetime(2019, 3, 29, 13, 17, 2, tzinfo=UTC)
    assert invoice.type == "CUSTOMER_INVOICE" and invoice.file_name == "CA01.csv"
    assert documents.for_order("Classic_Order_0006-A") == [slip, invoice]
    assert documents.of_type("CUSTOMER_INVOICE") == [invoice]
    assert documents.for_order("other") == []


def test_or72_broken_document_is_skipped_and_named() -> None:
    raw = load("OR72-documents.json")
    raw["total_count"] = 3
    raw["order_documents"].append({"id": 2026, "type": "CUSTOMER_INVOICE"})  # no order_id
    raw["order_documents"].append("garbage")
    raw["order_documents"][0]["uploader"] = "OPERATOR"
    raw["order_documents"][1]["file_size"] = "big"
    del raw["order_documents"][1]["date_uploaded"]

    documents = OrderDocumentList.from_payload(raw)

    assert [document.id for document in documents.documents] == ["2024", "2025"]
    assert documents.documents[1].file_size is None
    assert documents.documents[1].date_uploaded is None
    assert [record.id for record in documents.invalid] == ["2026", None]


@pytest.mark.parametrize("payload", [{}, {"order_documents": None}, [], "x"])
def test_or72_without_the_list_is_a_payload_error(payload: Any) -> None:
    with pytest.raises(MiraklPayloadError):
        OrderDocumentList.from_payload(payload)


# --------------------------------------------------------------------------- OR74


def test_or74_entry_of_an_upload() -> None:
    upload = DocumentUpload(file_name="factura.pdf", type_code="CUSTOMER_INVOICE", content=b"%PDF")
    assert upload.to_entry() == {"file_name": "factura.pdf", "type_code": "CUSTOMER_INVOICE"}
    label = DocumentUpload(
        file_name="etiqueta.pdf",
        type_code="SYSTEM_RETURN_LABEL",
        content=b"%PDF",
        entity=UploadReturnEntity(id=77),
    )
    assert label.to_entry()["entity"] == {"id": "77", "type": "RETURN"}


def test_or74_answer_with_the_documented_error() -> None:
    # The OpenAPI's business example: one document in error; ``input`` also echoes entity.
    result = DocumentUploadResult.model_validate(
        {
            "errors_count": 1,
            "order_documents": [
                {
                    "errors": [
                        {
                            "code": "valid_order_document.type",
                            "field": "type_code",
                            "message": "Unable to retrieve document's type from the given code",
                        }
                    ],
                    "input": {
                        "entity": {"id": "1234", "type": "RETURN"},
                        "file_name": "invoice.pdf",
                        "type_code": "INVOICE",
                    },
                }
            ],
        }
    )

    assert not result.ok
    (rejected,) = result.rejected
    assert rejected.file_name == "invoice.pdf"
    assert rejected.message == "type_code: Unable to retrieve document's type from the given code"
    assert result.rejected_file_names() == {"invoice.pdf"}
    assert result.accepted_file_names(["invoice.pdf", "albaran.pdf"]) == ["albaran.pdf"]


def test_or74_answer_without_errors_and_odd_answers() -> None:
    assert DocumentUploadResult.model_validate({"errors_count": 0, "order_documents": []}).ok
    assert DocumentUploadResult.model_validate({"order_documents": None}).ok
    # A count of errors Mirakl does not name: nothing can be called accepted.
    unnamed = DocumentUploadResult.model_validate({"errors_count": 2, "order_documents": []})
    assert not unnamed.ok
    assert unnamed.accepted_file_names(["a.pdf", "b.pdf"]) == []
    no_input = DocumentUploadResult.model_validate(
        {"order_documents": [{"errors": [{"message": "refused"}]}]}
    )
    assert not no_input.ok and no_input.rejected[0].file_name is None
    assert no_input.rejected[0].message == "refused"
    assert DocumentUploadResult.model_validate({"order_documents": [{}]}).rejected[0].message == (
        "refused"
    )


def test_fixture_is_not_changed_by_parsing() -> None:
    raw = load("A21-statistics.json")
    before = copy.deepcopy(raw)
    ShopStatistics.model_validate(raw)
    assert raw == before
