"""MiraklClient's A01, A21, DO01 and OR72-OR76 calls against mocked HTTP (responses).

What is sent (paths, parameters, headers, multipart parts), how every documented answer
form is read (a bare file or a ZIP from OR73, refusals in OR74's 200), and the write rules
(OR74 and OR76 are never resent after a 5xx or a timeout).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from email.message import Message as EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from mirakl.client import MiraklClient
from mirakl.errors import (
    MiraklAuthError,
    MiraklBadRequest,
    MiraklNotFound,
    MiraklPayloadError,
    MiraklTransientError,
)
from mirakl.schemas import DocumentUpload

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "mirakl"
BASE = "https://pccomponentes-prod.mirakl.net"
API_KEY = "0c4f2e9a-5b1d-4d7e-8a3f-fake-shop-key"
SHOP_ID = "2051"
PDF = b"%PDF-1.4\n% a tiny invoice\n%%EOF\n"


def fixture_text(name: str) -> str:
    return (FIXTURES_DIR / name).read_text(encoding="utf-8")


def shop(params: dict[str, str] | None = None) -> dict[str, str]:
    return {**(params or {}), "shop_id": SHOP_ID}


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> Iterator[MiraklClient]:
    with MiraklClient(
        base_url=BASE, api_key=API_KEY, shop_id=SHOP_ID, sleep=sleeps.append
    ) as mirakl:
        yield mirakl


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def multipart_parts(request: Any) -> list[EmailMessage]:
    content_type = request.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    raw = b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request.body
    message = BytesParser().parsebytes(raw)
    assert message.is_multipart()
    return list(message.get_payload())


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def xlsx_like() -> bytes:
    """An office file: a ZIP by its magic number, yet one document."""
    return zip_of({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})


# --------------------------------------------------------------------------- A01 / A21


def test_get_account(client: MiraklClient, mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{BASE}/api/account",
        body=fixture_text("A01-account.json"),
        match=[
            matchers.query_param_matcher(shop()),
            matchers.header_matcher({"Authorization": API_KEY, "Accept": "application/json"}),
        ],
    )

    account = client.get_account()

    assert account.shop_id == "2000" and account.shop_state == "OPEN"
    assert str(account.payable_balance) == "-259.2"


def test_get_account_wrong_shape_is_a_payload_error(
    client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(f"{BASE}/api/account", json=[{"shop_id": 1}])
    with pytest.raises(MiraklPayloadError) as caught:
        client.get_account()
    assert caught.value.call == "A01" and caught.value.status == 200


def test_get_statistics_overall_then_per_channel(
    client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        f"{BASE}/api/account/statistics",
        body=fixture_text("A21-statistics.json"),
        match=[matchers.query_param_matcher(shop())],
    )
    channel_body = json.loads(fixture_text("A21-statistics.json"))
    channel_body["channel"] = "ES"
    mocked.get(
        f"{BASE}/api/account/statistics",
        json=channel_body,
        match=[
            matchers.query_param_matcher(
                shop({"periods": "LAST_MONTH,LAST_THREE_MONTHS", "channel_code": "ES"})
            )
        ],
    )

    overall = client.get_statistics()
    spain = client.get_statistics(periods=["LAST_MONTH", "LAST_THREE_MONTHS"], channel_code="ES")

    assert overall.channel is None and str(overall.rate("incident_rate")) == "0.5"
    assert spain.channel == "ES"


def test_statistics_errors_are_typed(
    client: MiraklClient, mocked: responses.RequestsMock, sleeps: list[float]
) -> None:
    mocked.get(
        f"{BASE}/api/account/statistics",
        status=400,
        json={"status": 400, "message": "Invalid value 'XX' for parameter 'channel_code'"},
    )
    mocked.get(f"{BASE}/api/account", status=403, json={"status": 403, "message": "Forbidden"})

    with pytest.raises(MiraklBadRequest, match="channel_code"):
        client.get_statistics(channel_code="XX")
    with pytest.raises(MiraklAuthError):
        client.get_account()
    assert sleeps == []


def test_get_account_retried_on_5xx(
    client: MiraklClient, mocked: responses.RequestsMock, sleeps: list[float]
) -> None:
    mocked.get(f"{BASE}/api/account", status=503)
    mocked.get(f"{BASE}/api/account", body=fixture_text("A01-account.json"))
    assert client.get_account().shop_id == "2000"
    assert len(sleeps) == 1


# --------------------------------------------------------------------------- DO01 / OR72


def test_list_document_types(client: MiraklClient, mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{BASE}/api/documents",
        json={
            "documents": [
                {
                    "code": "SYSTEM_DELIVERY_BILL",
                    "label": "Albarán de entrega",
                    "description": "Albarán",
                    "entity": "ORDER",
                    "mime_types": ["application/pdf"],
                },
                {"label": "no code"},
                {"code": "CUSTOMER_INVOICE", "label": "Factura", "entity": "ORDER"},
            ]
        },
        match=[matchers.query_param_matcher(shop({"entities": "ORDER", "locale": "es_ES"}))],
    )

    types = client.list_document_types(entities=["ORDER"], locale="es_ES")

    assert [t.code for t in types] == ["SYSTEM_DELIVERY_BILL", "CUSTOMER_INVOICE"]
    assert types[0].mime_types == ["application/pdf"]


def test_list_document_types_without_the_list(
    client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(f"{BASE}/api/documents", json={"types": []})
    with pytest.raises(MiraklPayloadError, match="documents"):
        client.list_document_types()


def test_list_order_documents(client: MiraklClient, mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{BASE}/api/orders/documents",
        body=fixture_text("OR72-documents.json"),
        match=[matchers.query_param_matcher(shop({"order_ids": "Classic_Order_0006-A,X-2"}))],
    )

    documents = client.list_order_documents(["Classic_Order_0006-A", "X-2"])

    assert [d.id for d in documents.documents] == ["2024", "2025"]
    assert documents.for_order("X-2") == []


def test_list_order_documents_argument_checks(client: MiraklClient) -> None:
    with pytest.raises(ValueError):
        client.list_order_documents([])
    with pytest.raises(ValueError, match="100"):
        client.list_order_documents([f"{n}-A" for n in range(101)])
    with pytest.raises(ValueError):
        client.list_order_documents(["a,b"])


# --------------------------------------------------------------------------- OR73


def test_download_one_document_bare_without_headers(
    client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    # Name and type headers of a single file are not documented: none at all here.
    mocked.get(
        f"{BASE}/api/orders/documents/download",
        body=PDF,
        content_type="application/octet-stream",
        match=[
            matchers.query_param_matcher(shop({"document_ids": "2025"})),
            matchers.header_matcher({"Accept": "*/*"}),
        ],
    )

    document = client.download_order_document(2025)

    assert document.content == PDF
    assert document.file_name is None and document.order_id is None


def test_download_one_office_file_is_not_unzipped(
    client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    body = xlsx_like()
    mocked.get(
        f"{BASE}/api/orders/documents/download",
        body=body,
        headers={"Content-Disposition": 'attachment; filename="ventas.xlsx"'},
    )

    download = client.download_order_documents(document_ids=["7"])

    assert not download.is_zip
    (document,) = download.files
    assert document.content == body and document.file_name == "ventas.xlsx"


def test_download_one_document_that_came_zipped_is_unwrapped(
    client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        f"{BASE}/api/orders/documents/download",
        body=zip_of({"59100001-A/factura.pdf": PDF}),
        headers={"Content-Disposition": 'attachment; filename="documents-1716.zip"'},
    )

    document = client.download_order_document("2025")

    assert (document.order_id, document.file_name, document.content) == (
        "59100001-A",
        "factura.pdf",
        PDF,
    )


def test_download_several_documents_zip_layout(
    client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    archive = zip_of(
        {
            "documents-20240517/59100001-A/image.png": b"png-1",
            "documents-20240517/59100001-A/image(1).png": b"png-2",
            "59100002-A/../../../etc/passwd": b"not a path",
            "loose.txt": b"no folder",
        }
    )
    mocked.get(
        f"{BASE}/api/orders/documents/download",
        body=archive,
        content_type="application/octet-stream",
        match=[matchers.query_param_matcher(shop({"document_ids": "1,2,3,4"}))],
    )

    download = client.download_order_documents(document_ids=[1, 2, 3, 4])

    assert download.is_zip and download.content == archive
    assert [(f.order_id, f.file_name, f.content) for f in download.files] == [
        ("59100001-A", "image.png", b"png-1"),
        ("59100001-A", "image(1).png", b"png-2"),
        (None, "passwd", b"not a path"),
        (None, "loose.txt", b"no folder"),
    ]


def test_download_by_orders_and_types_is_always_a_zip(
    client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        f"{BASE}/api/orders/documents/download",
        body=zip_of({"59100001-A/factura.pdf": PDF}),
        match=[
            matchers.query_param_matcher(
                shop({"order_ids": "59100001-A", "document_codes": "CUSTOMER_INVOICE"})
            )
        ],
    )
    download = client.download_order_documents(
        order_ids=["59100001-A"], document_codes=["CUSTOMER_INVOICE"]
    )
    assert download.is_zip and [f.file_name for f in download.files] == ["factura.pdf"]


def test_download_by_order_answered_with_a_bare_file(
    client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    # Documented as always zipped; a bare file is still read as the one document.
    mocked.get(
        f"{BASE}/api/orders/documents/download",
        body=PDF,
        headers={"Content-Disposition": 'attachment; filename="factura.pdf"'},
    )
    download = client.download_order_documents(order_ids=["59100001-A"])
    assert not download.is_zip
    assert [(f.order_id, f.file_name) for f in download.files] == [("59100001-A", "factura.pdf")]


def test_download_empty_archive_and_errors(
    client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(f"{BASE}/api/orders/documents/download", body=zip_of({}))
    mocked.get(
        f"{BASE}/api/orders/documents/download",
        status=404,
        json={"status": 404, "message": "Document with id '9' not found"},
    )
    mocked.get(f"{BASE}/api/orders/documents/download", body=b"PK\x03\x04 broken")

    assert client.download_order_documents(order_ids=["A-1"]).files == []
    with pytest.raises(MiraklNotFound):
        client.download_order_document(9)
    with pytest.raises(MiraklPayloadError, match="archive"):
        client.download_order_documents(document_ids=[1, 2])


def test_download_archive_size_guard(client: MiraklClient, mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/api/orders/documents/download", body=zip_of({"A-1/big.txt": b"0" * 5000}))
    with pytest.raises(MiraklPayloadError, match="inflate"):
        client.download_order_documents(order_ids=["A-1"], max_archive_bytes=4096)


def test_download_argument_checks(client: MiraklClient) -> None:
    with pytest.raises(ValueError, match="document_ids or order_ids"):
        client.download_order_documents()
    with pytest.raises(ValueError, match="document_ids or order_ids"):
        client.download_order_documents(document_codes=["CUSTOMER_INVOICE"])
    with pytest.raises(ValueError, match="100"):
        client.download_order_documents(document_ids=list(range(101)))


# --------------------------------------------------------------------------- OR74


def upload(**overrides: Any) -> DocumentUpload:
    values: dict[str, Any] = {
        "file_name": "factura-59100001.pdf",
        "type_code": "CUSTOMER_INVOICE",
        "content": PDF,
        "content_type": "application/pdf",
        **overrides,
    }
    return DocumentUpload(**values)


def test_upload_sends_the_documented_multipart(
    client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    call = mocked.post(
        f"{BASE}/api/orders/59100001-A/documents",
        json={"errors_count": 0, "order_documents": []},
        match=[matchers.query_param_matcher(shop())],
    )

    result = client.upload_order_documents(
        "59100001-A", [upload(), upload(file_name="foto.png", content=b"png", content_type=None)]
    )

    assert result.ok and result.accepted_file_names(["factura-59100001.pdf", "foto.png"]) == [
        "factura-59100001.pdf",
        "foto.png",
    ]
    request = call.calls[0].request
    assert request.headers["Authorization"] == API_KEY
    json_part, first, second = multipart_parts(request)
    assert json_part.get_param("name", header="content-disposition") == "order_documents"
    assert json_part.get_content_type() == "application/json"
    # The part holds an object whose own key is ``order_documents`` again.
    assert json.loads(json_part.get_payload(decode=True)) == {
        "order_documents": [
            {"file_name": "factura-59100001.pdf", "type_code": "CUSTOMER_INVOICE"},
            {"file_name": "foto.png", "type_code": "CUSTOMER_INVOICE"},
        ]
    }
    assert first.get_param("name", header="content-disposition") == "files"
    assert first.get_filename() == "factura-59100001.pdf"
    assert first.get_content_type() == "application/pdf"
    assert first.get_payload(decode=True) == PDF
    assert second.get_filename() == "foto.png"
    assert second.get_content_type() == "application/octet-stream"


def test_upload_partial_refusal_in_a_200(
    client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    mocked.post(
        f"{BASE}/api/orders/59100001-A/documents",
        json={
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
                    "input": {"file_name": "nota.pdf", "type_code": "NOTA"},
                }
            ],
        },
    )

    result = client.upload_order_documents(
        "59100001-A", [upload(), upload(file_name="nota.pdf", type_code="NOTA")]
    )

    assert not result.ok
    assert result.rejected_file_names() == {"nota.pdf"}
    assert result.accepted_file_names(["factura-59100001.pdf", "nota.pdf"]) == [
        "factura-59100001.pdf"
    ]


def test_upload_refused_with_a_4xx_carrying_the_same_shape(
    client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    # Which status Mirakl uses when every document fails is not documented.
    mocked.post(
        f"{BASE}/api/orders/59100001-A/documents",
        status=400,
        json={
            "errors_count": 1,
            "order_documents": [
                {
                    "errors": [{"code": "x", "field": "file_name", "message": "too big"}],
                    "input": {"file_name": "factura-59100001.pdf"},
                }
            ],
        },
    )
    mocked.post(
        f"{BASE}/api/orders/59100002-A/documents",
        status=400,
        json={"status": 400, "message": "Order is closed"},
    )

    result = client.upload_order_documents("59100001-A", [upload()])
    assert not result.ok and result.rejected[0].message == "file_name: too big"
    with pytest.raises(MiraklBadRequest, match="Order is closed"):
        client.upload_order_documents("59100002-A", [upload()])


def test_upload_empty_200_body(client: MiraklClient, mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/api/orders/59100001-A/documents", body="")
    assert client.upload_order_documents("59100001-A", [upload()]).ok


def test_upload_unreadable_200_is_a_payload_error_with_the_status(
    client: MiraklClient, mocked: responses.RequestsMock
) -> None:
    mocked.post(f"{BASE}/api/orders/59100001-A/documents", body="<html>ok</html>")
    with pytest.raises(MiraklPayloadError) as caught:
        client.upload_order_documents("59100001-A", [upload()])
    assert caught.value.status == 200  # Mirakl took it: do not send it again


def test_upload_500_not_retried_and_outcome_unknown(
    client: MiraklClient, mocked: responses.RequestsMock, sleeps: list[float]
) -> None:
    mocked.post(f"{BASE}/api/orders/59100001-A/documents", status=502)
    with pytest.raises(MiraklTransientError) as caught:
        client.upload_order_documents("59100001-A", [upload()])
    assert caught.value.outcome_unknown is True and caught.value.call == "OR74"
    assert sleeps == []


def test_upload_read_timeout_not_retried_and_outcome_unknown(
    client: MiraklClient, mocked: responses.RequestsMock, sleeps: list[float]
) -> None:
    mocked.post(
        f"{BASE}/api/orders/59100001-A/documents", body=requests.exceptions.ReadTimeout("slow")
    )
    with pytest.raises(MiraklTransientError) as caught:
        client.upload_order_documents("59100001-A", [upload()])
    assert caught.value.outcome_unknown is True
    assert len(mocked.calls) == 1 and sleeps == []


def test_upload_retried_on_429(
    client: MiraklClient, mocked: responses.RequestsMock, sleeps: list[float]
) -> None:
    mocked.post(f"{BASE}/api/orders/59100001-A/documents", status=429, headers={"Retry-After": "2"})
    mocked.post(
        f"{BASE}/api/orders/59100001-A/documents", json={"errors_count": 0, "order_documents": []}
    )
    assert client.upload_order_documents("59100001-A", [upload()]).ok
    assert sleeps == [2.0]


@pytest.mark.parametrize(
    ("documents", "message"),
    [
        ([], "at least one"),
        ([upload(), upload()], "distinct"),
        ([upload(file_name="factura-año.pdf")], "US-ASCII"),
        ([upload(file_name="../factura.pdf")], "invalid"),
        ([upload(file_name=" ")], "invalid"),
        ([upload(type_code="SYSTEM_DELIVERY_BILL")], "cannot be uploaded"),
        ([upload(type_code="SYSTEM_MESSAGE_ATTACHMENT")], "cannot be uploaded"),
        ([upload(type_code=" ")], "type code"),
    ],
)
def test_upload_argument_checks(
    client: MiraklClient, documents: list[DocumentUpload], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        client.upload_order_documents("59100001-A", documents)


# --------------------------------------------------------------------------- OR76


def test_delete_document(client: MiraklClient, mocked: responses.RequestsMock) -> None:
    call = mocked.delete(
        f"{BASE}/api/orders/documents/2025",
        status=204,
        match=[matchers.query_param_matcher(shop())],
    )
    assert client.delete_order_document(2025) is None
    assert call.calls[0].request.headers["Authorization"] == API_KEY


def test_delete_document_errors(
    client: MiraklClient, mocked: responses.RequestsMock, sleeps: list[float]
) -> None:
    mocked.delete(
        f"{BASE}/api/orders/documents/9", status=404, json={"status": 404, "message": "not found"}
    )
    mocked.delete(f"{BASE}/api/orders/documents/10", status=500)
    with pytest.raises(MiraklNotFound):
        client.delete_order_document("9")
    with pytest.raises(MiraklTransientError) as caught:
        client.delete_order_document("10")
    assert caught.value.outcome_unknown is True and caught.value.call == "OR76"
    assert sleeps == []
