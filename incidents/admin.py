"""The incidents app in the admin: orders with their incidents, incidents, resolutions,
and the audit log (append-only: viewed and exported, never changed)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.admin import DeliveryFieldsMixin
from core.admin_mixins import MiraklStateFilter, ReadOnlyInline, SyncedModelAdmin
from core.mirakl_codes import mirakl_label
from core.models import Order, OrderLine
from core.reasons import reason_label
from incidents.audit import history_text
from incidents.audit_export import audit_csv_response
from incidents.models import AuditEntry, Incident, ResolutionRequest


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ("mirakl_id", "product_title", "quantity", "price", "shipping_price", "state_label")
    readonly_fields = fields

    @admin.display(description=_("state"))
    def state_label(self, obj: OrderLine) -> str:
        return mirakl_label(obj.state)


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
        "state_label",
        "customer_name",
        "total_price",
        "has_incident",
        "created_date",
        "last_updated_date",
    )
    list_filter = ("connection", "has_incident", MiraklStateFilter, "fully_refunded")
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

    @admin.display(description=_("state"), ordering="state")
    def state_label(self, obj: Order) -> str:
        return mirakl_label(obj.state)


class AuditEntryInline(ReadOnlyInline):
    model = AuditEntry
    fk_name = "incident"
    fields = ("at", "action", "from_state", "to_state", "source", "actor_name", "detail_text")
    readonly_fields = fields
    show_change_link = False
    ordering = ("at", "pk")

    @admin.display(description=_("detail"))
    def detail_text(self, obj: AuditEntry) -> str:
        return history_text(obj.detail, obj.connection_id)

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

    list_display = ("created_at", "incident", "reason", "state", "attempts", "sent_at")
    list_filter = ("state",)
    search_fields = ("incident__order__mirakl_id", "reason_code", "error_message")
    list_select_related = ("incident__order", "incident__line", "delivery")
    date_hierarchy = "created_at"
    readonly_fields = ("attempts", "last_attempt_at", "in_doubt", "last_error", "check_text")

    @admin.display(description=_("reason"), ordering="reason_code")
    def reason(self, obj: ResolutionRequest) -> str:
        return reason_label(connection_id=obj.incident.connection_id, code=obj.reason_code)


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
        "detail_text",
        "data",
    )
    actions = ("export_csv",)

    @admin.display(description=_("detail"))
    def short_detail(self, obj: AuditEntry) -> str:
        detail = history_text(obj.detail, obj.connection_id)
        return detail if len(detail) <= 80 else detail[:79] + "…"

    @admin.display(description=_("detail"))
    def detail_text(self, obj: AuditEntry) -> str:
        return history_text(obj.detail, obj.connection_id)

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
