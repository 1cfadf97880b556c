"""Admin of synced threads and messages."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from core.admin import DeliveryFieldsMixin
from core.admin_mixins import ReadOnlyInline, SyncedModelAdmin
from messaging.models import CannedReply, Message, OutboundMessage, Thread, ThreadNoReply


class WaitingForShopFilter(admin.SimpleListFilter):
    title = _("waiting for the shop")
    parameter_name = "waiting"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin):
        return (("yes", _("Yes")), ("no", _("No")))

    def queryset(self, request: HttpRequest, queryset: QuerySet[Thread]) -> QuerySet[Thread]:
        if self.value() == "yes":
            return queryset.filter(shop_reply_needed_since__isnull=False)
        if self.value() == "no":
            return queryset.filter(shop_reply_needed_since__isnull=True)
        return queryset


class MessageInline(ReadOnlyInline):
    model = Message
    fields = ("date_created", "author_type", "author_name", "body", "attachments")
    readonly_fields = fields


@admin.register(Thread)
class ThreadAdmin(SyncedModelAdmin):
    list_display = (
        "mirakl_id",
        "topic_value",
        "order",
        "last_sender_type",
        "shop_reply_needed_since",
        "message_count",
        "date_updated",
        "connection",
    )
    list_filter = ("connection", WaitingForShopFilter, "last_sender_type", "topic_type")
    search_fields = ("mirakl_id", "topic_value", "entity_id")
    list_select_related = ("order", "connection")
    date_hierarchy = "date_updated"
    inlines = (MessageInline,)


@admin.register(Message)
class MessageAdmin(SyncedModelAdmin):
    list_display = ("thread", "author_type", "author_name", "excerpt", "date_created")
    list_filter = ("author_type", "thread__connection")
    search_fields = ("mirakl_id", "body", "thread__entity_id")
    list_select_related = ("thread",)
    date_hierarchy = "date_created"

    @admin.display(description=_("message"))
    def excerpt(self, obj: Message) -> str:
        return Truncator(obj.body).chars(80)


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    """Canned replies are the team's own texts: fully editable."""

    list_display = ("title", "position", "is_active", "updated_at")
    list_editable = ("position", "is_active")
    list_filter = ("is_active",)
    search_fields = ("title", "body")
    help_texts = {
        "body": _("Placeholders: {customer_name}, {order_number}, {carrier}, {tracking}."),
    }

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.base_fields["body"].help_text = self.help_texts["body"]
        return form


@admin.register(OutboundMessage)
class OutboundMessageAdmin(DeliveryFieldsMixin, SyncedModelAdmin):
    """The outbox, read-only: deliveries are retried from the incident page."""

    list_display = ("created_at", "kind", "connection", "order", "state", "attempts", "sent_at")
    list_filter = ("state", "kind", "connection")
    search_fields = ("body", "mirakl_message_id", "order__mirakl_id")
    list_select_related = ("connection", "order", "delivery")
    date_hierarchy = "created_at"
    exclude = ("idempotency_key",)
    readonly_fields = ("attempts", "last_attempt_at", "in_doubt", "last_error", "check_text")


@admin.register(ThreadNoReply)
class ThreadNoReplyAdmin(SyncedModelAdmin):
    list_display = ("thread", "marked_by", "reason", "at")
    list_select_related = ("thread", "marked_by")
