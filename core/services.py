"""Writes of the bottom floor: marketplace connections."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from core.models import MarketplaceConnection
from core.validators import api_key_for_host

__all__ = ["marketplace_connection_save"]


@transaction.atomic
def marketplace_connection_save(
    *,
    code: str,
    name: str,
    base_url: str,
    api_key: str | None,
    shop_id: str = "",
    sla_policy: str = MarketplaceConnection.Policy.DEFAULT,
) -> tuple[MarketplaceConnection, bool]:
    """Create the connection ``code``, or update it if it exists; validates every field.

    ``api_key=None`` keeps the stored key of an existing connection, unless the base
    URL moves to another host: a key is never sent to a host it was not entered for, so
    a new host needs the key again. A key must be visible ASCII only
    (:func:`core.validators.validate_api_key`).

    Returns the connection and whether it was created. Raises
    ``django.core.exceptions.ValidationError`` with one message per bad field.
    """
    connection = MarketplaceConnection.objects.select_for_update().filter(
        code=code
    ).first() or MarketplaceConnection(code=code)
    created = connection.pk is None
    base_url = base_url.rstrip("/")
    try:
        api_key = api_key_for_host(
            api_key,
            base_url=base_url,
            stored_key=None if created else connection.api_key,
            stored_base_url=None if created else connection.base_url,
        )
    except ValidationError as exc:
        raise ValidationError({"api_key": exc.messages}) from exc
    connection.name = name
    connection.base_url = base_url
    connection.api_key = api_key
    connection.shop_id = shop_id
    connection.sla_policy = sla_policy
    connection.full_clean()
    connection.save()
    return connection, created
