"""MiraklClient against mocked HTTP (responses): requests sent, parsing, retries, secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from email.message import Message as EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from responses import matchers
from urllib3.exceptions import MaxRetryError, NewConnectionError

from mirakl.client import MiraklClient, decode_json
from mirakl.errors import (
    MiraklAuthError,
    MiraklBadRequest,
    MiraklError,
    MiraklNotFound,
    MiraklPayloadError,
    MiraklRateLimited,
    MiraklTransientError,
)
from mirakl.schemas import Recipient, RefundLineRequest, TaxAmount, Topic

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "mirakl"

BASE = "https://pccomponentes-prod.mirakl.net"
API_KEY = "5e1a7c2b-0d9f-4b8e-9c3a-fake-shop-key"
SHOP_ID = "4552"


def fixture_text(name: str) -> str:
    return (FIXTURES_DIR / name).read_text(encoding="utf-8")


def fixture_json(name: str) -> Any:
    return decode_json(fixture_text(name))


def shop(params: dict[str, str] | None = None) -> dict[str, str]:
    """Expected query: the given params plus shop_id."""
    return {**(params or {}), "shop_id": SHOP_ID}


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def mirakl_client(sleeps: list[float]) -> Iterator[MiraklClient]:
    with MiraklClient(
        base_url=BASE, api_key=API_KEY, shop_id=int(SHOP_ID), sleep=sleeps.append
    ) as mirakl:
        yield mirakl


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def multipart_parts(request: Any) -> list[EmailMessage]:
    """Split a multipart/form-data request body into its parts."""
    content_type = request.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    raw = b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request.body
    # compat32 (the default policy) keeps header values exactly as sent.
    message = BytesParser().parsebytes(raw)
    assert message.is_multipart()
    return list(message.get_payload())


def part_name(part: EmailMessage) -> str | None:
    return part.get_param("name", header="content-disposition")  # type: ignore[return-value]


def pre_send_error() -> requests.exceptions.ConnectionError:
    """What requests raises when the TCP connection cannot even be opened."""
    reason = NewConnectionError(None, "Failed to establish a new connection: refused")  # type: ignore[arg-type]
    return requests.exceptions.ConnectionError(MaxRetryError(None, BASE, reason))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- transport basics


def test_auth_header_is_the_raw_key(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        f"{BASE}/api/reasons",
        json={"reasons": []},
        match=[
            matchers.header_matcher({"Authorization": API_KEY, "Accept": "application/json"}),
            matchers.query_param_matcher(shop()),
        ],
    )

    mirakl_client.list_reasons()

    sent = mocked.calls[0].request
    assert sent.headers["Authorization"] == API_KEY
    assert "Bearer" not in sent.headers["Authorization"]
    assert "Authorization" not in mirakl_client._session.headers  # only on the prepared request


@pytest.mark.parametrize(
    "base_url",
    [
        "https://pccomponentes-prod.mirakl.net",
        "https://pccomponentes-prod.mirakl.net/",
        "https://pccomponentes-prod.mirakl.net/api",
        "https://pccomponentes-prod.mirakl.net/api/",
        "  https://pccomponentes-prod.mirakl.net/API  ",
    ],
)
def test_base_url_variants(base_url: str, mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/api/reasons", json={"reasons": []})

    MiraklClient(base_url=base_url, api_key=API_KEY).list_reasons()

    assert mocked.calls[0].request.url == f"{BASE}/api/reasons"


def test_without_shop_id_no_shop_id_param(mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{BASE}/api/reasons",
        json={"reasons": []},
        match=[matchers.query_param_matcher({})],
    )

    MiraklClient(base_url=BASE, api_key=API_KEY).list_reasons()


def test_timeout_sent_on_every_call(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/api/reasons", json={"reasons": []})
    mocked.put(f"{BASE}/api/orders/O-1/lines/L-1/resolve_incident", status=204)

    mirakl = MiraklClient(base_url=BASE, api_key=API_KEY, timeout=(3.0, 12.0))
    mirakl.list_reasons()
    mirakl.resolve_incident("O-1", "L-1", reason_code=None)

    # `responses` keeps the keyword arguments requests passed to the adapter.
    timeouts = [call.request.req_kwargs["timeout"] for call in mocked.calls]  # type: ignore[attr-defined]
    assert timeouts == [(3.0, 12.0), (3.0, 12.0)]


def test_repr_hides_the_key() -> None:
    mirakl = MiraklClient(base_url=BASE, api_key=API_KEY, shop_id=SHOP_ID)

    assert API_KEY not in repr(mirakl)
    assert API_KEY not in repr(mirakl._auth)
    assert SHOP_ID in repr(mirakl)


def test_injected_session_is_used_and_not_closed(mocked: responses.RequestsMock) -> None:
    class RecordingSession(requests.Session):
        closed = False

        def close(self) -> None:
            self.closed = True
            super().close()

    session = RecordingSession()
    mocked.get(f"{BASE}/api/reasons", json={"reasons": []})

    with MiraklClient(base_url=BASE, api_key=API_KEY, session=session) as mirakl:
        mirakl.list_reasons()

    assert session.closed is False


# --------------------------------------------------------------------------- OR11


def test_list_orders_params_and_parsing(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    madrid_summer = timezone(timedelta(hours=2))
    mocked.get(
        f"{BASE}/api/orders",
        body=fixture_text("OR11-orders-with-refunds.json"),
        content_type="application/json",
        match=[
            matchers.query_param_matcher(
                shop(
                    {
                        "sort": "dateCreated",
                        "order": "asc",
                        "max": "50",
                        "offset": "100",
                        "start_update_date": "2024-05-17T09:34:22Z",
                        "has_incident": "true",
                    }
                )
            )
        ],
    )

    page = mirakl_client.list_orders(
        updated_since=datetime(2024, 5, 17, 11, 34, 22, 677000, tzinfo=madrid_summer),
        has_incident=True,
        offset=100,
        max=50,
    )

    (order,) = page.orders
    assert order.order_lines[0].price == Decimal("11.24")
    assert page.offset == 100
    assert page.total_count == 1
    assert page.next_offset is None


def test_list_orders_by_ids(mirakl_client: MiraklClient, mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{BASE}/api/orders",
        body=fixture_text("OR11-order-with-incident.json"),
        match=[
            matchers.query_param_matcher(
                shop(
                    {
                        "sort": "dateCreated",
                        "order": "asc",
                        "max": "100",
                        "offset": "0",
                        "order_ids": "DKFSLFKZ-SDF993-A,1234561-A",
                        "has_incident": "false",
                    }
                )
            )
        ],
    )

    page = mirakl_client.list_orders(
        order_ids=["DKFSLFKZ-SDF993-A", "1234561-A"], has_incident=False
    )

    assert page.orders[0].has_incident is True


def _order_body(ids: list[str], total_count: int) -> dict[str, Any]:
    order = fixture_json("OR11-order-received-with-refund-and-cancelation.json")
    orders = []
    for order_id in ids:
        orders.append({**order, "order_id": order_id})
    return {"orders": json.loads(json.dumps(orders, default=str)), "total_count": total_count}


def test_iter_order_pages_follows_offsets(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    common = {"sort": "dateCreated", "order": "asc", "max": "2"}
    mocked.get(
        f"{BASE}/api/orders",
        json=_order_body(["A-1", "A-2"], total_count=3),
        match=[matchers.query_param_matcher(shop({**common, "offset": "0"}))],
    )
    mocked.get(
        f"{BASE}/api/orders",
        json=_order_body(["A-3"], total_count=3),
        match=[matchers.query_param_matcher(shop({**common, "offset": "2"}))],
    )

    pages = list(mirakl_client.iter_order_pages(max=2))

    assert [[o.order_id for o in page.orders] for page in pages] == [["A-1", "A-2"], ["A-3"]]
    assert [page.next_offset for page in pages] == [2, None]
    assert mirakl_client.request_count == 2


def test_list_orders_keeps_valid_orders_of_a_broken_page(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    body = _order_body(["A-1", "A-2"], total_count=2)
    body["orders"][1]["price"] = "abc"
    mocked.get(f"{BASE}/api/orders", json=body)

    with caplog.at_level(logging.WARNING, logger="mirakl.client"):
        page = mirakl_client.list_orders()

    assert [o.order_id for o in page.orders] == ["A-1"]
    assert [r.id for r in page.invalid] == ["A-2"]
    assert "A-2" in caplog.text


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"total_count": 3}', "application/json"),
        ("<html>maintenance</html>", "text/html"),
        ("", "application/json"),
    ],
)
def test_list_orders_payload_errors(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock, body: str, content_type: str
) -> None:
    mocked.get(f"{BASE}/api/orders", body=body, content_type=content_type)

    with pytest.raises(MiraklPayloadError) as info:
        mirakl_client.list_orders()

    assert info.value.call == "OR11"
    assert mirakl_client.request_count == 1


def test_list_orders_argument_checks(mirakl_client: MiraklClient) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        mirakl_client.list_orders(updated_since=datetime(2024, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="max"):
        mirakl_client.list_orders(max=101)
    with pytest.raises(ValueError, match="order_ids"):
        mirakl_client.list_orders(order_ids=[str(i) for i in range(101)])
    assert mirakl_client.request_count == 0


# --------------------------------------------------------------------------- M11 / M10


def test_thread_pages_follow_tokens(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    first = fixture_json("M11-threads-es-marketplace.json")
    first["next_page_token"] = "tok-2"
    second = {"data": first["data"][:2], "previous_page_token": "tok-1"}
    mocked.get(
        f"{BASE}/api/inbox/threads",
        body=json.dumps(first, default=str),
        match=[
            matchers.query_param_matcher(
                shop(
                    {
                        "updated_since": "2024-05-17T00:00:00Z",
                        "with_messages": "true",
                        "limit": "100",
                    }
                )
            )
        ],
    )
    # With a page token Mirakl ignores every other parameter: send only token + limit.
    mocked.get(
        f"{BASE}/api/inbox/threads",
        json=second,
        match=[matchers.query_param_matcher(shop({"page_token": "tok-2", "limit": "100"}))],
    )

    pages = list(mirakl_client.iter_thread_pages(updated_since=datetime(2024, 5, 17, tzinfo=UTC)))

    assert [len(page.data) for page in pages] == [30, 2]
    assert [page.next_page_token for page in pages] == ["tok-2", None]
    assert pages[1].previous_page_token == "tok-1"


def test_list_threads_entity_filter(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        f"{BASE}/api/inbox/threads",
        json={"data": []},
        match=[
            matchers.query_param_matcher(
                shop(
                    {
                        "entity_type": "MMP_ORDER",
                        "entity_id": "59443251-A,58479510-A",
                        "with_messages": "false",
                        "limit": "20",
                    }
                )
            )
        ],
    )

    page = mirakl_client.list_threads(
        entity_type="MMP_ORDER",
        entity_ids=["59443251-A", "58479510-A"],
        with_messages=False,
        limit=20,
    )

    assert page.data == []
    assert page.next_page_token is None
    with pytest.raises(ValueError, match="entity_type"):
        mirakl_client.list_threads(entity_ids=["59443251-A"])


def test_repeated_page_token_stops_the_loop(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(f"{BASE}/api/inbox/threads", json={"data": [], "next_page_token": "same"})
    mocked.get(f"{BASE}/api/inbox/threads", json={"data": [], "next_page_token": "same"})

    with pytest.raises(MiraklPayloadError, match="repeats"):
        list(mirakl_client.iter_thread_pages())


def test_get_thread(mirakl_client: MiraklClient, mocked: responses.RequestsMock) -> None:
    thread_id = "e8dfae89-ee90-4282-a233-ea4582d67f00"
    mocked.get(
        f"{BASE}/api/inbox/threads/{thread_id}",
        body=fixture_text("M10-thread-with-messages.json"),
        match=[matchers.query_param_matcher(shop())],
    )

    thread = mirakl_client.get_thread(thread_id)

    assert thread.id == thread_id
    assert thread.order_id == "59452730-A"
    assert len(thread.messages) == 3


def test_get_thread_quotes_the_id_and_maps_404(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        f"{BASE}/api/inbox/threads/a%2Fb",
        status=404,
        json={"status": 404, "message": "Thread not found"},
    )

    with pytest.raises(MiraklNotFound) as info:
        mirakl_client.get_thread("a/b")

    assert info.value.message == "Thread not found"


def test_get_thread_wrong_shape(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(f"{BASE}/api/inbox/threads/t-1", json={"data": []})

    with pytest.raises(MiraklPayloadError) as info:
        mirakl_client.get_thread("t-1")

    assert (info.value.call, info.value.status) == ("M10", 200)


# --------------------------------------------------------------------------- M12 / OR43


def test_reply_to_thread_multipart(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    thread_id = "e8dfae89-ee90-4282-a233-ea4582d67f00"
    mocked.post(
        f"{BASE}/api/inbox/threads/{thread_id}/message",
        status=201,
        body=fixture_text("M12-response-201.json"),
        match=[matchers.query_param_matcher(shop())],
    )
    expected = fixture_json("M12-message_input-customer-and-operator.json")

    created = mirakl_client.reply_to_thread(
        thread_id,
        body=expected["body"],
        to=[Recipient(type="CUSTOMER", id="MYA0169b23"), Recipient(type="OPERATOR")],
        files=[
            ("seguimiento.pdf", b"%PDF-1.4 fake", "application/pdf"),
            ("foto.png", b"\x89PNG\r\n\x1a\n", "image/png"),
        ],
    )

    assert (created.message_id, created.thread_id) == ("synthetic-msg-0004", thread_id)
    message_input, pdf, png = multipart_parts(mocked.calls[0].request)
    assert part_name(message_input) == "message_input"
    assert message_input.get_filename() is None
    assert message_input["Content-Type"] == "application/json;charset=utf-8"
    assert json.loads(message_input.get_payload(decode=True)) == expected  # type: ignore[arg-type]
    assert [part_name(pdf), pdf.get_filename(), pdf.get_content_type()] == [
        "files",
        "seguimiento.pdf",
        "application/pdf",
    ]
    assert pdf.get_payload(decode=True) == b"%PDF-1.4 fake"
    assert [part_name(png), png.get_filename(), png.get_content_type()] == [
        "files",
        "foto.png",
        "image/png",
    ]
    assert png.get_payload(decode=True) == b"\x89PNG\r\n\x1a\n"


def test_reply_operator_only_without_files(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    mocked.post(
        f"{BASE}/api/inbox/threads/t-1/message",
        status=201,
        json={"message_id": 42, "thread_id": "t-1"},
    )
    expected = fixture_json("M12-message_input-operator-only.json")

    created = mirakl_client.reply_to_thread(
        "t-1", body=expected["body"], to=[Recipient(type="OPERATOR")]
    )

    assert created.message_id == "42"
    (message_input,) = multipart_parts(mocked.calls[0].request)
    assert json.loads(message_input.get_payload(decode=True)) == expected  # type: ignore[arg-type]


def test_reply_argument_checks(mirakl_client: MiraklClient) -> None:
    with pytest.raises(ValueError, match="body"):
        mirakl_client.reply_to_thread("t-1", body="  ", to=[Recipient(type="OPERATOR")])
    with pytest.raises(ValueError, match="recipient"):
        mirakl_client.reply_to_thread("t-1", body="Hola", to=[])
    assert mirakl_client.request_count == 0


def test_create_order_thread(mirakl_client: MiraklClient, mocked: responses.RequestsMock) -> None:
    mocked.post(
        f"{BASE}/api/orders/59452730-A/threads",
        status=201,
        json={"message_id": "m-1", "thread_id": "t-new"},
        match=[matchers.query_param_matcher(shop())],
    )
    expected = fixture_json("OR43-thread_input.json")

    created = mirakl_client.create_order_thread(
        "59452730-A",
        body=expected["body"],
        to=["CUSTOMER", "OPERATOR"],
        topic=Topic(type="FREE_TEXT", value="Pregunta acerca de mi pedido"),
        files=[("factura.pdf", b"%PDF", "application/pdf")],
    )

    assert created.thread_id == "t-new"
    thread_input, invoice = multipart_parts(mocked.calls[0].request)
    assert part_name(thread_input) == "thread_input"
    assert thread_input["Content-Type"] == "application/json;charset=utf-8"
    assert json.loads(thread_input.get_payload(decode=True)) == expected  # type: ignore[arg-type]
    assert (part_name(invoice), invoice.get_filename()) == ("files", "factura.pdf")


# --------------------------------------------------------------------------- OR64 / OR28


def test_resolve_incident_204(mirakl_client: MiraklClient, mocked: responses.RequestsMock) -> None:
    mocked.put(
        f"{BASE}/api/orders/DKFSLFKZ-SDF993-A/lines/MY-LINE/resolve_incident",
        status=204,
        match=[
            matchers.query_param_matcher(shop()),
            matchers.json_params_matcher({"reason_code": "REPLACE_WITH_RE01_CODE"}),
            matchers.header_matcher({"Content-Type": "application/json"}),
        ],
    )

    mirakl_client.resolve_incident(
        "DKFSLFKZ-SDF993-A", "MY-LINE", reason_code="REPLACE_WITH_RE01_CODE"
    )

    assert len(mocked.calls) == 1


@pytest.mark.parametrize("body", ["", '{"status": "OK"}'])
def test_resolve_incident_200_without_reason(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock, body: str
) -> None:
    mocked.put(
        f"{BASE}/api/orders/O-1/lines/2/resolve_incident",
        status=200,
        body=body,
        match=[matchers.json_params_matcher({})],
    )

    mirakl_client.resolve_incident("O-1", "2", reason_code=None)


def test_refund_sends_exact_decimals(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    mocked.put(
        f"{BASE}/api/orders/refund",
        body=fixture_text("OR28-response.json"),
        match=[
            matchers.query_param_matcher(shop()),
            matchers.header_matcher({"Content-Type": "application/json"}),
        ],
    )

    result = mirakl_client.refund(
        [
            RefundLineRequest(
                order_line_id="96",
                amount=Decimal("10.50"),
                shipping_amount=Decimal("0.1") + Decimal("0.2"),
                quantity=1,
                reason_code="18",
                taxes=[TaxAmount(code="TVA20", amount=Decimal("2.10"))],
                currency_iso_code="EUR",
            )
        ],
        order_tax_mode="TAX_EXCLUDED",
    )

    sent = mocked.calls[0].request.body
    assert isinstance(sent, bytes)
    assert sent.decode() == (
        '{"order_tax_mode":"TAX_EXCLUDED","refunds":[{"order_line_id":"96","amount":10.50,'
        '"shipping_amount":0.3,"quantity":1,"reason_code":"18",'
        '"taxes":[{"code":"TVA20","amount":2.10}],"currency_iso_code":"EUR"}]}'
    )
    assert result.order_tax_mode == "TAX_EXCLUDED"
    assert [(r.refund_id, r.order_line_id, r.amount) for r in result.refunds] == [
        ("1123", "96", Decimal("10.0"))
    ]


def test_refund_body_of_the_fixture_round_trips(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    expected = fixture_json("OR28-request-partial-refund.json")
    mocked.put(
        f"{BASE}/api/orders/refund",
        json={"refunds": [{"refund_id": 1, "order_line_id": "96"}]},
    )

    mirakl_client.refund([RefundLineRequest.model_validate(line) for line in expected["refunds"]])

    sent = mocked.calls[0].request.body
    assert isinstance(sent, bytes)
    assert decode_json(sent) == expected


def test_refund_state_error_is_bad_request(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    mocked.put(
        f"{BASE}/api/orders/refund",
        status=400,
        json={
            "status": 400,
            "message": "The shop does not have a sufficient payable balance for the refund",
        },
    )

    with pytest.raises(MiraklBadRequest) as info:
        mirakl_client.refund([RefundLineRequest(order_line_id="96", amount=1, reason_code="18")])

    assert str(info.value) == (
        "OR28 failed (HTTP 400): The shop does not have a sufficient payable balance for the refund"
    )
    assert mirakl_client.request_count == 1


# --------------------------------------------------------------------------- RE01 / M13


def test_list_reasons(mirakl_client: MiraklClient, mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{BASE}/api/reasons",
        json={
            "reasons": [
                {"code": "19", "label": "Agreement found", "type": "REFUND", "is_shop_right": True},
                {"code": 3, "label": "Defective", "type": "INCIDENT_OPEN", "is_shop_right": False},
                {"label": "no code, no type"},
            ]
        },
        match=[matchers.query_param_matcher(shop({"locale": "es_ES"}))],
    )

    reasons = mirakl_client.list_reasons(locale="es_ES")

    assert [(r.code, r.type, r.is_shop_right) for r in reasons] == [
        ("19", "REFUND", True),
        ("3", "INCIDENT_OPEN", False),
    ]


@pytest.mark.parametrize(
    ("disposition", "filename"),
    [
        ('attachment; filename="captura.png"', "captura.png"),
        ("attachment; filename*=UTF-8''factura%20n%C2%BA1.pdf", "factura nº1.pdf"),
        ('attachment; filename="../../etc/passwd"', "passwd"),
        (None, None),
    ],
)
def test_download_attachment(
    mirakl_client: MiraklClient,
    mocked: responses.RequestsMock,
    disposition: str | None,
    filename: str | None,
) -> None:
    headers = {"Content-Disposition": disposition} if disposition else {}
    mocked.get(
        f"{BASE}/api/inbox/threads/synthetic-att-0001/download",
        body=b"\x89PNG\r\n\x1a\nbinary",
        content_type="image/png",
        headers=headers,
        match=[
            matchers.query_param_matcher(shop()),
            matchers.header_matcher({"Authorization": API_KEY, "Accept": "*/*"}),
        ],
    )

    attachment = mirakl_client.download_attachment("synthetic-att-0001")

    assert attachment.content == b"\x89PNG\r\n\x1a\nbinary"
    assert attachment.filename == filename
    assert attachment.content_type == "image/png"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "body", "error_class", "message"),
    [
        (
            400,
            {
                "status": 400,
                "message": "Error with field refunds. Please check the field datatype.",
            },
            MiraklBadRequest,
            "Error with field refunds. Please check the field datatype.",
        ),
        (
            400,
            {"errors": [{"message": "must not be empty", "field": "body"}]},
            MiraklBadRequest,
            "body: must not be empty",
        ),
        (404, {"errors": [{"message": "Order not found"}]}, MiraklNotFound, "Order not found"),
        (401, {"status": 401, "message": "Unauthorized"}, MiraklAuthError, "Unauthorized"),
        (403, {"status": 403, "message": "Forbidden"}, MiraklAuthError, "Forbidden"),
        (422, {"message": "Unprocessable"}, MiraklBadRequest, "Unprocessable"),
        (405, "Method Not Allowed", MiraklBadRequest, "Method Not Allowed"),
    ],
)
def test_4xx_not_retried_and_typed(
    mirakl_client: MiraklClient,
    mocked: responses.RequestsMock,
    sleeps: list[float],
    status: int,
    body: Any,
    error_class: type[MiraklError],
    message: str,
) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    mocked.get(f"{BASE}/api/orders", status=status, body=text)

    with pytest.raises(error_class) as info:
        mirakl_client.list_orders()

    error = info.value
    assert (error.call, error.status, error.message, error.body) == ("OR11", status, message, text)
    assert str(error) == f"OR11 failed (HTTP {status}): {message}"
    assert mirakl_client.request_count == 1
    assert sleeps == []


def test_raw_text_error_is_truncated(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    html = "<html>" + "x" * 2000 + "</html>"
    mocked.get(f"{BASE}/api/reasons", status=418, body=html)

    with pytest.raises(MiraklBadRequest) as info:
        mirakl_client.list_reasons()

    assert len(info.value.message) <= 500
    assert info.value.message.startswith("<html>xxx")
    assert info.value.body == html


# --------------------------------------------------------------------------- retries: GET


def test_429_retry_after_is_honoured(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock, sleeps: list[float]
) -> None:
    mocked.get(f"{BASE}/api/reasons", status=429, headers={"Retry-After": "7"})
    mocked.get(f"{BASE}/api/reasons", json={"reasons": []})

    assert mirakl_client.list_reasons() == []
    assert sleeps == [7.0]
    assert mirakl_client.request_count == 2


def test_429_retry_after_is_capped(mocked: responses.RequestsMock, sleeps: list[float]) -> None:
    mirakl = MiraklClient(base_url=BASE, api_key=API_KEY, max_backoff=10, sleep=sleeps.append)
    mocked.get(f"{BASE}/api/reasons", status=429, headers={"Retry-After": "3600"})
    mocked.get(f"{BASE}/api/reasons", json={"reasons": []})

    mirakl.list_reasons()

    assert sleeps == [10]


def test_429_without_retry_after_uses_backoff(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock, sleeps: list[float]
) -> None:
    mocked.get(f"{BASE}/api/reasons", status=429)
    mocked.get(f"{BASE}/api/reasons", json={"reasons": []})

    mirakl_client.list_reasons()

    (delay,) = sleeps
    assert 0.25 <= delay <= 0.5  # backoff_factor 0.5, "equal jitter"


def test_5xx_then_success_on_get(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock, sleeps: list[float]
) -> None:
    mocked.get(f"{BASE}/api/orders", status=502, body="Bad Gateway")
    mocked.get(f"{BASE}/api/orders", status=503, json={"status": 503, "message": "down"})
    mocked.get(f"{BASE}/api/orders", body=fixture_text("OR11-orders-with-refunds.json"))

    page = mirakl_client.list_orders()

    assert len(page.orders) == 1
    assert mirakl_client.request_count == 3
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5
    assert 0.5 <= sleeps[1] <= 1.0


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ConnectionError("Connection reset by peer"),
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectTimeout("connect timed out"),
        requests.exceptions.ChunkedEncodingError("incomplete read"),
    ],
)
def test_network_error_then_success_on_get(
    mirakl_client: MiraklClient,
    mocked: responses.RequestsMock,
    sleeps: list[float],
    exc: Exception,
) -> None:
    mocked.get(f"{BASE}/api/inbox/threads/t-1", body=exc)
    mocked.get(f"{BASE}/api/inbox/threads/t-1", body=fixture_text("M10-thread-with-messages.json"))

    thread = mirakl_client.get_thread("t-1")

    assert thread.order_id == "59452730-A"
    assert mirakl_client.request_count == 2
    assert len(sleeps) == 1


def test_exhausted_5xx_raises_transient(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock, sleeps: list[float]
) -> None:
    for _ in range(5):
        mocked.get(f"{BASE}/api/orders", status=503, json={"status": 503, "message": "down"})

    with pytest.raises(MiraklTransientError) as info:
        mirakl_client.list_orders()

    assert (info.value.status, info.value.message) == (503, "down")
    assert info.value.outcome_unknown is False
    assert mirakl_client.request_count == 5  # 1 + max_retries
    assert len(sleeps) == 4
    assert all(delay <= mirakl_client.max_backoff for delay in sleeps)


def test_exhausted_timeouts_raise_transient(
    mocked: responses.RequestsMock, sleeps: list[float]
) -> None:
    mirakl = MiraklClient(base_url=BASE, api_key=API_KEY, max_retries=1, sleep=sleeps.append)
    mocked.get(f"{BASE}/api/reasons", body=requests.exceptions.ReadTimeout("slow"))
    mocked.get(f"{BASE}/api/reasons", body=requests.exceptions.ReadTimeout("slow"))

    with pytest.raises(MiraklTransientError) as info:
        mirakl.list_reasons()

    assert info.value.status is None
    assert "ReadTimeout" in info.value.message
    assert mirakl.request_count == 2


def test_exhausted_429_raises_rate_limited(
    mocked: responses.RequestsMock, sleeps: list[float]
) -> None:
    mirakl = MiraklClient(base_url=BASE, api_key=API_KEY, max_retries=2, sleep=sleeps.append)
    for _ in range(3):
        mocked.get(
            f"{BASE}/api/orders",
            status=429,
            headers={"Retry-After": "2"},
            json={"status": 429, "message": "Too Many Requests"},
        )

    with pytest.raises(MiraklRateLimited) as info:
        mirakl.list_orders()

    assert info.value.retry_after == 2.0
    assert info.value.status == 429
    assert isinstance(info.value, MiraklTransientError)
    assert info.value.outcome_unknown is False
    assert sleeps == [2.0, 2.0]
    assert mirakl.request_count == 3


def test_max_retries_zero_sends_once(mocked: responses.RequestsMock, sleeps: list[float]) -> None:
    mirakl = MiraklClient(base_url=BASE, api_key=API_KEY, max_retries=0, sleep=sleeps.append)
    mocked.get(f"{BASE}/api/reasons", status=500)

    with pytest.raises(MiraklTransientError):
        mirakl.list_reasons()

    assert mirakl.request_count == 1
    assert sleeps == []


# --------------------------------------------------------------------------- retries: writes


def test_post_500_not_retried_and_outcome_unknown(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock, sleeps: list[float]
) -> None:
    mocked.post(f"{BASE}/api/inbox/threads/t-1/message", status=500, body="Internal error")

    with pytest.raises(MiraklTransientError) as info:
        mirakl_client.reply_to_thread("t-1", body="Hola", to=[Recipient(type="OPERATOR")])

    assert info.value.outcome_unknown is True
    assert (info.value.call, info.value.status) == ("M12", 500)
    assert mirakl_client.request_count == 1
    assert sleeps == []


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectionError("Connection aborted: RemoteDisconnected"),
    ],
)
def test_put_read_error_not_retried_and_outcome_unknown(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock, exc: Exception
) -> None:
    mocked.put(f"{BASE}/api/orders/refund", body=exc)

    with pytest.raises(MiraklTransientError) as info:
        mirakl_client.refund([RefundLineRequest(order_line_id="96", amount=1, reason_code="18")])

    assert info.value.outcome_unknown is True
    assert mirakl_client.request_count == 1


def test_post_retried_on_429(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock, sleeps: list[float]
) -> None:
    url = f"{BASE}/api/orders/O-1/threads"
    mocked.post(url, status=429, headers={"Retry-After": "1.5"})
    mocked.post(url, status=201, json={"message_id": "m", "thread_id": "t"})

    created = mirakl_client.create_order_thread(
        "O-1", body="Hola", to=["OPERATOR"], topic=Topic(type="REASON_CODE", value="20")
    )

    assert created.thread_id == "t"
    assert sleeps == [1.5]
    assert mirakl_client.request_count == 2
    # The multipart body is sent again in full (only the boundary changes).
    first, second = (multipart_parts(call.request) for call in mocked.calls)
    assert [p.get_payload(decode=True) for p in first] == [
        p.get_payload(decode=True) for p in second
    ]


@pytest.mark.parametrize(
    "exc",
    [pre_send_error(), requests.exceptions.ConnectTimeout("connect timed out")],
)
def test_put_retried_when_nothing_was_sent(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock, sleeps: list[float], exc: Exception
) -> None:
    url = f"{BASE}/api/orders/O-1/lines/1/resolve_incident"
    mocked.put(url, body=exc)
    mocked.put(url, status=204)

    mirakl_client.resolve_incident("O-1", "1", reason_code="19")

    assert mirakl_client.request_count == 2
    assert len(sleeps) == 1


# --------------------------------------------------------------------------- secrets


def test_api_key_never_logged_nor_in_errors(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mocked.get(f"{BASE}/api/reasons", status=503)
    mocked.get(f"{BASE}/api/reasons", body=requests.exceptions.ConnectionError("reset"))
    mocked.get(f"{BASE}/api/reasons", json={"reasons": []})
    # A server that echoes the key back in its error body.
    mocked.get(
        f"{BASE}/api/orders",
        status=401,
        json={"status": 401, "message": f"Invalid key {API_KEY}"},
    )

    mirakl_client.list_reasons()
    with pytest.raises(MiraklAuthError) as info:
        mirakl_client.list_orders()

    assert "GET /api/reasons -> 503" in caplog.text
    assert "retry 1/4" in caplog.text
    assert API_KEY not in caplog.text
    error = info.value
    for text in (str(error), repr(error), error.message, error.body or ""):
        assert API_KEY not in text
    assert "[REDACTED]" in error.message


def test_api_key_scrubbed_from_transport_errors(sleeps: list[float]) -> None:
    mirakl = MiraklClient(base_url=BASE, api_key=API_KEY, max_retries=0, sleep=sleeps.append)
    # An unmatched request makes `responses` raise a ConnectionError whose message lists
    # the request headers, Authorization included.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(
            f"{BASE}/api/reasons",
            match=[matchers.header_matcher({"Authorization": "another-key"})],
        )
        with pytest.raises(MiraklTransientError) as info:
            mirakl.list_reasons()

    error = info.value
    assert API_KEY not in str(error)
    assert API_KEY not in repr(error)
    assert error.__cause__ is None or API_KEY not in str(error.__cause__)


def test_503_retry_after_is_honoured_on_get(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock, sleeps: list[float]
) -> None:
    mocked.get(f"{BASE}/api/reasons", status=503, headers={"Retry-After": "4"})
    mocked.get(f"{BASE}/api/reasons", json={"reasons": []})

    mirakl_client.list_reasons()

    assert sleeps == [4.0]


def test_write_is_not_redirected(
    mirakl_client: MiraklClient, mocked: responses.RequestsMock, sleeps: list[float]
) -> None:
    # requests would replay a redirected PUT as a GET: the refund would silently not happen.
    mocked.put(
        f"{BASE}/api/orders/refund",
        status=301,
        headers={"Location": "https://elsewhere.example/api/orders/refund"},
    )

    with pytest.raises(MiraklError) as info:
        mirakl_client.refund([RefundLineRequest(order_line_id="96", amount=1, reason_code="18")])

    assert info.value.status == 301
    assert not isinstance(info.value, MiraklTransientError)
    assert mirakl_client.request_count == 1
    assert sleeps == []


@pytest.mark.parametrize("base_url", ["", "pccomponentes-prod.mirakl.net", "ftp://x.net/api"])
def test_invalid_base_url(base_url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        MiraklClient(base_url=base_url, api_key=API_KEY)
