"""The sandbox's shop account (A01), statistics (A21) and order documents (DO01, OR72-OR76),
read and written with MiraklClient, and the controls that change them (control API and
``manage.py mirakl_sandbox_act``)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from django.core.management import call_command
from django.core.management.base import CommandError

from mirakl.client import MiraklClient
from mirakl.constants import STATISTIC_KPIS
from mirakl.errors import MiraklBadRequest, MiraklNotFound, MiraklTransientError
from mirakl.sandbox import SandboxServer
from mirakl.sandbox.account import SEEDED_STATISTICS
from mirakl.sandbox.actions import build_action, statistic_value
from mirakl.sandbox.models import Order
from mirakl.sandbox.samples import SAMPLE_PDF, SAMPLE_PNG
from mirakl.schemas import DocumentUpload
from tests.sandbox.conftest import KEY, NOW, make_server

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mirakl"
RETURN_9 = {"id": "9", "type": "RETURN"}


def client_of(server: SandboxServer) -> MiraklClient:
    return MiraklClient(
        base_url=server.base_url, api_key=KEY, timeout=(2.0, 5.0), sleep=lambda _: None
    )


@pytest.fixture
def client(server: SandboxServer) -> Iterator[MiraklClient]:
    with client_of(server) as mirakl:
        yield mirakl


def control(http: requests.Session, server: SandboxServer, path: str, payload: Any = None):
    url = f"{server.base_url}/_sandbox/{path}"
    if payload is None:
        return http.get(url, timeout=5)
    return http.post(url, json=payload, timeout=5)


def api(http: requests.Session, server: SandboxServer, path: str, **params: Any):
    return http.get(f"{server.base_url}{path}", params=params, timeout=5)


def order_where(server: SandboxServer, *, invoiced: bool, state: str = "RECEIVED") -> Order:
    return next(
        o for o in server.state.orders.values()
        if o.state == state and o.has_invoice == invoiced
    )  # fmt: skip


def order_json(http: requests.Session, server: SandboxServer, order_id: str) -> dict[str, Any]:
    body = api(http, server, "/api/orders", order_ids=order_id).json()
    return body["orders"][0]


# --------------------------------------------------------------------------- A01


def test_a01_serves_a_spanish_open_shop(reader: SandboxServer, http: requests.Session) -> None:
    raw = api(http, reader, "/api/account").json()
    fixture = json.loads((FIXTURES / "A01-account.json").read_text(encoding="utf-8"))

    # Every key of the OpenAPI example, except media, KYC and closing dates this shop lacks.
    assert set(fixture) - set(raw) == {"banner", "logo", "kyc", "closed_from", "closed_to"}
    assert set(fixture["payment_details"]) <= set(raw["payment_details"])
    assert set(fixture["payment_details"]["sub_balances"][0]) <= set(
        raw["payment_details"]["sub_balances"][0]
    )
    assert raw["shop_id"] == 2087 and raw["shop_name"] == "Silicio Sur"
    assert raw["shop_state"] == "OPEN" and raw["suspension_type"] is None
    assert raw["currency_iso_code"] == "EUR" and raw["channels"] == ["ES"]
    assert raw["payment_details"]["payable_balance"] == 5000.0

    with client_of(reader) as mirakl:
        account = mirakl.get_account()
        stats = mirakl.get_statistics()
    assert account.is_open and account.payable_balance == Decimal("5000")
    assert account.date_created is not None and account.date_created < NOW
    assert account.last_updated_date is not None and account.last_updated_date < NOW
    # A01's KPIs are A21's all-time figures.
    for kpi in ("grade", "approval_rate", "evaluations_count", "orders_count", "offers_count",
                "approval_delay", "order_messages_response_delay"):  # fmt: skip
        assert getattr(account, kpi) == stats.value(kpi, "ALL_SINCE_BEGINNING"), kpi


def test_a01_is_deterministic(http: requests.Session) -> None:
    with make_server(warm=False) as one, make_server(warm=False) as two:
        assert api(http, one, "/api/account").content == api(http, two, "/api/account").content
        assert (
            api(http, one, "/api/account/statistics").content
            == api(http, two, "/api/account/statistics").content
        )


# --------------------------------------------------------------------------- A21


def test_a21_serves_every_kpi_near_pccomponentes_thresholds(reader: SandboxServer) -> None:
    with client_of(reader) as mirakl:
        stats = mirakl.get_statistics()

    assert stats.channel is None and stats.shop_id == "2087"
    assert set(stats.kpis()) == STATISTIC_KPIS and stats.other_kpis == {}
    assert all(len(series) == 5 for series in stats.kpis().values())
    assert stats.last_updated_date == datetime(2024, 5, 17, 3, 12, tzinfo=UTC)
    assert stats.rate_scale == "fraction"
    # Below each alert, worse than the longer periods: a projection crosses soon.
    incident = stats.rate("incident_rate")
    assert incident is not None and Decimal("0.07") < incident < Decimal("0.08")
    assert incident > (stats.rate("incident_rate", "LAST_THREE_MONTHS") or 1)
    reply = stats.duration("order_messages_response_delay")
    assert reply is not None and timedelta(hours=18) <= reply < timedelta(hours=20)
    approval = stats.rate("approval_rate")
    assert approval is not None and Decimal("0.97") < approval < Decimal("0.98")
    late = stats.rate("late_shipment_rate")
    assert late is not None and late < Decimal("0.08")
    tracking = stats.rate("valid_tracking_rate")
    assert tracking is not None and Decimal("0.91") < tracking < Decimal("0.95")
    grade = stats.value("grade", "LAST_THREE_MONTHS")
    assert grade is not None and Decimal("3.5") < grade < Decimal("4.5")


def test_a21_periods_and_channel_filters(reader: SandboxServer, http: requests.Session) -> None:
    with client_of(reader) as mirakl:
        spain = mirakl.get_statistics(channel_code="ES", periods=["LAST_MONTH", "LAST_YEAR"])
        with pytest.raises(MiraklBadRequest, match="channel_code"):
            mirakl.get_statistics(channel_code="PT")
        with pytest.raises(MiraklBadRequest, match="periods"):
            mirakl.get_statistics(periods=["LAST_WEEK"])

    assert spain.channel == "ES"
    # "Only present when the channelCode filter is not present."
    assert spain.offers_count == [] and spain.consecutive_refused_orders_count == []
    assert [entry.period for entry in spain.incident_rate] == ["LAST_MONTH", "LAST_YEAR"]
    raw = api(http, reader, "/api/account/statistics", channel_code="ES").json()
    assert "offers_count" not in raw and raw["channel"] == "ES"
    assert isinstance(raw["approval_delay"][0]["value"], int)


def test_a21_per_channel_on_a_shop_with_two_channels(http: requests.Session) -> None:
    with make_server(channels=("ES", "PT"), warm=False) as server, client_of(server) as mirakl:
        assert mirakl.get_account().channels == ["ES", "PT"]
        overall = mirakl.get_statistics()
        spain = mirakl.get_statistics(channel_code="ES")
        portugal = mirakl.get_statistics(channel_code="PT")

    assert spain.value("incident_rate") == overall.value("incident_rate")
    assert portugal.value("orders_count") is not None
    assert portugal.value("orders_count") < (overall.value("orders_count") or 0)  # type: ignore[operator]
    assert portugal.value("incident_rate") != overall.value("incident_rate")
    # A smaller channel's rates stay plausible: none leaves the 0-1 range or collapses.
    assert portugal.value("approval_rate") == overall.value("approval_rate")
    for kpi in ("incident_rate", "late_shipment_rate", "cancelation_rate"):
        low, high = portugal.rate(kpi), overall.rate(kpi)
        assert low is not None and high is not None and 0 < low < high, kpi


# --------------------------------------------------------------------------- account controls


def test_control_suspends_closes_and_reopens_the_shop(
    server: SandboxServer, http: requests.Session, client: MiraklClient
) -> None:
    before = client.get_account()
    server.state.clock.advance(60)

    suspended = control(http, server, "account", {"shop_state": "suspended"})

    assert suspended.status_code == 200
    assert suspended.json()["shop_state"] == "SUSPENDED"
    account = client.get_account()
    assert account.is_suspended and account.suspension_type == "AUTOMATIC_SUSPENSION"
    assert account.last_updated_date == NOW + timedelta(seconds=60)
    assert account.last_updated_date != before.last_updated_date

    manual = control(http, server, "account", {"suspension_type": "MANUAL"})
    assert manual.json()["suspension_type"] == "MANUAL"

    closing = {
        "shop_state": "CLOSE",
        "closed_from": "2024-05-17T00:00:00Z",
        "closed_to": "2024-05-31T22:00:00+02:00",
    }
    assert control(http, server, "account", closing).status_code == 200
    account = client.get_account()
    assert account.shop_state == "CLOSE" and account.suspension_type is None
    assert account.closed_to == datetime(2024, 5, 31, 20, tzinfo=UTC)
    assert account.is_closed_at(NOW)

    reopened = control(
        http, server, "account", {"shop_state": "OPEN", "closed_from": None, "closed_to": None}
    )
    assert reopened.json()["closed_from"] is None
    raw = api(http, server, "/api/account").json()
    assert raw["shop_state"] == "OPEN" and "closed_from" not in raw
    assert control(http, server, "account").json()["shop_state"] == "OPEN"
    assert control(http, server, "state").json()["shop_state"] == "OPEN"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"shop_state": "CLOSED"}, "OPEN, CLOSE, SUSPENDED, TERMINATED"),
        ({"suspension_type": "MANUAL"}, "SUSPENDED"),
        ({"shop_state": "SUSPENDED", "suspension_type": "HOLIDAYS"}, "suspension_type"),
        ({"closed_from": "mañana"}, "closed_from"),
        ({"closed_from": "2024-06-02T00:00:00Z", "closed_to": "2024-06-01T00:00:00Z"}, "after"),
        ({"payable_balance": "12.345"}, "2 decimals"),
        ({"payable_balance": True}, "amount"),
        ({"shop": "OPEN"}, "Unknown field"),
        ({}, "Nothing to change"),
    ],
)
def test_account_control_refuses_bad_input(
    server: SandboxServer, http: requests.Session, payload: dict[str, Any], message: str
) -> None:
    before = server.state.account.summary()
    response = control(http, server, "account", payload)
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert server.state.account.summary() == before


def test_balance_control_and_or28_refusal_use_the_a01_balance(
    server: SandboxServer, http: requests.Session, client: MiraklClient
) -> None:
    changed = control(
        http, server, "account",
        {"payable_balance": "3.50", "pending_balance": -12.4, "paid_balance": "0"},
    )  # fmt: skip
    assert changed.status_code == 200 and changed.json()["payable_balance"] == "3.50"
    account = client.get_account()
    assert account.payable_balance == Decimal("3.5")
    assert account.payment_details is not None
    assert account.payment_details.pending_balance == Decimal("-12.4")
    updated = account.last_updated_date

    order, line = next(
        (o, ln) for o in server.state.orders.values() for ln in o.lines
        if ln.state == "RECEIVED" and not ln.refunds and ln.price > 10
    )  # fmt: skip
    refund = {"order_line_id": line.line_id, "amount": 5.0, "shipping_amount": 0,
              "reason_code": "19"}  # fmt: skip
    refused = http.put(
        f"{server.base_url}/api/orders/refund", json={"refunds": [refund]}, timeout=5
    )
    assert refused.status_code == 400
    assert refused.json() == {
        "status": 400,
        "message": "The shop does not have a sufficient payable balance for the refund",
    }
    assert not line.refunds

    control(http, server, "account", {"payable_balance": 105})
    accepted = http.put(
        f"{server.base_url}/api/orders/refund", json={"refunds": [refund]}, timeout=5
    )
    assert accepted.status_code == 200
    after = client.get_account()
    assert after.payable_balance == Decimal("100")
    assert after.last_updated_date == updated  # balances do not move it
    assert server.state.payable_balance == Decimal("100.00")


# --------------------------------------------------------------------------- statistics controls


def test_statistics_control(
    server: SandboxServer, http: requests.Session, client: MiraklClient
) -> None:
    account_date = client.get_account().last_updated_date
    server.state.clock.advance(3600)

    response = control(
        http, server, "statistics",
        {"values": {
            "incident_rate": {"LAST_MONTH": 0.085},
            "order_messages_response_delay": {"LAST_MONTH": 22 * 3600, "LAST_YEAR": None},
            "approval_rate": 0.96,
            "valid_tracking_rate": None,
        }},
    )  # fmt: skip

    assert response.status_code == 200, response.text
    assert response.json()["values"]["incident_rate"]["LAST_MONTH"] == "0.085"
    stats = client.get_statistics()
    assert stats.rate("incident_rate") == Decimal("0.085")
    assert stats.rate("incident_rate", "LAST_YEAR") == SEEDED_STATISTICS["incident_rate"][4]
    assert stats.duration("order_messages_response_delay") == timedelta(hours=22)
    assert stats.value("order_messages_response_delay", "LAST_YEAR") is None
    assert all(entry.value == Decimal("0.96") for entry in stats.approval_rate)
    assert stats.valid_tracking_rate == []
    assert api(http, server, "/api/account/statistics").json()["valid_tracking_rate"] is None
    assert stats.last_updated_date == NOW + timedelta(hours=1)  # recalculated now
    account = client.get_account()
    assert account.approval_rate == Decimal("0.96")  # A01 follows the all-time figure
    assert account.last_updated_date == account_date  # ...without moving its date
    # The channel view follows the overall figures...
    assert client.get_statistics(channel_code="ES").rate("incident_rate") == Decimal("0.085")
    # ...unless a channel is set on its own.
    control(http, server, "statistics",
            {"channel": "ES", "values": {"incident_rate": {"LAST_MONTH": "0.091"}}})  # fmt: skip
    assert client.get_statistics(channel_code="ES").rate("incident_rate") == Decimal("0.091")
    assert client.get_statistics().rate("incident_rate") == Decimal("0.085")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"values": {"incident_rate": {"LAST_MONTH": 8.5}}}, "between 0 and 1"),
        ({"values": {"incident_ratio": 0.1}}, "Unknown KPI"),
        ({"values": {"incident_rate": {"LAST_WEEK": 0.1}}}, "Unknown period"),
        ({"values": {"orders_count": 10.5}}, "whole number"),
        ({"values": {"grade": 7}}, "between 0 and 5"),
        ({"values": {"grade": -1}}, "non-negative"),
        ({"values": {"grade": "good"}}, "must be a number"),
        ({"values": {"grade": True}}, "must be a number"),
        ({"values": {}}, "values"),
        ({"values": [1]}, "values"),
        ({"channel": "FR", "values": {"grade": 4}}, "Unknown channel"),
    ],
)
def test_statistics_control_refuses_bad_input(
    server: SandboxServer, http: requests.Session, payload: dict[str, Any], message: str
) -> None:
    before = api(http, server, "/api/account/statistics").content
    response = control(http, server, "statistics", payload)
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert api(http, server, "/api/account/statistics").content == before


# --------------------------------------------------------------------------- act command


def test_act_builds_account_and_statistics_requests() -> None:
    suspend = build_action("shop-state", {"state": "suspended", "suspension_type": "manual"})
    assert (suspend.method, suspend.path) == ("POST", "/_sandbox/account")
    assert suspend.payload == {"shop_state": "SUSPENDED", "suspension_type": "MANUAL"}
    close = build_action(
        "shop-state", {"state": "CLOSE", "closed_from": "2024-08-01T00:00:00Z", "closed_to": "none"}
    )
    assert close.payload == {
        "shop_state": "CLOSE",
        "closed_from": "2024-08-01T00:00:00Z",
        "closed_to": None,
    }
    balance = build_action("balance", {"payable": "120.50", "paid": None})
    assert balance.payload == {"payable_balance": "120.50"}
    with pytest.raises(ValueError, match="--payable"):
        build_action("balance", {})
    stats = build_action(
        "statistics",
        {"set": ["incident_rate=8.5%", "order_messages_response_delay=22h"], "period": None},
    )
    assert stats.path == "/_sandbox/statistics"
    assert stats.payload == {
        "values": {
            "incident_rate": {"LAST_MONTH": 0.085},
            "order_messages_response_delay": {"LAST_MONTH": 79200},
        }
    }
    every = build_action(
        "statistics",
        {"set": ["valid_tracking_rate=null"], "all_periods": True, "channel": "ES"},
    )
    assert every.payload == {"values": {"valid_tracking_rate": None}, "channel": "ES"}
    with pytest.raises(ValueError, match="KPI=VALUE"):
        build_action("statistics", {"set": ["incident_rate"]})
    with pytest.raises(ValueError, match="--set"):
        build_action("statistics", {})


@pytest.mark.parametrize(
    ("raw", "value"),
    [("0.085", 0.085), ("8.5%", 0.085), ("22h", 79200), ("90m", 5400), ("2d", 172800),
     ("3600s", 3600), ("4", 4), ("4.0", 4.0), ("null", None), ("None", None)],
)  # fmt: skip
def test_statistic_values_as_typed(raw: str, value: float | None) -> None:
    assert statistic_value(raw) == value


def test_statistic_value_refuses_text() -> None:
    with pytest.raises(ValueError, match="not a KPI value"):
        statistic_value("high")


def test_act_command_changes_a_running_sandbox(server: SandboxServer) -> None:
    out = io.StringIO()
    common = ["--url", server.base_url, "--api-key", KEY]

    call_command("mirakl_sandbox_act", *common, "shop-state", "suspended", stdout=out)
    call_command("mirakl_sandbox_act", *common, "balance", "--payable", "42.10", stdout=out)
    call_command(
        "mirakl_sandbox_act", *common, "statistics", "--set", "incident_rate=9.2%",
        "--set", "grade=3.4", "--period", "last_three_months", stdout=out,
    )  # fmt: skip

    account = server.state.account
    assert (account.state, account.suspension_type) == ("SUSPENDED", "AUTOMATIC_SUSPENSION")
    assert account.payable_balance == Decimal("42.10")
    assert account.overall["incident_rate"] is not None
    assert account.overall["incident_rate"]["LAST_THREE_MONTHS"] == Decimal("0.092")
    assert account.overall["grade"] is not None
    assert account.overall["grade"]["LAST_THREE_MONTHS"] == Decimal("3.4")
    assert '"shop_state": "SUSPENDED"' in out.getvalue()
    with pytest.raises(CommandError, match="400"):
        call_command(
            "mirakl_sandbox_act", *common, "statistics", "--set", "incident_rate=50", stdout=out
        )


# --------------------------------------------------------------------------- DO01


def test_do01_document_types(reader: SandboxServer, http: requests.Session) -> None:
    with client_of(reader) as mirakl:
        spanish = mirakl.list_document_types()
        orders = mirakl.list_document_types(entities=["ORDER"], locale="en_GB")
        shop = mirakl.list_document_types(entities=["SHOP"])

    codes = [t.code for t in spanish]
    assert codes[:2] == ["SYSTEM_DELIVERY_BILL", "CUSTOMER_INVOICE"]
    assert {"LEGAL_DOC", "ID_CARD", "SYSTEM_MESSAGE_ATTACHMENT"} <= set(codes)
    invoice = next(t for t in spanish if t.code == "CUSTOMER_INVOICE")
    assert invoice.label == "Factura" and invoice.entity == "ORDER"
    assert "application/pdf" in invoice.mime_types
    assert all(t.entity == "ORDER" for t in orders)
    assert next(t for t in orders if t.code == "CUSTOMER_INVOICE").label == "Invoice"
    assert [t.code for t in shop] == ["LEGAL_DOC", "ID_CARD"]
    assert api(http, reader, "/api/documents", entities="RETURN").status_code == 400


# --------------------------------------------------------------------------- OR72 / OR73


def test_or72_lists_seeded_documents(reader: SandboxServer, http: requests.Session) -> None:
    invoiced = order_where(reader, invoiced=True)
    plain = order_where(reader, invoiced=False)
    waiting = order_where(reader, invoiced=False, state="WAITING_ACCEPTANCE")

    with client_of(reader) as mirakl:
        listing = mirakl.list_order_documents(
            [invoiced.order_id, plain.order_id, waiting.order_id, "no-such-order"]
        )

    assert listing.invalid == []
    slip, invoice = listing.for_order(invoiced.order_id)
    assert (slip.type, slip.file_name) == (
        "SYSTEM_DELIVERY_BILL",
        f"albaran-{invoiced.order_id}.pdf",
    )
    assert invoice.type == "CUSTOMER_INVOICE"
    assert invoice.file_name == f"factura-{invoiced.commercial_id}.pdf"
    assert slip.id == f"{invoiced.commercial_id}1" and invoice.id == f"{invoiced.commercial_id}2"
    shipped = min(ln.shipped_ms for ln in invoiced.lines if ln.shipped_ms)
    assert slip.date_uploaded is not None
    assert slip.date_uploaded.timestamp() * 1000 == shipped + 7 * 60_000
    assert [d.type for d in listing.for_order(plain.order_id)] == ["SYSTEM_DELIVERY_BILL"]
    assert listing.for_order(waiting.order_id) == []
    raw = api(http, reader, "/api/orders/documents", order_ids=invoiced.order_id).json()
    assert set(raw) == {"order_documents", "total_count"} and raw["total_count"] == 2
    fixture = json.loads((FIXTURES / "OR72-documents.json").read_text(encoding="utf-8"))
    assert set(raw["order_documents"][0]) == set(fixture["order_documents"][0])
    assert isinstance(raw["order_documents"][0]["id"], int)
    assert raw["order_documents"][1]["file_size"] == len(slip_bytes(reader, http, invoice.id))


def slip_bytes(server: SandboxServer, http: requests.Session, document_id: str) -> bytes:
    response = api(http, server, "/api/orders/documents/download", document_ids=document_id)
    assert response.status_code == 200
    return response.content


def test_or72_parameter_errors(reader: SandboxServer, http: requests.Session) -> None:
    missing = api(http, reader, "/api/orders/documents")
    assert missing.status_code == 400 and "order_ids" in missing.json()["message"]
    too_many = api(http, reader, "/api/orders/documents",
                   order_ids=",".join(f"{n}-A" for n in range(101)))  # fmt: skip
    assert too_many.status_code == 400


def test_or73_one_document_bare_and_several_zipped(
    reader: SandboxServer, http: requests.Session
) -> None:
    invoiced = order_where(reader, invoiced=True)
    other = next(o for o in reader.state.orders.values()
                 if o.has_invoice and o.order_id != invoiced.order_id)  # fmt: skip

    single = api(http, reader, "/api/orders/documents/download",
                 document_ids=f"{invoiced.commercial_id}2")  # fmt: skip
    assert single.headers["Content-Type"] == "application/octet-stream"
    assert single.content.startswith(b"%PDF")
    assert (
        f'filename="factura-{invoiced.commercial_id}.pdf"' in single.headers["Content-Disposition"]
    )

    with client_of(reader) as mirakl:
        document = mirakl.download_order_document(f"{invoiced.commercial_id}2")
        both = mirakl.download_order_documents(
            document_ids=[f"{invoiced.commercial_id}2", f"{other.commercial_id}1"]
        )
        by_order = mirakl.download_order_documents(order_ids=[invoiced.order_id])
        invoices = mirakl.download_order_documents(
            order_ids=[invoiced.order_id, other.order_id], document_codes=["CUSTOMER_INVOICE"]
        )
        with pytest.raises(MiraklNotFound):
            mirakl.download_order_document(1)
        with pytest.raises(MiraklNotFound):
            mirakl.download_order_documents(
                order_ids=[invoiced.order_id], document_codes=["SYSTEM_RETURN_LABEL"]
            )

    assert document.content == single.content
    assert document.file_name == f"factura-{invoiced.commercial_id}.pdf"
    assert both.is_zip and both.filename is not None and both.filename.startswith("documents-")
    assert [(f.order_id, f.file_name) for f in both.files] == [
        (invoiced.order_id, f"factura-{invoiced.commercial_id}.pdf"),
        (other.order_id, f"albaran-{other.order_id}.pdf"),
    ]
    # Order ids always give a ZIP, even for one order.
    assert by_order.is_zip and len(by_order.files) == 2
    assert {f.order_id for f in invoices.files} == {invoiced.order_id, other.order_id}
    assert {f.file_name for f in invoices.files} == {
        f"factura-{invoiced.commercial_id}.pdf",
        f"factura-{other.commercial_id}.pdf",
    }
    assert api(http, reader, "/api/orders/documents/download").status_code == 400
    assert (
        api(http, reader, "/api/orders/documents/download", document_ids="abc").status_code == 400
    )


# --------------------------------------------------------------------------- OR74 / OR76


def test_or74_upload_an_invoice_then_list_download_and_delete_it(
    server: SandboxServer, http: requests.Session, client: MiraklClient
) -> None:
    order = order_where(server, invoiced=False)
    before = order_json(http, server, order.order_id)
    assert before["has_invoice"] is False
    server.state.clock.advance(30)

    result = client.upload_order_documents(
        order.order_id,
        [
            DocumentUpload(file_name="factura-0001.pdf", type_code="CUSTOMER_INVOICE",
                           content=SAMPLE_PDF, content_type="application/pdf"),
            DocumentUpload(file_name="foto-embalaje.png", type_code="CUSTOMER_INVOICE",
                           content=SAMPLE_PNG, content_type="image/png"),
        ],
    )  # fmt: skip

    assert result.ok and result.errors_count == 0
    after = order_json(http, server, order.order_id)
    assert after["has_invoice"] is True
    assert after["last_updated_date"] == "2024-05-17T12:00:30.000Z"
    listing = client.list_order_documents([order.order_id]).documents
    assert [d.type for d in listing] == [
        "SYSTEM_DELIVERY_BILL", "CUSTOMER_INVOICE", "CUSTOMER_INVOICE"
    ]  # fmt: skip
    uploaded = listing[1]
    assert uploaded.file_name == "factura-0001.pdf" and uploaded.file_size == len(SAMPLE_PDF)
    assert uploaded.date_uploaded == NOW + timedelta(seconds=30)
    assert int(uploaded.id) > 10**10
    assert client.download_order_document(uploaded.id).content == SAMPLE_PDF

    client.delete_order_document(uploaded.id)
    assert order_json(http, server, order.order_id)["has_invoice"] is True  # one left
    client.delete_order_document(listing[2].id)
    assert order_json(http, server, order.order_id)["has_invoice"] is False
    assert [d.type for d in client.list_order_documents([order.order_id]).documents] == [
        "SYSTEM_DELIVERY_BILL"
    ]
    with pytest.raises(MiraklNotFound):
        client.delete_order_document(uploaded.id)
    state = control(http, server, "state").json()
    assert (state["documents_uploaded"], state["documents_deleted"]) == (2, 2)
    assert server.stats["OR74"] == 1 and server.stats["OR76"] == 3


def test_or74_refuses_documents_one_by_one(
    server: SandboxServer, http: requests.Session, client: MiraklClient
) -> None:
    order = order_where(server, invoiced=False)

    def doc(name: str, code: str = "CUSTOMER_INVOICE") -> DocumentUpload:
        return DocumentUpload(file_name=name, type_code=code, content=SAMPLE_PDF)

    result = client.upload_order_documents(
        order.order_id,
        [doc("ok.pdf"), doc("nota.pdf", "NOTA_INTERNA"), doc("legal.pdf", "LEGAL_DOC"),
         doc("programa.exe"), doc("label.pdf", "SYSTEM_RETURN_LABEL")],
    )  # fmt: skip

    assert not result.ok and result.errors_count == 3
    # A SHOP document type (LEGAL_DOC) is not an order document type.
    assert result.rejected_file_names() == {"nota.pdf", "legal.pdf", "programa.exe"}
    messages = {r.file_name: r.message for r in result.rejected}
    assert messages["nota.pdf"] == (
        "type_code: Unable to retrieve document's type from the given code"
    )
    assert "File type not allowed" in messages["programa.exe"]
    assert result.accepted_file_names(
        ["ok.pdf", "nota.pdf", "legal.pdf", "programa.exe", "label.pdf"]
    ) == ["ok.pdf", "label.pdf"]
    names = [d.file_name for d in client.list_order_documents([order.order_id]).documents]
    assert names == [f"albaran-{order.order_id}.pdf", "ok.pdf", "label.pdf"]


def multipart(entries: Any, files: list[tuple[str, bytes]]) -> list[tuple[str, Any]]:
    parts: list[tuple[str, Any]] = [
        ("order_documents", (None, json.dumps(entries).encode(), "application/json"))
    ]
    parts += [("files", (name, data, "application/pdf")) for name, data in files]
    return parts


def post_documents(http: requests.Session, server: SandboxServer, order_id: str, parts: Any):
    return http.post(f"{server.base_url}/api/orders/{order_id}/documents", files=parts, timeout=5)


def test_or74_what_the_client_never_sends(server: SandboxServer, http: requests.Session) -> None:
    order = order_where(server, invoiced=False)

    def entry(name: str, code: str) -> dict[str, str]:
        return {"file_name": name, "type_code": code}

    refused = post_documents(
        http, server, order.order_id,
        multipart(
            {"order_documents": [
                entry("albaran.pdf", "SYSTEM_DELIVERY_BILL"),
                entry("adjunto.pdf", "SYSTEM_MESSAGE_ATTACHMENT"),
                entry("factura-año.pdf", "CUSTOMER_INVOICE"),
                entry("missing.pdf", "CUSTOMER_INVOICE"),
                {**entry("return.pdf", "SYSTEM_RETURN_LABEL"), "entity": RETURN_9},
            ]},
            [("albaran.pdf", b"%PDF"), ("adjunto.pdf", b"%PDF"), ("return.pdf", b"%PDF")],
        ),
    )  # fmt: skip

    assert refused.status_code == 200
    body = refused.json()
    assert body["errors_count"] == 5
    messages = [e["errors"][0]["message"] for e in body["order_documents"]]
    assert "restricted to operator role" in messages[0]
    assert "cannot be directly uploaded to an order" in messages[1]
    assert "US-ASCII" in messages[2]
    assert "missing.pdf" in messages[3]
    assert "Return '9' not found" in messages[4]
    assert body["order_documents"][0]["input"] == entry("albaran.pdf", "SYSTEM_DELIVERY_BILL")

    def status(response: requests.Response, code: int, text: str) -> None:
        assert response.status_code == code, response.text
        assert text in response.json()["message"]

    twice = {"order_documents": [entry("a.pdf", "CUSTOMER_INVOICE")] * 2}
    status(post_documents(http, server, order.order_id, multipart(twice, [("a.pdf", b"x")])),
           400, "Documents filenames must be distinct.")  # fmt: skip
    flat = [entry("a.pdf", "CUSTOMER_INVOICE")]  # without the nested key
    status(post_documents(http, server, order.order_id, multipart(flat, [("a.pdf", b"x")])),
           400, "order_documents")  # fmt: skip
    no_files = {"order_documents": [entry("a.pdf", "CUSTOMER_INVOICE")]}
    status(post_documents(http, server, order.order_id, multipart(no_files, [])), 400, "files")
    wrong_type = {"order_documents": [{"file_name": 1, "type_code": "CUSTOMER_INVOICE"}]}
    status(post_documents(http, server, order.order_id, multipart(wrong_type, [("a", b"x")])),
           400, "datatype")  # fmt: skip
    status(post_documents(http, server, "no-such-order", multipart(no_files, [("a.pdf", b"x")])),
           404, "no-such-order")  # fmt: skip
    json_body = http.post(
        f"{server.base_url}/api/orders/{order.order_id}/documents", json=no_files, timeout=5
    )
    status(json_body, 415, "multipart/form-data")
    assert client_listing(server, order.order_id) == [f"albaran-{order.order_id}.pdf"]


def client_listing(server: SandboxServer, order_id: str) -> list[str | None]:
    with client_of(server) as mirakl:
        return [d.file_name for d in mirakl.list_order_documents([order_id]).documents]


def test_or74_at_most_50_documents_per_order(server: SandboxServer, client: MiraklClient) -> None:
    order = order_where(server, invoiced=True)  # a slip and an invoice already
    batch = [
        DocumentUpload(file_name=f"foto-{n:02d}.png", type_code="CUSTOMER_INVOICE", content=b"png")
        for n in range(49)
    ]

    result = client.upload_order_documents(order.order_id, batch)

    assert result.errors_count == 1
    assert result.rejected_file_names() == {"foto-48.png"}
    assert "maximum of 50 documents" in result.rejected[0].message
    assert len(client.list_order_documents([order.order_id]).documents) == 50


def test_or73_renames_repeated_names_in_the_zip(
    server: SandboxServer, client: MiraklClient
) -> None:
    order = order_where(server, invoiced=False)
    for content in (b"first", b"second"):
        client.upload_order_documents(
            order.order_id,
            [
                DocumentUpload(
                    file_name="factura.pdf", type_code="CUSTOMER_INVOICE", content=content
                )
            ],
        )

    download = client.download_order_documents(
        order_ids=[order.order_id], document_codes=["CUSTOMER_INVOICE"]
    )

    assert [(f.file_name, f.content) for f in download.files] == [
        ("factura.pdf", b"first"),
        ("factura(1).pdf", b"second"),
    ]
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert archive.namelist() == [f"{order.order_id}/factura.pdf",
                                      f"{order.order_id}/factura(1).pdf"]  # fmt: skip


def test_or76_refusals_and_seeded_invoice(
    server: SandboxServer, http: requests.Session, client: MiraklClient
) -> None:
    order = order_where(server, invoiced=True)
    slip_id, invoice_id = f"{order.commercial_id}1", f"{order.commercial_id}2"

    with pytest.raises(MiraklBadRequest, match="SYSTEM_DELIVERY_BILL"):
        client.delete_order_document(slip_id)
    bad = http.delete(f"{server.base_url}/api/orders/documents/abc", timeout=5)
    assert bad.status_code == 400
    client.delete_order_document(invoice_id)

    assert order_json(http, server, order.order_id)["has_invoice"] is False
    assert [d.id for d in client.list_order_documents([order.order_id]).documents] == [slip_id]
    with pytest.raises(MiraklNotFound):
        client.download_order_document(invoice_id)


def test_writes_under_faults_are_flagged_outcome_unknown(http: requests.Session) -> None:
    with make_server(warm=False) as server, client_of(server) as mirakl:
        order = order_where(server, invoiced=False)
        server.state.set_faults("500=1.0")
        with pytest.raises(MiraklTransientError) as caught:
            mirakl.upload_order_documents(
                order.order_id,
                [DocumentUpload(file_name="f.pdf", type_code="CUSTOMER_INVOICE", content=b"x")],
            )
        assert caught.value.outcome_unknown is True
        assert server.stats["OR74"] == 1  # sent once, never resent
        with pytest.raises(MiraklTransientError) as read:
            mirakl.get_account()
        assert read.value.outcome_unknown is False
        assert server.stats["A01"] == mirakl.max_retries + 1  # reads are retried


def test_multi_shop_key_without_shop_id_reads_the_default_shop(http: requests.Session) -> None:
    with make_server(shop_id=2051, multi_shop_key=True, warm=False) as server:
        order = order_where(server, invoiced=True)
        # Platform-wide: the same for every shop.
        types = api(http, server, "/api/documents")
        assert types.status_code == 200 and types.json()["documents"]
        # The default shop is another one: no documents of this shop's orders, no account.
        other = api(http, server, "/api/orders/documents", order_ids=order.order_id)
        assert other.json() == {"order_documents": [], "total_count": 0}
        assert api(http, server, "/api/account").status_code == 404
        mine = api(http, server, "/api/orders/documents", order_ids=order.order_id, shop_id=2051)
        assert mine.json()["total_count"] == 2
        with MiraklClient(
            base_url=server.base_url, api_key=KEY, shop_id=2051, sleep=lambda _: None
        ) as mirakl:
            assert mirakl.get_account().shop_id == "2051"
            assert mirakl.get_statistics().shop_id == "2051"
