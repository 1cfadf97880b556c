"""Admin building blocks shared by the apps."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

__all__ = ["ReadOnlyInline", "SyncedModelAdmin"]


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
