"""The uploads in the admin: read-only (they are sent by the outbox)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from documents.models import DocumentUpload


@admin.register(DocumentUpload)
class DocumentUploadAdmin(admin.ModelAdmin):
    list_display = ("file_name", "order", "type_label", "state", "created_by", "created_at")
    list_filter = ("state", "connection")
    search_fields = ("file_name", "order__mirakl_id")
    exclude = ("content",)
    readonly_fields = [
        f.name for f in DocumentUpload._meta.get_fields() if f.concrete and f.name != "content"
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
