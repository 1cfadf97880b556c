"""Which marketplaces a user may see: the one answer every page, API view and alert asks.

Agents and account managers can be scoped to some marketplaces (in the admin, on the
user's page): one :class:`MarketplaceAccess` row per marketplace they may see. A user
with no row sees every marketplace, as before scoping existed; superusers always do.
Everything that lists or shows what belongs to a marketplace (the queue, the order and
incident pages, the API's lists and details, the SLA review and KPIs) filters through
:func:`visible_connection_ids` / :func:`scope_queryset`, and the alerts of a
marketplace go only to the users who see it (:func:`users_seeing`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any, TypeVar

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _

__all__ = [
    "MarketplaceAccess",
    "can_see_connection",
    "scope_queryset",
    "scope_remember",
    "scoped_user_ids",
    "users_seeing",
    "visible_connection_ids",
]

M = TypeVar("M", bound=models.Model)

#: Where a user's answer is kept for the rest of the request (the user object lives
#: as long as the request does).
_CACHE_ATTRIBUTE = "_incidesk_visible_connections"


class MarketplaceAccess(models.Model):
    """One marketplace a scoped user may see. A user with none sees them all."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="marketplace_access",
        verbose_name=_("user"),
    )
    connection = models.ForeignKey(
        "core.MarketplaceConnection",
        on_delete=models.CASCADE,
        related_name="access",
        verbose_name=_("marketplace"),
    )

    class Meta:
        verbose_name = _("marketplace the user sees")
        verbose_name_plural = _("marketplaces the user sees (none: all)")
        constraints = [
            models.UniqueConstraint(
                fields=("user", "connection"), name="%(app_label)s_%(class)s_unique_user_conn"
            )
        ]
        indexes = [models.Index(fields=("connection",), name="access_connection_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.connection_id}"


def visible_connection_ids(user: Any) -> frozenset[int] | None:
    """The ids of the connections ``user`` may see, or None for every connection.

    Anonymous users see none; superusers and users without a scope see all. The answer
    is kept on the user object, so a request asks the database once.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return frozenset()
    if getattr(user, "is_superuser", False):
        return None
    cached: frozenset[int] | None | bool = getattr(user, _CACHE_ATTRIBUTE, False)
    if not isinstance(cached, bool):
        return cached
    ids = frozenset(
        MarketplaceAccess.objects.filter(user_id=user.pk).values_list("connection_id", flat=True)
    )
    answer = ids or None
    with contextlib.suppress(AttributeError):  # a user object that refuses attributes
        setattr(user, _CACHE_ATTRIBUTE, answer)
    return answer


def scope_remember(user: Any, connection_ids: Iterable[int] | None) -> None:
    """Keep on ``user`` the connections it sees, read with it (the login backend loads
    them in the user's own query): :func:`visible_connection_ids` asks nothing more."""
    ids = frozenset(connection_ids or ())
    with contextlib.suppress(AttributeError):
        setattr(user, _CACHE_ATTRIBUTE, ids or None)


def can_see_connection(user: Any, connection_id: int | None) -> bool:
    """Whether ``user`` may see what belongs to this connection."""
    ids = visible_connection_ids(user)
    return ids is None or connection_id in ids


def scope_queryset(queryset: QuerySet[M], user: Any, field: str = "connection") -> QuerySet[M]:
    """``queryset`` narrowed to the connections ``user`` may see.

    :param field: the lookup from the model to its connection (``connection``,
        ``order__connection``, ``line__order__connection`` …), or ``pk`` for connections.
    """
    ids = visible_connection_ids(user)
    if ids is None:
        return queryset
    lookup = "pk__in" if field == "pk" else f"{field}_id__in"
    return queryset.filter(**{lookup: sorted(ids)})


def users_seeing(users: QuerySet[M], connection_id: int) -> QuerySet[M]:
    """The users of ``users`` who see this connection: scoped to it, or not scoped."""
    scoped = MarketplaceAccess.objects.filter(user_id=OuterRef("pk"))
    return users.filter(
        Q(is_superuser=True) | ~Exists(scoped) | Exists(scoped.filter(connection_id=connection_id))
    )


def scoped_user_ids(user_ids: Iterable[int]) -> dict[int, frozenset[int]]:
    """Scoped users among ``user_ids`` → the connections they see (one query).

    Users missing from the answer see every connection (superusers are not checked
    here: alert recipients are desk users).
    """
    scopes: dict[int, set[int]] = {}
    for user_id, connection_id in MarketplaceAccess.objects.filter(
        user_id__in=list(user_ids)
    ).values_list("user_id", "connection_id"):
        scopes.setdefault(user_id, set()).add(connection_id)
    return {user_id: frozenset(ids) for user_id, ids in scopes.items()}
