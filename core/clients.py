"""Building a Mirakl client for a marketplace connection (and for the outbox's writes)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from core.models import MarketplaceConnection
from core.outbox.adapters import Adapter
from mirakl.client import MiraklClient

__all__ = ["MiraklAdapter", "client_for"]


def client_for(connection: MarketplaceConnection) -> MiraklClient:
    """A client with the connection's decrypted key and the configured timeouts."""
    return MiraklClient(
        base_url=connection.base_url,
        api_key=connection.api_key,
        shop_id=connection.shop_id or None,
        timeout=(5.0, settings.MIRAKL_TIMEOUT_SECONDS),
        max_retries=settings.MIRAKL_MAX_RETRIES,
    )


class MiraklAdapter(Adapter):
    """An outbox adapter whose rows belong to a marketplace connection (``row.connection``)
    and are written with that connection's client."""

    def connection(self, row: Any) -> MarketplaceConnection:
        return row.connection

    def client(self, connection: MarketplaceConnection) -> MiraklClient:
        return client_for(connection)
