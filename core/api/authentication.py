"""Token authentication that reads the marketplaces the user sees with the token.

DRF's ``TokenAuthentication`` reads the token and its user in one query; this one adds
the user's scope (:mod:`core.scoping`) to that same query on Postgres, so a scoped API
answers with no query more than before scoping existed.
"""

from __future__ import annotations

from typing import Any

from django.db import connections, router
from django.db.models import OuterRef
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from core.scoping import MarketplaceAccess, scope_remember

__all__ = ["ScopedTokenAuthentication"]


class ScopedTokenAuthentication(TokenAuthentication):
    """``TokenAuthentication`` whose query also brings the user's marketplaces."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        model = self.get_model()
        if connections[router.db_for_read(model)].vendor != "postgresql":
            return super().authenticate_credentials(key)
        from django.contrib.postgres.expressions import ArraySubquery

        scope = MarketplaceAccess.objects.filter(user_id=OuterRef("user_id")).values(
            "connection_id"
        )
        token = (
            model._default_manager.select_related("user")
            .annotate(scope_ids=ArraySubquery(scope))
            .filter(key=key)
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        scope_remember(token.user, token.scope_ids)
        return (token.user, token)
