"""Admin of connections and of what is synced from them."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin import DeliveryFieldsMixin
from incidents import admin_accounts
from incidents.admin_mixins import ReadOnlyInline, SyncedModelAdmin
from incidents.forms import MarketplaceConnectionForm
from incidents.health import ResourceHealth, connection_health
from incidents.models import (
    AuditEntry,
    Incident,
    MarketplaceConnection,
    MarketplaceReason,
    Order,
    OrderLine,
    ResolutionRequest,
    SkippedRecord,
    SyncCursor,
    SyncRun,
)


class SyncCursorInline(ReadOnlyInline):
    """The sync of each resource: its health, then the technical detail."""

    model = SyncCursor
    fields = (
        "resource",
        "health",
        "last_success_at",
        "updated_since",
        "run_started_at",
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

    @admin.display(description=_("last error"))
    def error(self, obj: SyncCursor) -> str:
        health = self._health(obj)
        return health.error if health and health.error else "—"

    @admin.display(description=_("skipped records"))
    def skipped(self, obj: SyncCursor) -> str:
        if not obj.skipped_open:
            return "0"
        url = reverse("admin:incidents_skippedrecord_changelist")
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
        from incidents.tasks import sync_marketplace_task

        ids = list(queryset.filter(is_active=True).values_list("pk", flat=True))
        for pk in ids:
            transaction.on_commit(lambda pk=pk: sync_marketplace_task.delay(pk, full=full))
        self.message_user(request, _("%(n)d sync(s) queued.") % {"n": len(ids)}, messages.SUCCESS)


@admin.register(MarketplaceReason)
class MarketplaceReasonAdmin(SyncedModelAdmin):
    list_display = ("code", "label", "type", "is_shop_right", "connection")
    list_filter = ("connection", "type", "is_shop_right")
    search_fields = ("code", "label")


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ("mirakl_id", "product_title", "quantity", "price", "shipping_price", "state")
    readonly_fields = fields


class IncidentInline(ReadOnlyInline):
    model = Incident
    fk_name = "order"
    fields = ("line", "episode", "state", "reason_label", "opened_at", "closed_at")
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(SyncedModelAdmin):
    list_display = (
        "mirakl_id",
        "connection",
        "state",
        "customer_name",
        "total_price",
        "has_incident",
        "created_date",
        "last_updated_date",
    )
    list_filter = ("connection", "has_incident", "state", "fully_refunded")
    search_fields = (
        "mirakl_id",
        "commercial_id",
        "customer_first_name",
        "customer_last_name",
        "shipping_tracking",
    )
    list_select_related = ("connection",)
    date_hierarchy = "created_date"
    inlines = (OrderLineInline, IncidentInline)


class AuditEntryInline(ReadOnlyInline):
    model = AuditEntry
    fk_name = "incident"
    fields = ("at", "action", "from_state", "to_state", "source", "actor_name", "detail")
    readonly_fields = fields
    show_change_link = False
    ordering = ("at", "pk")

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Incident)
class IncidentAdmin(SyncedModelAdmin):
    list_display = (
        "order",
        "line",
        "episode",
        "state",
        "reason_label",
        "opened_at",
        "closed_at",
        "connection",
    )
    list_filter = ("state", "connection", "reason_label")
    search_fields = ("order__mirakl_id", "order__customer_last_name", "reason_label")
    list_select_related = ("order", "line__order", "connection")
    date_hierarchy = "opened_at"
    inlines = (AuditEntryInline,)


@admin.register(ResolutionRequest)
class ResolutionRequestAdmin(DeliveryFieldsMixin, SyncedModelAdmin):
    """Resolutions asked for here and how their OR64 went; read-only."""

    list_display = ("created_at", "incident", "reason_code", "state", "attempts", "sent_at")
    list_filter = ("state",)
    search_fields = ("incident__order__mirakl_id", "reason_code", "error_message")
    list_select_related = ("incident__order", "incident__line", "delivery")
    date_hierarchy = "created_at"
    readonly_fields = ("attempts", "last_attempt_at", "in_doubt", "last_error", "check_text")


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


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit log: read-only, filterable, searchable by order id, exportable as CSV."""

    list_display = (
        "at",
        "action",
        "actor_name",
        "source",
        "connection",
        "order",
        "incident",
        "from_state",
        "to_state",
        "short_detail",
    )
    list_filter = ("action", "source", "connection", "at")
    search_fields = ("order__mirakl_id",)
    list_select_related = ("connection", "order", "incident__order", "incident__line")
    date_hierarchy = "at"
    readonly_fields = (
        "at",
        "actor",
        "actor_name",
        "source",
        "action",
        "connection",
        "order",
        "incident",
        "from_state",
        "to_state",
        "detail",
        "data",
    )
    actions = ("export_csv",)

    @admin.display(description=_("detail"))
    def short_detail(self, obj: AuditEntry) -> str:
        return obj.detail if len(obj.detail) <= 80 else obj.detail[:79] + "…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("incidents.export_data")

    @admin.action(description=_("Export CSV"), permissions=("export",))
    def export_csv(self, request: HttpRequest, queryset: QuerySet[AuditEntry]):
        from incidents.audit_export import audit_csv_response

        return audit_csv_response(
            entries=queryset.select_related("connection", "order").order_by("at", "pk"),
            actor=request.user,
            filters={"admin_selection": queryset.count()},
        )


# Users and API tokens, narrowed for the admin role (incidents.admin_accounts).
admin_accounts.register()
