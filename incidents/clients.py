"""Building a Mirakl client for a marketplace connection."""

from __future__ import annotations

from django.conf import settings

from incidents.models import MarketplaceConnection
from mirakl.client import MiraklClient

__all__ = ["client_for"]


def client_for(connection: MarketplaceConnection) -> MiraklClient:
    """A client with the connection's decrypted key and the configured timeouts."""
    return MiraklClient(
        base_url=connection.base_url,
        api_key=connection.api_key,
        shop_id=connection.shop_id or None,
        timeout=(5.0, settings.MIRAKL_TIMEOUT_SECONDS),
        max_retries=settings.MIRAKL_MAX_RETRIES,
    )
