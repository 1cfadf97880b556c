"""What every API view shares: role permissions, login handling and pagination.

A view names the permissions each HTTP method needs (``required_permissions``); the
roles of ``core.roles`` grant them through their groups, so the API, the pages
and the admin all answer to the same groups.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.decorators import login_not_required
from django.utils.cache import patch_cache_control
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from core.api.pagination import KeysetCursorPagination

__all__ = ["READ", "ApiView", "RolePermission", "StableCursorPagination"]

#: Every role can read what is synced: the permission that says "has a desk role".
READ = "incidents.view_incident"


class RolePermission(BasePermission):
    """Authenticated, and holding every permission the view lists for the method.

    ``required_permissions`` maps a method (``GET`` also covers ``HEAD`` and
    ``OPTIONS``) to permission names; a method the view has but does not list is
    refused.
    """

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        method = request.method.upper()
        if method in ("HEAD", "OPTIONS"):
            method = "GET"
        required = getattr(view, "required_permissions", {}).get(method)
        if required is None:
            # Not a method of the view: let it answer 405. A method it has but does
            # not list is refused.
            return method not in {m.upper() for m in view.allowed_methods}
        return user.has_perms(required)


class ApiView(APIView):
    """Mixin of every API view: DRF authenticates, not the login-redirect middleware.

    ``LoginRequiredMiddleware`` would send an anonymous script (token in the header,
    not yet read) to the login page; DRF answers 401 itself. Every answer carries
    ``Cache-Control: no-store, private``: it holds a shop's orders and customers, and no
    browser or proxy cache may keep it.
    """

    permission_classes = (RolePermission,)
    required_permissions: ClassVar[dict[str, list[str]]] = {"GET": [READ]}

    @classmethod
    def as_view(cls, *args: Any, **kwargs: Any) -> Any:
        return login_not_required(super().as_view(*args, **kwargs))

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        patch_cache_control(response, no_store=True, private=True)
        return response


class StableCursorPagination(KeysetCursorPagination):
    """Cursor pages, newest first (by primary key); ``page_size`` up to 200."""
