"""Users and API tokens in the admin: the ``admin`` role manages them without becoming more.

The role holds ``auth.change_user`` and the token permissions (``core.roles``); the
stock admins would let it make itself a superuser or act as anyone. For users who are not
superusers:

- **Users**: the account fields, the active and staff flags and the three role groups,
  nothing else: never the superuser flag, never single permissions, never another group.
  Their own groups and flags are read-only (an admin does not make itself an agent).
  A superuser's account is read-only to them: no change, no password, no deletion.
- **API tokens**: they see, create and revoke only their own token (the key is shown
  once, on the page that created it). Nobody's list shows keys.

Superusers keep the stock behaviour.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from core.roles import ROLE_PERMISSIONS
from core.scoping import MarketplaceAccess

__all__ = ["ROLE_GROUPS", "MarketplaceAccessInline", "RoleUserAdmin", "TokenOwnAdmin"]

User = get_user_model()

#: The groups a non-superuser may give: the product's roles.
ROLE_GROUPS: tuple[str, ...] = tuple(ROLE_PERMISSIONS)

#: Fields only superusers see and change.
_SUPERUSER_ONLY = ("is_superuser", "user_permissions")
#: Fields of one's own account a non-superuser cannot change.
_NOT_ON_ONESELF = ("is_active", "is_staff", "groups")


def _limited(request: HttpRequest) -> bool:
    return not request.user.is_superuser


class MarketplaceAccessInline(admin.TabularInline):
    """The marketplaces an agent or account manager sees; none chosen: every one."""

    model = MarketplaceAccess
    extra = 0
    autocomplete_fields = ()
    verbose_name = _("marketplace this user sees")
    verbose_name_plural = _(
        "Marketplaces this user sees (none: every marketplace). The queue, the pages, "
        "the API and the alerts show only these."
    )


class RoleUserAdmin(UserAdmin):
    """Django's user admin, narrowed for non-superusers (see the module docstring)."""

    inlines = (MarketplaceAccessInline,)

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        # The add page stays Django's two-step form: the scope is set on the user's page.
        return super().get_inline_instances(request, obj) if obj is not None else []

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not _limited(request):
            return fieldsets
        narrowed = []
        for name, options in fieldsets:
            fields = [f for f in options["fields"] if f not in _SUPERUSER_ONLY]
            narrowed.append((name, {**options, "fields": fields}))
        return narrowed

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and _limited(request) and obj.pk == request.user.pk:
            fields += [f for f in _NOT_ON_ONESELF if f not in fields]
        return fields

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "groups" and _limited(request):
            kwargs["queryset"] = Group.objects.filter(name__in=ROLE_GROUPS).order_by("name")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and _limited(request):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and _limited(request):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """The form already leaves these out; this refuses whatever got past it."""
        if _limited(request):
            stored = User.objects.filter(pk=obj.pk).first() if change else None
            was_superuser = stored is not None and stored.is_superuser
            if was_superuser or obj.is_superuser:
                raise PermissionDenied
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if _limited(request):
            chosen = form.cleaned_data.get("groups")
            if chosen is not None and chosen.exclude(name__in=ROLE_GROUPS).exists():
                raise PermissionDenied
        super().save_related(request, form, formsets, change)


class TokenOwnAdmin(TokenAdmin):
    """API tokens: no key in any list; non-superusers see, create and revoke their own."""

    list_display = ("user", "created")
    list_display_links = ("user",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[TokenProxy]:
        tokens = super().get_queryset(request).select_related("user")
        return tokens.filter(user=request.user) if _limited(request) else tokens

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "user" and _limited(request):
            kwargs["queryset"] = User.objects.filter(pk=request.user.pk)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {**super().get_changeform_initial_data(request), "user": request.user.pk}

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A token is created or revoked, never edited (moving it to another user would
        # hand that user a key someone else has seen).
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if _limited(request) and obj.user_id != request.user.pk:
            raise PermissionDenied
        super().save_model(request, obj, form, change)

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> Any:
        """The new key, shown this once to whoever created it (never stored in a message)."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": self.opts.verbose_name,
            "token": obj,
            "changelist_url": self._changelist_url(),
        }
        response: HttpResponse = TemplateResponse(
            request, "admin/authtoken/token_created.html", context
        )
        add_never_cache_headers(response)  # no-store: no cache keeps the key
        return response

    def _changelist_url(self) -> str:
        from django.urls import reverse

        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist",
            current_app=self.admin_site.name,
        )


def register() -> None:
    """Put these admins in place of the stock ones (``incidents.admin`` calls it)."""
    for model, model_admin in ((User, RoleUserAdmin), (TokenProxy, TokenOwnAdmin)):
        if admin.site.is_registered(model):
            admin.site.unregister(model)
        admin.site.register(model, model_admin)
