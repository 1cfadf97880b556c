"""Admin building blocks shared by the apps."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.mirakl_codes import mirakl_label

__all__ = ["MiraklStateFilter", "ReadOnlyInline", "SyncedModelAdmin"]


class MiraklStateFilter(admin.SimpleListFilter):
    """Filter on a Mirakl state field (``state``), its values in words."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        values = model_admin.model.objects.order_by().values_list("state", flat=True).distinct()
        return sorted(((v, mirakl_label(v)) for v in values if v), key=lambda c: c[1])

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(state=self.value()) if self.value() else queryset


class SyncedModelAdmin(admin.ModelAdmin):
    """Admin for rows that mirror Mirakl: viewable and searchable, never edited here.

    Editing a synced row would be overwritten by the next sync and would make us
    disagree with the marketplace, so the admin shows these read-only.
    """

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
