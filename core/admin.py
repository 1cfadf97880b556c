"""The outbox in the admin: read-only (rows are retried from the pages that show them)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.outbox.models import OutboxEntry

__all__ = ["DeliveryFieldsMixin", "OutboxEntryAdmin"]


class DeliveryFieldsMixin:
    """Read-only columns of a domain row's ``delivery`` (its outbox entry), for the admins
    of the rows the outbox sends; add ``list_select_related = (..., "delivery")``."""

    @admin.display(description=_("attempts"))
    def attempts(self, obj: object) -> int:
        delivery = getattr(obj, "delivery", None)
        return delivery.attempts if delivery else 0

    @admin.display(description=_("last attempt"))
    def last_attempt_at(self, obj: object) -> object:
        delivery = getattr(obj, "delivery", None)
        return delivery.last_attempt_at if delivery else None

    @admin.display(description=_("outcome unknown"), boolean=True)
    def in_doubt(self, obj: object) -> bool:
        delivery = getattr(obj, "delivery", None)
        return bool(delivery and delivery.in_doubt)

    @admin.display(description=_("last error"))
    def last_error(self, obj: object) -> str:
        delivery = getattr(obj, "delivery", None)
        return delivery.last_error if delivery else ""

    @admin.display(description=_("check in Mirakl"))
    def check_text(self, obj: object) -> str:
        delivery = getattr(obj, "delivery", None)
        return delivery.check_text() if delivery else ""


@admin.register(OutboxEntry)
class OutboxEntryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "kind",
        "group_key",
        "state",
        "in_doubt",
        "attempts",
        "next_attempt_at",
        "done_at",
    )
    list_filter = ("state", "kind", "in_doubt")
    search_fields = ("group_key", "last_error")
    date_hierarchy = "created_at"
    readonly_fields = (*(f.name for f in OutboxEntry._meta.fields), "check_text")

    @admin.display(description=_("check in Mirakl"))
    def check_text(self, obj: OutboxEntry) -> str:
        return obj.check_text()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: OutboxEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: OutboxEntry | None = None) -> bool:
        return False
