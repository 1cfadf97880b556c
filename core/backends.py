"""Authentication backend: the user and their permissions in one query per request.

Django's ``ModelBackend`` reads the user, then their own permissions, then their groups'
permissions (three queries on every page that checks one). On Postgres the permission
names come with the user, as an array, and fill ``ModelBackend``'s per-request cache;
so do the marketplaces the user sees (:mod:`core.scoping`).

That query runs on every request, and Postgres took longer to plan it (0.34 ms of its
CPU on the inbox benchmark's data) than to run it (0.13 ms). It is a prepared statement
on each database connection (:func:`core.precompiled.prepared_statement`): Postgres
plans it for the connection, not for each request.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db import connections, router
from django.db.models import F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Concat

from core.precompiled import PrecompiledQuery, prepared_statement
from core.scoping import MarketplaceAccess, scope_remember

__all__ = ["UserWithPermissionsBackend"]


#: Stands in for the user's id in the query compiled once (:func:`_user_query`).
_USER_STAND_IN = -1_999_999_001


def _user_with_permissions(*, user_id: Any) -> QuerySet[Any]:
    """The user, with their permission names and the marketplaces they see as arrays.

    A permission is theirs when its id is among their own or their groups' (two index
    lookups), not when a join of every permission with every user's and group's grant
    holds them: that join, sorted and made distinct, cost Postgres 0.8 ms on every
    request, this 0.35 ms. The names go to a set: no order, no DISTINCT."""
    from django.contrib.postgres.expressions import ArraySubquery

    user_model = get_user_model()
    own = user_model.user_permissions.through.objects.filter(
        user_id=OuterRef(OuterRef("pk"))
    ).values("permission_id")
    via_groups = Group.permissions.through.objects.filter(
        group__user=OuterRef(OuterRef("pk"))
    ).values("permission_id")
    names = (
        Permission.objects.filter(Q(pk__in=own) | Q(pk__in=via_groups))
        .order_by()
        .annotate(perm=Concat(F("content_type__app_label"), Value("."), F("codename")))
        .values("perm")
    )
    scope = MarketplaceAccess.objects.filter(user_id=OuterRef("pk")).values("connection_id")
    return user_model._default_manager.annotate(
        permission_names=ArraySubquery(names), scope_ids=ArraySubquery(scope)
    ).filter(pk=user_id)


#: Its SQL is written once per process: compiling it cost every page a few milliseconds.
_USER_QUERY = PrecompiledQuery(_user_with_permissions, user_id=_USER_STAND_IN)
#: The prepared statement's name on each connection.
_PREPARED = "incidesk_user_with_permissions"


class UserWithPermissionsBackend(ModelBackend):
    """``ModelBackend`` whose ``get_user`` also loads the user's permission names."""

    def get_user(self, user_id: Any) -> Any:
        user_model = get_user_model()
        using = router.db_for_read(user_model)
        if connections[using].vendor != "postgresql":
            return super().get_user(user_id)
        pk = user_model._meta.pk.get_prep_value(user_id)
        sql, params = _USER_QUERY.bind(using, {"user_id": pk})
        statement = prepared_statement(using, sql, name=_PREPARED)
        user = next(
            iter(user_model._default_manager.db_manager(using).raw(statement, params)), None
        )
        if user is None or not self.user_can_authenticate(user):
            return None
        if not user.is_superuser:
            # What ModelBackend.get_all_permissions would compute, without two queries.
            user._perm_cache = set(user.permission_names)
        # The marketplaces they see (core.scoping), without a query of its own.
        scope_remember(user, user.scope_ids)
        return user
