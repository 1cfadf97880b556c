"""Admin of refunds: synced from Mirakl, asked for from Incidesk, and per-user limits."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.admin import DeliveryFieldsMixin
from core.admin_mixins import ReadOnlyInline, SyncedModelAdmin
from refunds.models import Refund, RefundLimit, RefundRequest, RefundRequestLine
from refunds.rules import RefundApprovalError
from refunds.services import refund_request_approve


@admin.register(Refund)
class RefundAdmin(SyncedModelAdmin):
    list_display = (
        "mirakl_id",
        "line",
        "amount",
        "shipping_amount",
        "quantity",
        "reason_code",
        "state",
        "created_date",
    )
    list_filter = ("state", "reason_code", "line__order__connection")
    search_fields = ("mirakl_id", "line__order__mirakl_id")
    list_select_related = ("line__order",)


class RefundRequestLineInline(ReadOnlyInline):
    model = RefundRequestLine
    fields = (
        "line",
        "quantity",
        "amount",
        "shipping_amount",
        "taxes",
        "shipping_taxes",
        "mirakl_refund_id",
    )
    readonly_fields = fields
    show_change_link = False


@admin.register(RefundRequest)
class RefundRequestAdmin(DeliveryFieldsMixin, SyncedModelAdmin):
    """Refunds asked for from Incidesk, read-only: they change through the services only."""

    list_display = (
        "created_at",
        "order",
        "connection",
        "kind",
        "total",
        "state",
        "requested_by",
        "approved_by",
        "attempts",
        "sent_at",
    )
    list_filter = ("state", "kind", "connection")
    search_fields = ("order__mirakl_id", "idempotency_key", "lines__mirakl_refund_id")
    list_select_related = ("order", "connection", "requested_by", "approved_by", "delivery")
    date_hierarchy = "created_at"
    inlines = (RefundRequestLineInline,)
    readonly_fields = (
        "connection",
        "order",
        "incident",
        "kind",
        "reason_code",
        "reason_label",
        "total",
        "state",
        "error_message",
        "source",
        "requested_by",
        "created_at",
        "approved_by",
        "approved_at",
        "rejection_reason",
        "attempts",
        "last_attempt_at",
        "in_doubt",
        "check_text",
        "sent_at",
        "confirmed_at",
        "idempotency_key",
    )
    fields = readonly_fields
    actions = ("approve",)

    @admin.action(description=_("Approve the selected refunds (sends them to Mirakl)"))
    def approve(self, request: HttpRequest, queryset: QuerySet[RefundRequest]) -> None:
        approved = 0
        for refund_request in queryset.filter(state=RefundRequest.State.AWAITING_APPROVAL):
            try:
                refund_request_approve(refund_request=refund_request, approver=request.user)
            except RefundApprovalError as exc:
                self.message_user(request, f"{refund_request}: {exc.message}", messages.ERROR)
            else:
                approved += 1
        if approved:
            self.message_user(
                request, _("%(count)d refunds approved.") % {"count": approved}, messages.SUCCESS
            )


@admin.register(RefundLimit)
class RefundLimitAdmin(admin.ModelAdmin):
    """How much each user may refund without a second approver (blank: no limit)."""

    list_display = ("user", "limit")
    search_fields = ("user__username", "user__first_name", "user__last_name")
    autocomplete_fields = ("user",)
