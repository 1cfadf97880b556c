"""One API key, several shops: the sandbox standing in for an operator account whose key
reaches several shops, as a fleet of connections sharing one marketplace does.

Mirakl answers a call with ``shop_id`` from that shop, and one without from the key's
default shop ("If [``shop_id`` is] not specified, the shop_id from your default shop
will be used", MIRAKL_API.md). Here the default shop is another, empty one (see
:class:`~mirakl.sandbox.app.SandboxApp`'s ``multi_shop_key``): a client that forgets
``shop_id`` syncs nothing rather than another connection's data, and a ``shop_id`` the
key does not reach is refused (403). Each shop has its own state (orders, threads,
clock position, faults drawn) and its own request counts.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from mirakl.sandbox.app import Outcome, SandboxApp

__all__ = ["ShopRouter"]


class ShopRouter:
    """Dispatch each request to the app of the shop its ``shop_id`` names.

    Calls without ``shop_id`` (and the control API's, unless they name a shop) go to the
    first shop's app, which answers them as the key's empty default shop would.
    """

    def __init__(self, apps: dict[str, SandboxApp]) -> None:
        if not apps:
            raise ValueError("a shop router needs one shop at least")
        self.apps = apps
        self.first = next(iter(apps.values()))

    @property
    def api_key(self) -> str:
        return self.first.api_key

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes, base_url: str
    ) -> Outcome:
        shop_ids = parse_qs(urlsplit(target).query).get("shop_id")
        app = self.apps.get(shop_ids[0], self.first) if shop_ids else self.first
        return app.handle(method, target, headers, body, base_url)
