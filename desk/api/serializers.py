"""Serializers of marketplaces, incidents and orders.

The API key of a marketplace is write-only: it can be set by an admin and is never
returned, not even masked.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.models import MarketplaceConnection, Order, OrderLine
from core.sync.health import HealthState, connection_health
from desk.bulk import BULK_MAX_ROWS, BulkAction, RowKind
from incidents.models import Incident
from incidents.selectors import assignable_users
from refunds.api.serializers import RefundSerializer
from sla.models import QueueEntry

__all__ = [
    "BulkResponseSerializer",
    "BulkResultSerializer",
    "BulkSerializer",
    "IncidentSerializer",
    "ResourceHealthSerializer",
    "SyncHealthSerializer",
    "MarketplaceConnectionSerializer",
    "OrderDetailSerializer",
    "OrderLineSerializer",
    "OrderSerializer",
    "QueueEntrySerializer",
    "ResolveSerializer",
]


class ResourceHealthSerializer(serializers.Serializer):
    """The sync of one resource (orders, messages, reasons) of a marketplace."""

    resource = serializers.CharField()
    label = serializers.CharField()
    state = serializers.ChoiceField(choices=HealthState.choices)
    last_success_at = serializers.DateTimeField(allow_null=True)
    data_age_minutes = serializers.IntegerField(
        source="age_minutes", allow_null=True, help_text=_("Minutes since the last success.")
    )
    data_age = serializers.CharField(help_text=_("The same, in words (the request's language)."))
    last_error = serializers.CharField(
        source="error", help_text=_("What stopped the last run; empty when it succeeded.")
    )
    last_error_at = serializers.DateTimeField(allow_null=True)
    skipped_records = serializers.IntegerField(
        source="skipped", help_text=_("Records skipped and not stored since.")
    )


class SyncHealthSerializer(serializers.Serializer):
    """The sync health of a marketplace: its worst resource, and each of them."""

    state = serializers.ChoiceField(choices=HealthState.choices)
    last_success_at = serializers.DateTimeField(
        allow_null=True, help_text=_("The oldest last success of orders and messages.")
    )
    data_age_minutes = serializers.IntegerField(source="age_minutes", allow_null=True)
    data_age = serializers.CharField()
    stale = serializers.BooleanField(
        help_text=_("Not synced successfully for longer than the alert's delay.")
    )
    resources = ResourceHealthSerializer(many=True)


class MarketplaceConnectionSerializer(serializers.ModelSerializer):
    """A marketplace connection; writes go through ``marketplace_connection_save``."""

    api_key = serializers.CharField(
        write_only=True,
        required=False,
        max_length=255,
        trim_whitespace=True,
        style={"input_type": "password"},
        help_text=_(
            "Stored encrypted and never returned. Leave out to keep the current key, except "
            "when base_url moves to another host."
        ),
    )

    class Meta:
        model = MarketplaceConnection
        fields = (
            "id",
            "code",
            "name",
            "base_url",
            "api_key",
            "shop_id",
            "sla_policy",
            "is_active",
            "created_at",
            "updated_at",
            "sync_health",
        )
        read_only_fields = ("id", "is_active", "created_at", "updated_at", "sync_health")

    sync_health = serializers.SerializerMethodField()

    @extend_schema_field(SyncHealthSerializer)
    def get_sync_health(self, obj: MarketplaceConnection) -> dict[str, Any]:
        return SyncHealthSerializer(connection_health(obj, obj.sync_cursors.all())).data

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None and not attrs.get("api_key"):
            raise serializers.ValidationError({"api_key": _("This field is required.")})
        if self.instance is not None and "code" in attrs and attrs["code"] != self.instance.code:
            raise serializers.ValidationError({"code": _("The code cannot be changed.")})
        return attrs

    def _save(self, attrs: dict[str, Any]) -> MarketplaceConnection:
        from core.services import marketplace_connection_save

        current = self.instance
        fields = {
            name: attrs.get(name, getattr(current, name) if current is not None else default)
            for name, default in (
                ("code", ""),
                ("name", ""),
                ("base_url", ""),
                ("shop_id", ""),
                ("sla_policy", MarketplaceConnection.Policy.DEFAULT),
            )
        }
        # Left out, the stored key is kept, unless the base URL moves to another host.
        fields["api_key"] = attrs.get("api_key")
        try:
            connection, _created = marketplace_connection_save(**fields)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else exc.messages
            ) from exc
        return connection

    def create(self, validated_data: dict[str, Any]) -> MarketplaceConnection:
        return self._save(validated_data)

    def update(
        self, instance: MarketplaceConnection, validated_data: dict[str, Any]
    ) -> MarketplaceConnection:
        return self._save(validated_data)


class IncidentSerializer(serializers.ModelSerializer):
    """An incident episode on an order line, with its SLA deadline and assignee."""

    marketplace = serializers.CharField(source="connection.code", read_only=True)
    order = serializers.CharField(source="order.mirakl_id", read_only=True)
    line = serializers.CharField(source="line.mirakl_id", read_only=True)
    assignee = serializers.SerializerMethodField()
    sla_due_at = serializers.DateTimeField(read_only=True, allow_null=True)
    sla_state = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Incident
        fields = (
            "id",
            "marketplace",
            "order",
            "line",
            "episode",
            "state",
            "reason_code",
            "reason_label",
            "opened_at",
            "closed_at",
            "first_shop_action_at",
            "resolved_at",
            "resolution_reason_code",
            "contested_at",
            "close_expected_at",
            "watch",
            "watch_at",
            "assignee",
            "sla_due_at",
            "sla_state",
        )
        read_only_fields = fields

    def get_assignee(self, incident: Incident) -> str | None:
        assignment = getattr(incident, "assignment", None)
        return assignment.assignee.get_username() if assignment is not None else None


class OrderLineSerializer(serializers.ModelSerializer):
    """One order line with its refunds."""

    refunds = RefundSerializer(many=True, read_only=True)

    class Meta:
        model = OrderLine
        fields = (
            "mirakl_id",
            "index",
            "state",
            "offer_sku",
            "product_sku",
            "product_title",
            "quantity",
            "price_unit",
            "price",
            "shipping_price",
            "total_price",
            "can_refund",
            "shipped_date",
            "received_date",
            "refunds",
        )
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    """A Mirakl order; the detail adds its lines (with refunds)."""

    marketplace = serializers.CharField(source="connection.code", read_only=True)
    customer_name = serializers.CharField(read_only=True)

    class Meta:
        model = Order
        fields = (
            "id",
            "mirakl_id",
            "marketplace",
            "commercial_id",
            "state",
            "currency",
            "price",
            "shipping_price",
            "total_price",
            "has_incident",
            "has_customer_message",
            "fully_refunded",
            "customer_name",
            "shipping_company",
            "shipping_tracking",
            "created_date",
            "last_updated_date",
        )
        read_only_fields = fields


class OrderDetailSerializer(OrderSerializer):
    lines = OrderLineSerializer(many=True, read_only=True)

    class Meta(OrderSerializer.Meta):
        fields = (*OrderSerializer.Meta.fields, "lines")
        read_only_fields = fields


class ResolveSerializer(serializers.Serializer):
    """Mark an order's incident resolved: a reason code of the marketplace (RE01
    ``INCIDENT_CLOSE``), and the line when the order has several open incidents."""

    reason_code = serializers.CharField(
        max_length=64,
        help_text=_("A code of the marketplace's INCIDENT_CLOSE reasons (RE01)."),
    )
    line = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text=_("Mirakl order line id; needed when the order has several open incidents."),
    )


class BulkSerializer(serializers.Serializer):
    """A bulk action on rows of the queue (``POST /api/v1/incidents/bulk/``)."""

    action = serializers.ChoiceField(choices=BulkAction.choices)
    incidents = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**31 - 1),
        required=False,
        default=list,
        help_text=_("Incident ids."),
    )
    threads = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**31 - 1),
        required=False,
        default=list,
        help_text=_("Ids of conversations (threads) without an incident."),
    )
    assignee = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=2**31 - 1,
        help_text=_("User id (assign)."),
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=500, help_text=_("Why (no reply required).")
    )
    reason_code = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text=_("RE01 INCIDENT_CLOSE code of each incident's marketplace (resolve)."),
    )
    confirm = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_("No reply required on an order whose incident is not resolved (rule N1)."),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        rows = len(set(attrs["incidents"])) + len(set(attrs["threads"]))
        if rows == 0:
            raise serializers.ValidationError({"incidents": _("Name at least one row.")})
        if rows > BULK_MAX_ROWS:
            raise serializers.ValidationError(
                {"incidents": _("At most %(max)d rows at a time.") % {"max": BULK_MAX_ROWS}}
            )
        action = attrs["action"]
        if action == BulkAction.ASSIGN:
            assignee = attrs.get("assignee")
            user = assignable_users().filter(pk=assignee).first() if assignee else None
            if user is None:
                raise serializers.ValidationError(
                    {"assignee": _("Name a user who can work incidents.")}
                )
            attrs["assignee_user"] = user
        if action == BulkAction.NO_REPLY and not (attrs.get("reason") or "").strip():
            raise serializers.ValidationError({"reason": _("Say why no reply is required.")})
        if action == BulkAction.RESOLVE and not attrs.get("reason_code"):
            raise serializers.ValidationError({"reason_code": _("Choose a resolution reason.")})
        return attrs


class BulkResultSerializer(serializers.Serializer):
    """One row's result: done (``ok``) or refused, with the reason in ``message``."""

    kind = serializers.ChoiceField(choices=RowKind.choices)
    id = serializers.IntegerField(source="pk")
    label = serializers.CharField(help_text=_("Order number and marketplace."))
    ok = serializers.BooleanField()
    message = serializers.CharField()


class BulkResponseSerializer(serializers.Serializer):
    results = BulkResultSerializer(many=True)


class QueueEntrySerializer(serializers.ModelSerializer):
    """A row of the queue of what the shop owes: an incident, or a conversation of an
    order without incident; to whom a reply is owed and by when (the earliest open wait
    on the row), its messages and the last one received."""

    marketplace = serializers.CharField(source="connection.code", read_only=True)
    order = serializers.CharField(source="order_number", read_only=True)
    incident = serializers.IntegerField(source="incident_id", read_only=True, allow_null=True)
    thread = serializers.IntegerField(source="thread_id", read_only=True, allow_null=True)
    sla_state = serializers.SerializerMethodField()
    assignee = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = QueueEntry
        fields = (
            "id",
            "kind",
            "marketplace",
            "order",
            "incident",
            "thread",
            "reason_code",
            "reason_label",
            "incident_state",
            "opened_at",
            "owed_to",
            "due_at",
            "warn_at",
            "sla_state",
            "message_count",
            "last_inbound_at",
            "last_inbound_author",
            "last_inbound_preview",
            "assignee",
            "url",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=["", "on_time", "nearing", "breached"]))
    def get_sla_state(self, entry: QueueEntry) -> str:
        return entry.sla_state()

    def get_assignee(self, entry: QueueEntry) -> str | None:
        assignment = getattr(entry.incident, "assignment", None) if entry.incident else None
        return assignment.assignee.get_username() if assignment is not None else None

    def get_url(self, entry: QueueEntry) -> str:
        """The page where it is answered (the incident's, or the order's)."""
        if entry.incident_id is not None:
            return reverse("desk:incident", args=[entry.incident_id])
        return f"{reverse('desk:order', args=[entry.order_id])}#thread-{entry.thread_id}"
