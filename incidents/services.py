"""Writes on marketplace connections."""

from __future__ import annotations

from django.db import transaction

from incidents.models import MarketplaceConnection

__all__ = ["marketplace_connection_save"]


@transaction.atomic
def marketplace_connection_save(
    *,
    code: str,
    name: str,
    base_url: str,
    api_key: str,
    shop_id: str = "",
    sla_policy: str = MarketplaceConnection.Policy.DEFAULT,
) -> tuple[MarketplaceConnection, bool]:
    """Create the connection ``code``, or update it if it exists; validates every field.

    Returns the connection and whether it was created. Raises
    ``django.core.exceptions.ValidationError`` with one message per bad field.
    """
    connection = MarketplaceConnection.objects.select_for_update().filter(
        code=code
    ).first() or MarketplaceConnection(code=code)
    created = connection.pk is None
    connection.name = name
    connection.base_url = base_url.rstrip("/")
    connection.api_key = api_key
    connection.shop_id = shop_id
    connection.sla_policy = sla_policy
    connection.full_clean()
    connection.save()
    return connection, created
