"""Authentication backend: the user and their permissions in one query per request.

Django's ``ModelBackend`` reads the user, then their own permissions, then their groups'
permissions (three queries on every page that checks one). On Postgres the permission
names come with the user, as an array, and fill ``ModelBackend``'s per-request cache;
so do the marketplaces the user sees (:mod:`core.scoping`).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db import connections, router
from django.db.models import F, OuterRef, Q, Value
from django.db.models.functions import Concat

from core.scoping import MarketplaceAccess, scope_remember

__all__ = ["UserWithPermissionsBackend"]


class UserWithPermissionsBackend(ModelBackend):
    """``ModelBackend`` whose ``get_user`` also loads the user's permission names."""

    def get_user(self, user_id: Any) -> Any:
        user_model = get_user_model()
        if connections[router.db_for_read(user_model)].vendor != "postgresql":
            return super().get_user(user_id)
        from django.contrib.postgres.expressions import ArraySubquery

        names = (
            Permission.objects.filter(Q(user=OuterRef("pk")) | Q(group__user=OuterRef("pk")))
            .annotate(perm=Concat(F("content_type__app_label"), Value("."), F("codename")))
            .values("perm")
            .distinct()
        )
        scope = MarketplaceAccess.objects.filter(user_id=OuterRef("pk")).values("connection_id")
        user = (
            user_model._default_manager.annotate(
                permission_names=ArraySubquery(names), scope_ids=ArraySubquery(scope)
            )
            .filter(pk=user_id)
            .first()
        )
        if user is None or not self.user_can_authenticate(user):
            return None
        if not user.is_superuser:
            # What ModelBackend.get_all_permissions would compute, without two queries.
            user._perm_cache = set(user.permission_names)
        # The marketplaces they see (core.scoping), without a query of its own.
        scope_remember(user, user.scope_ids)
        return user
