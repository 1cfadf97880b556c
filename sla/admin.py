"""Admin of calendars and policies (editable) and of SLA items and breaches (read-only)."""

from __future__ import annotations

from datetime import date

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from core.admin import DeliveryFieldsMixin
from core.admin_mixins import SyncedModelAdmin
from sla.business_hours import holiday_dates
from sla.models import (
    AlertDelivery,
    AlertSettings,
    BusinessCalendar,
    ClosedDay,
    SlaBreach,
    SlaItem,
    SlaPolicy,
    WorkingPeriod,
)
from sla.tasks import sla_sweep_task

__all__ = [
    "AlertDeliveryAdmin",
    "AlertSettingsAdmin",
    "BusinessCalendarAdmin",
    "SlaBreachAdmin",
    "SlaItemAdmin",
    "SlaPolicyAdmin",
]


class WorkingPeriodInline(admin.TabularInline):
    model = WorkingPeriod
    extra = 0


class ClosedDayInline(admin.TabularInline):
    model = ClosedDay
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ("name", "time_zone", "country", "subdivision", "updated_at")
    list_filter = ("country", "time_zone")
    search_fields = ("name", "subdivision")
    readonly_fields = ("upcoming_holidays", "created_at", "updated_at")
    inlines = (WorkingPeriodInline, ClosedDayInline)

    @admin.display(description=_("public holidays (this year and next)"))
    def upcoming_holidays(self, obj: BusinessCalendar) -> str:
        if not obj.pk or not obj.country:
            return "—"
        today = timezone.localdate()
        days = sorted(
            day
            for year in (today.year, today.year + 1)
            for day in holiday_dates(obj.country, obj.subdivision or None, year)
            if day >= today
        )
        return format_html_join(", ", "{}", ((_format(day),) for day in days[:15])) or "—"


def _format(day: date) -> str:
    return day.strftime("%d/%m/%Y")


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "preset",
        "clock",
        "reply_hours",
        "calendar",
        "warning",
        "close_after_days",
    )
    list_filter = ("clock", "calendar")
    search_fields = ("name", "preset")
    list_select_related = ("calendar",)
    readonly_fields = ("created_at", "updated_at")
    actions = ("reschedule_open_items",)
    fieldsets = (
        (None, {"fields": ("name", "preset", "clock", "reply_hours", "calendar")}),
        (_("Warning"), {"fields": ("warn_fraction", "warn_hours")}),
        (_("After the shop marks an incident resolved"), {"fields": ("close_after_days",)}),
        (None, {"fields": ("created_at", "updated_at")}),
    )

    @admin.action(description=_("Apply the policies to open items now (full SLA sweep)"))
    def reschedule_open_items(self, request: HttpRequest, queryset: QuerySet[SlaPolicy]) -> None:
        """Open items keep the deadline they got; after an edit, this recomputes them."""
        transaction.on_commit(lambda: sla_sweep_task.delay(full=True))
        self.message_user(request, _("A full SLA sweep was queued."), messages.SUCCESS)

    @admin.display(description=_("warning"))
    def warning(self, obj: SlaPolicy) -> str:
        if obj.warn_fraction is not None:
            return f"{obj.warn_fraction * 100:.0f} %"
        if obj.warn_hours is not None:
            return f"{obj.warn_hours} h"
        return "—"


@admin.register(SlaItem)
class SlaItemAdmin(SyncedModelAdmin):
    """Items are the sweep's bookkeeping: viewable, never edited by hand."""

    list_display = (
        "id",
        "kind",
        "subject",
        "audience",
        "connection",
        "started_at",
        "due_at",
        "state",
        "stopped_at",
        "stop_reason",
    )
    list_filter = ("state", "kind", "audience", "stop_reason", "connection")
    search_fields = ("incident__order__mirakl_id", "thread__mirakl_id", "thread__entity_id")
    list_select_related = ("connection", "incident__order", "incident__line", "thread")
    raw_id_fields = ("incident", "thread", "policy")
    date_hierarchy = "due_at"
    ordering = ("due_at",)

    @admin.display(description=_("subject"))
    def subject(self, obj: SlaItem) -> str:
        return str(obj.incident if obj.kind == SlaItem.Kind.INCIDENT else obj.thread)


@admin.register(SlaBreach)
class SlaBreachAdmin(SyncedModelAdmin):
    """Breaches are a durable record: viewable, never edited or deleted by hand."""

    list_display = (
        "id",
        "kind",
        "subject",
        "connection",
        "due_at",
        "breached_at",
        "answered_at",
        "lateness_display",
    )
    list_filter = ("kind", "connection", ("answered_at", admin.EmptyFieldListFilter))
    search_fields = ("incident__order__mirakl_id", "thread__mirakl_id", "thread__entity_id")
    list_select_related = ("connection", "incident__order", "incident__line", "thread")
    raw_id_fields = ("item", "incident", "thread")
    date_hierarchy = "due_at"

    @admin.display(description=_("subject"))
    def subject(self, obj: SlaBreach) -> str:
        return str(obj.incident if obj.kind == SlaItem.Kind.INCIDENT else obj.thread)

    @admin.display(description=_("lateness"))
    def lateness_display(self, obj: SlaBreach) -> str:
        seconds = int(obj.lateness().total_seconds())
        hours, rest = divmod(seconds, 3600)
        return f"{hours} h {rest // 60:02d} min"


@admin.register(AlertSettings)
class AlertSettingsAdmin(admin.ModelAdmin):
    """Per-marketplace webhook and digest switch (no inline: the connection is not ours)."""

    list_display = ("connection", "webhook_url", "digest", "updated_at")
    list_filter = ("digest",)
    list_select_related = ("connection",)
    filter_horizontal = ("account_managers",)
    # A webhook address typed without a scheme is an https one (Django 6's default).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "account_managers":
            from core.roles import Role

            kwargs["queryset"] = (
                get_user_model()
                .objects.filter(groups__name=Role.ACCOUNT_MANAGER, is_active=True)
                .distinct()
                .order_by("username")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(DeliveryFieldsMixin, SyncedModelAdmin):
    """The log of alerts sent; read-only."""

    list_display = (
        "item",
        "sync_alert",
        "health_episode",
        "state",
        "channel",
        "user",
        "target",
        "sent_at",
        "attempts",
    )
    list_filter = ("channel", "state")
    list_select_related = (
        "item",
        "sync_alert__connection",
        "health_episode__connection",
        "user",
        "delivery",
    )
    readonly_fields = (
        "item",
        "sync_alert",
        "health_episode",
        "state",
        "channel",
        "user",
        "target",
        "created_at",
        "sent_at",
        "attempts",
        "last_error",
    )


from sla.health.admin import *  # noqa: E402, F403 - registers the shop health models
