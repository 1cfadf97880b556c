"""Admin of refunds synced from Mirakl."""

from django.contrib import admin

from incidents.admin_mixins import SyncedModelAdmin
from refunds.models import Refund


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
