"""The bottom floor in the admin: connections, their sync, and the outbox (read-only).

Outbox rows are retried from the pages that show them, not from here.
"""

from __future__ import annotations

from functools import partial

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core import admin_accounts
from core.admin_mixins import ReadOnlyInline, SyncedModelAdmin
from core.forms import MarketplaceConnectionForm
from core.models import MarketplaceConnection, MarketplaceReason
from core.outbox.models import OutboxEntry
from core.shop_account import ShopAccountSnapshot
from core.sync.health import ResourceHealth, connection_health
from core.sync.models import SkippedRecord, SyncCursor, SyncRun
from core.sync.tasks import sync_marketplace_task

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


class SyncCursorInline(ReadOnlyInline):
    """The sync of each resource: its health, then the technical detail."""

    model = SyncCursor
    fields = (
        "resource",
        "health",
        "last_success_at",
        "updated_since",
        "run_started",
        "error",
        "last_error",
        "skipped",
    )
    readonly_fields = fields
    show_change_link = False
    verbose_name_plural = _("sync health")

    def _health(self, obj: SyncCursor) -> ResourceHealth | None:
        return connection_health(obj.connection, [obj]).resource(obj.resource)

    @admin.display(description=_("health"))
    def health(self, obj: SyncCursor) -> str:
        health = self._health(obj)
        if health is None:
            return "—"
        return format_html("<strong>{}</strong> · {}", health.state.label, health.data_age)

    @admin.display(description=_("run started at"))
    def run_started(self, obj: SyncCursor) -> object:
        """When the run in progress started ("—" between runs)."""
        return obj.run_started_at or "—"

    @admin.display(description=_("last error"))
    def error(self, obj: SyncCursor) -> str:
        health = self._health(obj)
        return health.error if health and health.error else "—"

    @admin.display(description=_("skipped records"))
    def skipped(self, obj: SyncCursor) -> str:
        if not obj.skipped_open:
            return "0"
        url = reverse("admin:core_skippedrecord_changelist")
        query = f"connection__id__exact={obj.connection_id}&resource__exact={obj.resource}"
        return format_html(
            '<a href="{}?{}&resolved_at__isempty=1">{}</a>', url, query, obj.skipped_open
        )


@admin.register(MarketplaceConnection)
class MarketplaceConnectionAdmin(admin.ModelAdmin):
    form = MarketplaceConnectionForm
    list_display = (
        "name",
        "code",
        "base_url",
        "shop_id",
        "sla_policy",
        "is_active",
        "sync_health",
    )
    list_filter = ("is_active", "sla_policy")
    search_fields = ("name", "code", "base_url")
    readonly_fields = ("created_at", "updated_at")
    inlines = (SyncCursorInline,)
    actions = ("sync_now", "full_sync_now")

    def get_queryset(self, request: HttpRequest) -> QuerySet[MarketplaceConnection]:
        return super().get_queryset(request).prefetch_related("sync_cursors")

    @admin.display(description=_("sync"))
    def sync_health(self, obj: MarketplaceConnection) -> str:
        """State and age of the data; the last error, and what was skipped, if any."""
        health = connection_health(obj, obj.sync_cursors.all())
        parts = [format_html("<strong>{}</strong> · {}", health.state.label, health.data_age)]
        for resource in health.errors:
            parts.append(format_html("<br>{}: {}", resource.label, resource.error))
        if health.skipped:
            parts.append(
                format_html(
                    "<br>{}",
                    ngettext("%(n)d record skipped", "%(n)d records skipped", health.skipped)
                    % {"n": health.skipped},
                )
            )
        return mark_safe("".join(parts))  # noqa: S308 - every part escaped by format_html

    @admin.action(description=_("Sync now"))
    def sync_now(self, request: HttpRequest, queryset: QuerySet[MarketplaceConnection]) -> None:
        self._enqueue(request, queryset, full=False)

    @admin.action(description=_("Full sync now (re-read everything)"))
    def full_sync_now(
        self, request: HttpRequest, queryset: QuerySet[MarketplaceConnection]
    ) -> None:
        self._enqueue(request, queryset, full=True)

    def _enqueue(
        self, request: HttpRequest, queryset: QuerySet[MarketplaceConnection], *, full: bool
    ) -> None:

        ids = list(queryset.filter(is_active=True).values_list("pk", flat=True))
        for pk in ids:
            transaction.on_commit(partial(sync_marketplace_task.delay, pk, full=full))
        self.message_user(request, _("%(n)d sync(s) queued.") % {"n": len(ids)}, messages.SUCCESS)


@admin.register(MarketplaceReason)
class MarketplaceReasonAdmin(SyncedModelAdmin):
    list_display = ("code", "label", "type", "is_shop_right", "connection")
    list_filter = ("connection", "type", "is_shop_right")
    search_fields = ("code", "label")


@admin.register(SyncRun)
class SyncRunAdmin(SyncedModelAdmin):
    list_display = (
        "connection",
        "resource",
        "status",
        "started_at",
        "finished_at",
        "created",
        "updated",
        "unchanged",
        "skipped",
        "requests",
        "resumed",
    )
    list_filter = ("connection", "resource", "status", "full", "resumed")
    list_select_related = ("connection",)
    date_hierarchy = "started_at"


@admin.register(SkippedRecord)
class SkippedRecordAdmin(SyncedModelAdmin):
    """What the sync could not store: read-only, for an admin to look at Mirakl's data."""

    list_display = (
        "seen_at",
        "connection",
        "resource",
        "kind",
        "mirakl_id",
        "reason",
        "short_detail",
        "resolved_at",
    )
    list_filter = (
        "connection",
        "resource",
        "kind",
        "reason",
        ("resolved_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("mirakl_id", "detail")
    list_select_related = ("connection",)
    date_hierarchy = "seen_at"
    fields = (
        "connection",
        "resource",
        "kind",
        "mirakl_id",
        "reason",
        "detail",
        "excerpt",
        "first_seen_at",
        "seen_at",
        "resolved_at",
    )
    readonly_fields = fields

    @admin.display(description=_("detail"))
    def short_detail(self, obj: SkippedRecord) -> str:
        return obj.detail if len(obj.detail) <= 80 else obj.detail[:79] + "…"


# Users and API tokens, narrowed for the admin role (core.admin_accounts).
admin_accounts.register()


@admin.register(ShopAccountSnapshot)
class ShopAccountSnapshotAdmin(SyncedModelAdmin):
    """A01 answers, one per day at most; read-only."""

    list_display = (
        "connection",
        "fetched_at",
        "shop_state",
        "suspension_type",
        "payable_balance",
        "pending_balance",
        "currency",
    )
    list_filter = ("connection", "shop_state")
    list_select_related = ("connection",)
    date_hierarchy = "fetched_at"
