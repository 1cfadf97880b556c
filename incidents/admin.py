"""The incidents app in the admin: orders with their incidents, incidents, resolutions,
and the audit log (append-only: viewed and exported, never changed)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.admin import DeliveryFieldsMixin
from core.admin_mixins import ReadOnlyInline, SyncedModelAdmin
from core.models import Order, OrderLine
from incidents.audit_export import audit_csv_response
from incidents.models import AuditEntry, Incident, ResolutionRequest


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
        return audit_csv_response(
            entries=queryset.select_related("connection", "order").order_by("at", "pk"),
            actor=request.user,
            filters={"admin_selection": queryset.count()},
        )
