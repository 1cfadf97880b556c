"""Request dispatch, independent of sockets: auth, shop check, routing, faults, stats.

``SandboxApp.handle`` turns one HTTP request into an ``Outcome`` (a response, a delay before
sending it, or "drop the connection"). The HTTP server only reads and writes bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from mirakl.sandbox.api import API_ROUTES, match_route
from mirakl.sandbox.control import CONTROL_ROUTES
from mirakl.sandbox.state import SandboxState
from mirakl.sandbox.wire import ApiError, Request, Response, error_response, json_response

__all__ = ["Outcome", "SandboxApp"]

_WRITES = frozenset({"POST", "PUT"})

logger = logging.getLogger("mirakl.sandbox")


@dataclass(slots=True)
class Outcome:
    response: Response | None  # None: hold, then drop the connection without answering
    endpoint: str
    delay_s: float = 0.0


#: What the key's default shop answers when a multi-shop key calls without ``shop_id``:
#: the default shop is another one, with no orders and no threads.
_OTHER_SHOP_PAGES = {
    "OR11": b'{"orders":[],"total_count":0}',
    "M11": b'{"data":[],"next_page_token":null,"previous_page_token":null}',
    "OR72": b'{"order_documents":[],"total_count":0}',
}
#: Platform-wide lists: the same whatever the shop.
_PLATFORM_CALLS = frozenset({"RE01", "DO01"})


class SandboxApp:
    """Dispatch of the sandbox's requests.

    :param multi_shop_key: the API key has access to several shops, and its default shop
        is not the sandbox's: "If [``shop_id`` is] not specified, the shop_id from your
        default shop will be used" (MIRAKL_API.md). A call without ``shop_id`` then reads
        that other shop, which has no orders, threads or documents (RE01 and DO01, the
        marketplace's reasons and document types, answer the same); any other call finds
        nothing (404), the other shop's account (A01, A21) included.
    """

    def __init__(
        self,
        state: SandboxState,
        *,
        api_key: str,
        shop_id: int | str | None,
        multi_shop_key: bool = False,
    ) -> None:
        self.state = state
        self.api_key = api_key
        self.shop_id = None if shop_id is None else str(shop_id)
        self.multi_shop_key = multi_shop_key

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes, base_url: str
    ) -> Outcome:
        split = urlsplit(target)
        path = split.path
        query = parse_qs(split.query, keep_blank_values=True)
        is_control = path.startswith("/_sandbox/")
        routes = CONTROL_ROUTES if is_control else API_ROUTES
        route, params, path_known = match_route(routes, method, path)
        endpoint = route.endpoint if route else ("SANDBOX" if is_control else "UNKNOWN")
        with self.state.lock:
            self.state.stats[endpoint] += 1

        if headers.get("authorization") != self.api_key:
            # Mirakl answers 401 for a missing or an invalid key alike.
            return Outcome(error_response(401, "Unauthorized"), endpoint)
        shop_ids = query.get("shop_id")
        if shop_ids and not is_control:
            if not shop_ids[0].isdigit():
                return Outcome(
                    error_response(400, f"Invalid value '{shop_ids[0]}' for parameter 'shop_id'"),
                    endpoint,
                )
            if self.shop_id is not None and shop_ids[0] != self.shop_id:
                return Outcome(
                    error_response(403, f"You are not authorized to access shop {shop_ids[0]}"),
                    endpoint,
                )
        if self.multi_shop_key and not shop_ids and not is_control and route is not None:
            if route.endpoint in _OTHER_SHOP_PAGES:
                return Outcome(json_response(200, _OTHER_SHOP_PAGES[route.endpoint]), endpoint)
            if route.endpoint not in _PLATFORM_CALLS:
                return Outcome(error_response(404, "Not found in your default shop"), endpoint)
        if route is None:
            if path_known:
                return Outcome(error_response(405, f"Method {method} not allowed"), endpoint)
            return Outcome(error_response(404, f"No endpoint {method} {path}"), endpoint)

        delay = 0.0
        if not is_control:
            fault = self.state.faults.draw()
            if fault is not None:
                delay = fault.delay_s
                if fault.kind == "429":
                    response = error_response(429, "Too Many Requests")
                    response.headers["Retry-After"] = str(fault.retry_after)
                    return Outcome(response, endpoint, delay)
                if fault.kind == "500":
                    return Outcome(error_response(500, "Internal Server Error"), endpoint, delay)
                if fault.kind == "timeout":
                    return Outcome(None, endpoint, fault.timeout_s)

        request = Request(
            method=method,
            path=path,
            query=query,
            headers=headers,
            body=body,
            base_url=base_url,
            raw_query=split.query,
        )
        if not is_control and method in _WRITES:
            late_s = self.state.faults.draw_late()
            if late_s is not None:
                handler = route.handler
                self.state.defer(late_s, lambda: handler(self.state, request, params))
                return Outcome(error_response(504, "Gateway Timeout"), endpoint, delay)
        try:
            with self.state.lock:
                self.state.process_due()
                response = route.handler(self.state, request, params)
        except ApiError as exc:
            response = exc.to_response()
        except Exception:  # a sandbox bug must still answer like a server would
            logger.exception("sandbox error on %s %s", method, path)
            response = error_response(500, "Internal Server Error")
        return Outcome(response, endpoint, delay)
