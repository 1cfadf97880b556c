"""Admin of connections and of what is synced from them."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from incidents.admin_mixins import ReadOnlyInline, SyncedModelAdmin
from incidents.forms import MarketplaceConnectionForm
from incidents.models import (
    Incident,
    IncidentEvent,
    MarketplaceConnection,
    MarketplaceReason,
    Order,
    OrderLine,
    SyncCursor,
    SyncRun,
)


class SyncCursorInline(ReadOnlyInline):
    model = SyncCursor
    fields = ("resource", "updated_since", "last_success_at", "run_started_at", "last_error")
    readonly_fields = fields
    show_change_link = False


@admin.register(MarketplaceConnection)
class MarketplaceConnectionAdmin(admin.ModelAdmin):
    form = MarketplaceConnectionForm
    list_display = ("name", "code", "base_url", "shop_id", "sla_policy", "is_active")
    list_filter = ("is_active", "sla_policy")
    search_fields = ("name", "code", "base_url")
    readonly_fields = ("created_at", "updated_at")
    inlines = (SyncCursorInline,)
    actions = ("sync_now", "full_sync_now")

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


class IncidentEventInline(ReadOnlyInline):
    model = IncidentEvent
    fields = ("at", "kind", "from_state", "to_state", "source", "actor", "note")
    readonly_fields = fields
    show_change_link = False


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
    inlines = (IncidentEventInline,)


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
