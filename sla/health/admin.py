"""Admin of shop health: the rulebooks (editable, every change a version), Mirakl's
answers, the daily call gate (with "refresh now") and the watchdog's episodes (read-only).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from core.admin_mixins import SyncedModelAdmin
from sla.health.criteria import CriterionKey
from sla.health.rulebook import rulebook_rules, rulebook_version_record
from sla.health.sync import shop_health_refresh
from sla.models.health import (
    DailyCall,
    HealthEpisode,
    Rulebook,
    RulebookThreshold,
    RulebookVersion,
    ShopStatisticsSnapshot,
)

__all__ = [
    "DailyCallAdmin",
    "HealthEpisodeAdmin",
    "RulebookAdmin",
    "ShopStatisticsSnapshotAdmin",
]


class RulebookThresholdInline(admin.TabularInline):
    model = RulebookThreshold
    extra = 0
    fields = (
        "criterion",
        "alert_state",
        "alert_comparison",
        "alert_value",
        "limit_state",
        "limit_comparison",
        "limit_value",
    )


def _threshold(data: dict[str, Any] | None) -> str:
    if not data:
        return "—"
    if data.get("state") == "set":
        return f"{data.get('comparison')} {data.get('value')}"
    return str(_("unknown") if data.get("state") == "unknown" else _("none"))


class RulebookVersionInline(admin.TabularInline):
    """Every saved change: who, when, what (read-only)."""

    model = RulebookVersion
    extra = 0
    can_delete = False
    fields = ("number", "changed_at", "changed_by", "what", "note")
    readonly_fields = fields
    ordering = ("-number",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("changes"))
    def what(self, obj: RulebookVersion) -> str:
        labels = dict(CriterionKey.choices)
        names = {"alert": _("alert"), "limit": _("limit"), "name": _("name")}
        names["review_business_days"] = _("review (business days)")
        rows = []
        for change in obj.changes:
            field = str(names.get(change["field"], change["field"]))
            if change["field"] in ("alert", "limit"):
                before, after = _threshold(change["before"]), _threshold(change["after"])
            else:
                before, after = change["before"], change["after"]
            label = labels.get(change["criterion"], "")
            rows.append((f"{label} {field}".strip(), before, after))
        return format_html_join("", "<div>{}: {} → {}</div>", rows) or "—"


@admin.register(Rulebook)
class RulebookAdmin(admin.ModelAdmin):
    """Thresholds per marketplace preset. Saving records a version (who, when, what)."""

    list_display = ("name", "preset", "review_business_days", "updated_at", "version")
    search_fields = ("name", "preset")
    readonly_fields = ("updated_at",)
    fields = ("name", "preset", "review_business_days", "source", "updated_at")
    inlines = (RulebookThresholdInline, RulebookVersionInline)

    @admin.display(description=_("version"))
    def version(self, obj: Rulebook) -> int:
        return obj.versions.count()

    def save_model(self, request: HttpRequest, obj: Rulebook, form: Any, change: bool) -> None:
        # The rules before this edit, read from the database (the form has not saved yet).
        stored = Rulebook.objects.filter(pk=obj.pk).first() if change else None
        request._rulebook_before = rulebook_rules(stored) if stored is not None else None  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        version = rulebook_version_record(
            rulebook=form.instance,
            actor=request.user,
            before=getattr(request, "_rulebook_before", None),
        )
        if version is not None:
            self.message_user(
                request,
                _("Saved as version %(n)d.") % {"n": version.number},
                messages.SUCCESS,
            )


@admin.register(ShopStatisticsSnapshot)
class ShopStatisticsSnapshotAdmin(SyncedModelAdmin):
    """A21 answers, one per day and channel at most; read-only."""

    list_display = ("connection", "channel", "fetched_at", "mirakl_updated_at", "figures")
    list_filter = ("connection", "channel")
    list_select_related = ("connection",)
    date_hierarchy = "fetched_at"


@admin.register(DailyCall)
class DailyCallAdmin(SyncedModelAdmin):
    """When each once-a-day call was last made and when the next is allowed."""

    list_display = (
        "connection",
        "call",
        "channel",
        "last_called_at",
        "last_success_at",
        "next_allowed",
        "failing",
    )
    list_filter = ("connection", "call")
    list_select_related = ("connection",)
    actions = ("refresh_now",)

    @admin.display(description=_("next call allowed"))
    def next_allowed(self, obj: DailyCall) -> str:
        when = obj.next_allowed_at
        if when is None or when <= timezone.now():
            return str(_("now"))
        return timezone.localtime(when).strftime("%d/%m/%Y %H:%M")

    @admin.display(description=_("last attempt failed"), boolean=True)
    def failing(self, obj: DailyCall) -> bool:
        return obj.failing

    @admin.action(
        description=_("Refresh now (as far as Mirakl's once-a-day limit allows)"),
        permissions=["refresh"],
    )
    def refresh_now(self, request: HttpRequest, queryset: QuerySet[DailyCall]) -> None:
        for connection in {row.connection for row in queryset}:
            plan = shop_health_refresh(connection=connection)
            if plan.due:
                self.message_user(
                    request,
                    _("%(marketplace)s: asked Mirakl, the figures will show within a minute.")
                    % {"marketplace": connection.name},
                    messages.SUCCESS,
                )
            else:
                when = plan.next_allowed_at
                self.message_user(
                    request,
                    _("%(marketplace)s: Mirakl allows one call a day; next on %(when)s.")
                    % {
                        "marketplace": connection.name,
                        "when": timezone.localtime(when).strftime("%d/%m/%Y %H:%M")
                        if when
                        else "—",
                    },
                    messages.WARNING,
                )

    def has_refresh_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("sla.refresh_dailycall")


@admin.register(HealthEpisode)
class HealthEpisodeAdmin(SyncedModelAdmin):
    """The watchdog's episodes and what each announced; read-only."""

    list_display = (
        "connection",
        "subject",
        "level",
        "current_level",
        "shop_state",
        "value",
        "opened_at",
        "closed_at",
    )
    list_filter = ("connection", "subject", ("closed_at", admin.EmptyFieldListFilter))
    list_select_related = ("connection",)
    date_hierarchy = "opened_at"
