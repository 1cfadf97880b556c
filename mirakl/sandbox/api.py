"""The Mirakl shop API endpoints the sandbox serves (MIRAKL_API.md section 2, and
MIRAKL_API_ACCOUNT.md sections 1-3 for A01, A21, DO01 and OR72-OR76).

Each handler takes the state and a ``Request`` and returns a ``Response``; the app calls it
while holding the state lock. Paths, parameters, status codes and bodies follow the
documentation; nothing here is a convenience the real API lacks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from mirakl.sandbox.documents import document_types_payload
from mirakl.sandbox.models import Attachment, Thread
from mirakl.sandbox.multipart import FormPart, parse_multipart
from mirakl.sandbox.pagination import decode_token, encode_token, link_header
from mirakl.sandbox.reasons import ORDER_MESSAGING, reasons_of_type
from mirakl.sandbox.refunds import apply_refund_request, parse_refund_body
from mirakl.sandbox.render import dumps
from mirakl.sandbox.state import SandboxState
from mirakl.sandbox.wire import ApiError, Request, Response, json_response

__all__ = ["API_ROUTES", "ORDER_STATES", "Route", "make_route", "match_route"]

Handler = Callable[[SandboxState, Request, dict[str, str]], Response]

ORDER_STATES = frozenset(
    {
        "STAGING",
        "WAITING_ACCEPTANCE",
        "WAITING_DEBIT",
        "WAITING_DEBIT_PAYMENT",
        "SHIPPING",
        "SHIPPED",
        "TO_COLLECT",
        "RECEIVED",
        "CLOSED",
        "REFUSED",
        "CANCELED",
        "INCIDENT_OPEN",
        "INCIDENT_CLOSED",
        "REFUNDED",
        "WAITING_REFUND",
        "WAITING_REFUND_PAYMENT",
    }
)
ENTITY_TYPES = frozenset({"MMP_ORDER", "MMP_OFFER", "MPS_ORDER", "MPS_SERVICE", "SELLER_OPERATOR"})
OR11_MAX = 100
M11_MAX = 100
M11_MESSAGES = 100  # with_messages=true: only the last 100 messages of each thread
UPDATE_SAFETY_DELTA_MS = 1000  # OR11 start_update_date: "Mirakl will subtract a time delta"
MAX_ATTACHMENTS_PER_ENTITY = 50
OR72_MAX_IDS = 100  # the schema's ``maximum: 100`` on ``order_ids``


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    endpoint: str
    handler: Handler


# ============================================================== OR11 orders
def list_orders(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    order_ids = req.csv("order_ids")
    if order_ids is not None and len(order_ids) > 100:
        raise ApiError(400, "The parameter 'order_ids' accepts at most 100 values")
    states = req.csv("order_state_codes")
    if states:
        unknown = [s for s in states if s not in ORDER_STATES]
        if unknown:
            raise ApiError(400, f"Invalid value '{unknown[0]}' for parameter 'order_state_codes'")
    sort = req.param("sort") or "dateCreated"
    if sort != "dateCreated":
        raise ApiError(400, f"Invalid value '{sort}' for parameter 'sort'")
    direction = (req.param("order") or "asc").lower()
    if direction not in ("asc", "desc"):
        raise ApiError(400, f"Invalid value '{req.param('order')}' for parameter 'order'")
    paginate = req.boolean("paginate", True)
    size = req.integer("max", 10, minimum=1)
    if size > OR11_MAX:
        raise ApiError(400, f"The parameter 'max' must be lower than or equal to {OR11_MAX}")
    offset = req.integer("offset", 0)
    start_update = req.date("start_update_date")
    channel_codes = req.csv("channel_codes")
    only_null_channel = req.boolean("only_null_channel", False)

    has_incident = req.boolean("has_incident")
    created_from, created_to = req.date("start_date"), req.date("end_date")
    updated_to = req.date("end_update_date")
    if only_null_channel or (channel_codes is not None and "ES" not in channel_codes):
        total, page = 0, list[Any]()  # every sandbox order is on channel ES
    else:
        total, page = state.order_page(
            order_ids=order_ids,
            states=set(states) if states else None,
            has_incident=has_incident,
            created_from=created_from,
            created_to=created_to,
            updated_from=None if start_update is None else start_update - UPDATE_SAFETY_DELTA_MS,
            updated_to=updated_to,
            descending=direction == "desc",
            offset=offset if paginate else 0,
            size=size if paginate else None,
        )
    render = state.renderer.order_json
    orders = b",".join([order.cache or render(order) for order in page])
    body = b"".join((b'{"orders":[', orders, b'],"total_count":%d}' % total))
    response = json_response(200, body)
    if paginate:
        link = link_header(req.base_url, req.path, req.query, offset=offset, size=size, total=total)
        if link:
            response.headers["Link"] = link
    return response


# ============================================================= OR28 refund
def refund(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    payload = parse_refund_body(req.body)
    return json_response(200, apply_refund_request(state, payload))


# ==================================================== OR64 resolve incident
def resolve_incident(state: SandboxState, req: Request, params: dict[str, str]) -> Response:
    payload = req.json_body()
    reason_code: Any = None
    if payload is not None:
        if not isinstance(payload, dict):
            raise ApiError(400, "Error with the request body. Please check the field datatype.")
        reason_code = payload.get("reason_code")
        if reason_code is not None and not isinstance(reason_code, str):
            raise ApiError(400, "Error with field reason_code. Please check the field datatype.")
    state.resolve_incident(params["order_id"], params["line_id"], reason_code)
    return Response(204, b"", content_type=None)


# ================================================================ RE01
def list_reasons(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    return json_response(200, state.reasons_json())  # locale accepted, labels are Spanish


# ============================================================= M11 threads
def list_threads(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    limit = req.integer("limit", 50, minimum=1)
    if limit > M11_MAX:
        raise ApiError(400, f"The parameter 'limit' must be lower than or equal to {M11_MAX}")
    token = req.param("page_token")
    cursor: tuple[str, tuple[int, str]] | None = None
    if token:
        decoded = decode_token(token)
        try:
            query = decoded["q"]
            key = decoded["k"]
            cursor = (str(decoded["m"]), (int(key[0]), str(key[1])))
        except (KeyError, TypeError, ValueError, IndexError):
            raise ApiError(400, "Invalid page_token") from None
        if cursor[0] not in ("gt", "lt") or not _valid_token_query(query):
            raise ApiError(400, "Invalid page_token")
    else:
        entity_type = req.param("entity_type") or None
        entity_ids = req.csv("entity_id")
        if entity_ids is not None and entity_type is None:
            raise ApiError(400, "The parameter 'entity_type' is required with 'entity_id'")
        if entity_type is not None and entity_type not in ENTITY_TYPES:
            raise ApiError(400, f"Invalid value '{entity_type}' for parameter 'entity_type'")
        criterion, _comma, direction = (req.param("sort") or "dateUpdated,ASC").partition(",")
        direction = (direction or "ASC").upper()
        if criterion != "dateUpdated" or direction not in ("ASC", "DESC"):
            raise ApiError(400, f"Invalid value '{req.param('sort')}' for parameter 'sort'")
        query = {
            "et": entity_type,
            "ei": entity_ids,
            "us": req.date("updated_since"),
            "wm": bool(req.boolean("with_messages", False)),
            "d": direction,
        }
    descending = query.get("d") == "DESC"
    threads, next_key, prev_key = state.thread_window(
        entity_type=query.get("et"),
        entity_ids=query.get("ei"),
        updated_since=query.get("us"),
        descending=descending,
        limit=limit,
        cursor=cursor,
    )
    renderer = state.renderer
    if query.get("wm"):
        render = renderer.thread_json
        data = b",".join([render(t, last=M11_MESSAGES) for t in threads])
    else:
        header = renderer.thread_header_json
        data = b",".join([t.cache or header(t) for t in threads])
    parts = [b'{"data":[', data, b"]"]
    if next_key is not None:
        mode = "lt" if descending else "gt"
        parts.append(f',"next_page_token":"{_token(query, mode, next_key)}"'.encode())
    if prev_key is not None:
        mode = "gt" if descending else "lt"
        parts.append(f',"previous_page_token":"{_token(query, mode, prev_key)}"'.encode())
    parts.append(b"}")
    return json_response(200, b"".join(parts))


def _valid_token_query(query: Any) -> bool:
    """A token's saved query must look like one this server wrote."""
    if not isinstance(query, dict):
        return False
    entity_ids = query.get("ei")
    since = query.get("us")
    ids_ok = entity_ids is None or (
        isinstance(entity_ids, list) and all(isinstance(i, str) for i in entity_ids)
    )
    since_ok = since is None or (isinstance(since, int) and not isinstance(since, bool))
    return (
        isinstance(query.get("et"), str | None)
        and ids_ok
        and since_ok
        and isinstance(query.get("wm"), bool)
        and query.get("d") in ("ASC", "DESC")
    )


def _token(query: dict[str, Any], mode: str, key: tuple[int, str]) -> str:
    return encode_token({"v": 1, "m": mode, "k": [key[0], key[1]], "q": query})


# ============================================================== M10 thread
def get_thread(state: SandboxState, req: Request, params: dict[str, str]) -> Response:
    thread = state.get_thread(params["thread_id"])
    return json_response(200, state.renderer.thread_json(thread))


# ======================================================= M13 attachment
def download_attachment(state: SandboxState, req: Request, params: dict[str, str]) -> Response:
    attachment = state.attachments.get(params["attachment_id"])
    if attachment is None:
        raise ApiError(404, f"Attachment with id '{params['attachment_id']}' not found")
    ascii_name = attachment.name.encode("ascii", "replace").decode("ascii").replace('"', "")
    disposition = f'attachment; filename="{ascii_name}"'
    if ascii_name != attachment.name:
        disposition += f"; filename*=UTF-8''{quote(attachment.name)}"
    return Response(
        200,
        attachment.data,
        content_type=attachment.content_type,
        headers={"Content-Disposition": disposition},
    )


# ============================================================ multipart
def _form(req: Request, json_part: str) -> tuple[dict[str, Any], list[FormPart]]:
    content_type = req.headers.get("content-type", "")
    try:
        parts = parse_multipart(content_type, req.body)
    except ValueError:
        raise ApiError(415, "Content type 'multipart/form-data' expected") from None
    json_parts = [p for p in parts if p.name == json_part]
    if not json_parts:
        raise ApiError(400, f"Required request part '{json_part}' is not present")
    try:
        payload = json.loads(json_parts[0].data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ApiError(400, f"Error with part '{json_part}': malformed JSON") from None
    if not isinstance(payload, dict):
        raise ApiError(400, f"Error with part '{json_part}': a JSON object is expected")
    files = [p for p in parts if p.name == "files" and (p.filename or p.data)]
    return payload, files


def _attachments(state: SandboxState, order_id: str, files: list[FormPart]) -> list[Attachment]:
    if not files:
        return []
    existing = sum(
        len(m.attachments) for t in state.threads_by_order.get(order_id, ()) for m in t.messages
    )
    if existing + len(files) > MAX_ATTACHMENTS_PER_ENTITY:
        raise ApiError(
            400,
            f"Too many attachments: at most {MAX_ATTACHMENTS_PER_ENTITY} attachments are allowed "
            "across the threads of an entity",
        )
    return [
        Attachment(
            state.generator.uuid(),
            part.filename or "file",
            part.content_type
            if part.content_type != "text/plain" or not part.filename
            else "application/octet-stream",
            part.data,
        )
        for part in files
    ]


def _body(payload: dict[str, Any]) -> str:
    body = payload.get("body")
    if not isinstance(body, str) or not body.strip():
        raise ApiError(400, "The field 'body' is required")
    return body


def _topic(value: Any, *, required: bool) -> tuple[str, str] | None:
    if value is None:
        if required:
            raise ApiError(400, "The field 'topic' is required")
        return None
    if not isinstance(value, dict):
        raise ApiError(400, "Error with field topic. Please check the field datatype.")
    kind, text = value.get("type"), value.get("value")
    if kind not in ("FREE_TEXT", "REASON_CODE") or not isinstance(text, str) or not text.strip():
        raise ApiError(400, "The field 'topic' needs a type FREE_TEXT or REASON_CODE and a value")
    if kind == "REASON_CODE":
        reason = reasons_of_type(ORDER_MESSAGING).get(text)
        if reason is None or not reason.is_shop_right:
            raise ApiError(400, f"Reason code '{text}' is not a valid {ORDER_MESSAGING} reason")
    return kind, text


# ============================================================= M12 reply
def reply_to_thread(state: SandboxState, req: Request, params: dict[str, str]) -> Response:
    thread = state.get_thread(params["thread_id"])
    payload, files = _form(req, "message_input")
    body = _body(payload)
    recipients = payload.get("to")
    if not isinstance(recipients, list) or not recipients:
        raise ApiError(400, "The field 'to' is required")
    _topic(payload.get("topic"), required=False)
    types = _recipient_types(thread, recipients)
    attachments = _attachments(state, thread.order_id, files)
    message = state.post(thread, "SHOP", types, body, attachments)
    return json_response(201, {"message_id": message.message_id, "thread_id": thread.thread_id})


def _recipient_types(thread: Thread, recipients: list[Any]) -> tuple[str, ...]:
    authorized = {"CUSTOMER": thread.customer.id, "OPERATOR": None}
    types: list[str] = []
    for entry in recipients:
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            raise ApiError(400, "Error with field to. Please check the field datatype.")
        kind = entry["type"]
        if kind == "SHOP":
            raise ApiError(400, "The shop cannot be a recipient of its own message")
        if kind not in authorized:
            raise ApiError(400, f"Recipient type '{kind}' is not an authorized participant")
        given_id = entry.get("id")
        if given_id is not None and kind == "CUSTOMER" and str(given_id) != authorized[kind]:
            raise ApiError(
                400, f"Recipient '{kind}' with id '{given_id}' is not an authorized participant"
            )
        if kind not in types:
            types.append(kind)
    return tuple(types)


# ============================================================ OR43 new thread
def create_order_thread(state: SandboxState, req: Request, params: dict[str, str]) -> Response:
    order = state.get_order(params["order_id"])
    payload, files = _form(req, "thread_input")
    body = _body(payload)
    recipients = payload.get("to")
    if not isinstance(recipients, list) or not recipients:
        raise ApiError(400, "The field 'to' is required")
    types: list[str] = []
    for entry in recipients:
        if entry not in ("CUSTOMER", "OPERATOR"):
            raise ApiError(400, f"Invalid recipient '{entry}': expected CUSTOMER or OPERATOR")
        if entry not in types:
            types.append(entry)
    topic = _topic(payload.get("topic"), required=True)
    assert topic is not None  # noqa: S101 - required=True
    attachments = _attachments(state, order.order_id, files)
    thread = state.generator.new_thread(order, topic[0], topic[1], state.now_ms())
    state.register_thread(thread)
    message = state.post(thread, "SHOP", tuple(types), body, attachments)
    return json_response(201, {"message_id": message.message_id, "thread_id": thread.thread_id})


# ============================================================= A01 account
def get_account(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    return json_response(200, dumps(state.account.payload()))


# ========================================================== A21 statistics
def get_statistics(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    channel = req.param("channel_code") or None
    payload = state.account.statistics_payload(periods=req.csv("periods"), channel=channel)
    return json_response(200, dumps(payload))


# ======================================================= DO01 document types
def list_document_types(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    payload = document_types_payload(req.csv("entities") or None, req.param("locale"))
    return json_response(200, dumps(payload))


# ==================================================== OR72 order documents
def list_order_documents(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    order_ids = req.csv("order_ids")
    if not order_ids:
        raise ApiError(400, "The parameter 'order_ids' is required")
    if len(order_ids) > OR72_MAX_IDS:
        raise ApiError(400, f"The parameter 'order_ids' accepts at most {OR72_MAX_IDS} values")
    documents = [document.as_dict() for document in state.documents.listing(order_ids)]
    # ``total_count`` is deprecated but still in the schema.
    return json_response(200, dumps({"order_documents": documents, "total_count": len(documents)}))


# ================================================ OR73 download documents
def download_documents(state: SandboxState, req: Request, _: dict[str, str]) -> Response:
    documents, zipped = state.documents.select(
        document_ids=req.csv("document_ids"),
        order_ids=req.csv("order_ids"),
        codes=req.csv("document_codes"),
    )
    if zipped:
        stamp = state.now_ms()
        body = state.documents.archive(documents)
        name = f"documents-{stamp}.zip"
    else:
        body = documents[0].data
        name = documents[0].file_name
    # The OpenAPI gives one media type for both forms.
    return Response(
        200,
        body,
        content_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# ================================================== OR74 upload documents
def upload_documents(state: SandboxState, req: Request, params: dict[str, str]) -> Response:
    order = state.get_order(params["order_id"])
    payload, files = _form(req, "order_documents")
    # The part holds an object whose own key is ``order_documents`` again (documented).
    entries = payload.get("order_documents")
    if not isinstance(entries, list) or not entries:
        raise ApiError(400, "The field 'order_documents' is required")
    if not files:
        raise ApiError(400, "Required request part 'files' is not present")
    refused = state.documents.upload(order, entries, files, state.now_ms())
    return json_response(200, dumps({"errors_count": len(refused), "order_documents": refused}))


# ================================================== OR76 delete a document
def delete_document(state: SandboxState, req: Request, params: dict[str, str]) -> Response:
    state.documents.delete(params["document_id"], state.now_ms())
    return Response(204, b"", content_type=None)


def make_route(method: str, path: str, endpoint: str, handler: Handler) -> Route:
    pattern = re.compile("^" + re.sub(r"{(\w+)}", r"(?P<\1>[^/]+)", path) + "$")
    return Route(method, pattern, endpoint, handler)


API_ROUTES: tuple[Route, ...] = (
    make_route("GET", "/api/orders", "OR11", list_orders),
    make_route("PUT", "/api/orders/refund", "OR28", refund),
    make_route(
        "PUT", "/api/orders/{order_id}/lines/{line_id}/resolve_incident", "OR64", resolve_incident
    ),
    make_route("POST", "/api/orders/{order_id}/threads", "OR43", create_order_thread),
    make_route("GET", "/api/reasons", "RE01", list_reasons),
    make_route("GET", "/api/inbox/threads", "M11", list_threads),
    make_route("GET", "/api/inbox/threads/{attachment_id}/download", "M13", download_attachment),
    make_route("GET", "/api/inbox/threads/{thread_id}", "M10", get_thread),
    make_route("POST", "/api/inbox/threads/{thread_id}/message", "M12", reply_to_thread),
    make_route("GET", "/api/account", "A01", get_account),
    make_route("GET", "/api/account/statistics", "A21", get_statistics),
    make_route("GET", "/api/documents", "DO01", list_document_types),
    make_route("GET", "/api/orders/documents", "OR72", list_order_documents),
    make_route("GET", "/api/orders/documents/download", "OR73", download_documents),
    make_route("POST", "/api/orders/{order_id}/documents", "OR74", upload_documents),
    make_route("DELETE", "/api/orders/documents/{document_id}", "OR76", delete_document),
)


def match_route(
    routes: tuple[Route, ...], method: str, path: str
) -> tuple[Route | None, dict[str, str], bool]:
    """(route, path params, path known for another method)."""
    path_known = False
    for route in routes:
        found = route.pattern.match(path)
        if found is None:
            continue
        if route.method != method:
            path_known = True
            continue
        return route, {k: unquote(v) for k, v in found.groupdict().items()}, True
    return None, {}, path_known
