"""Serializers of SLA breaches and KPIs (read-only)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from sla.health.banner import shop_state_label
from sla.models import SlaBreach

__all__ = ["SlaBreachSerializer", "SlaKpiSerializer"]


class SlaBreachSerializer(serializers.ModelSerializer):
    """A missed deadline; ``lateness_seconds`` runs to the answer, or to now."""

    marketplace = serializers.CharField(source="connection.code", read_only=True)
    incident = serializers.IntegerField(source="incident_id", read_only=True, allow_null=True)
    order = serializers.SerializerMethodField()
    thread = serializers.CharField(source="thread.mirakl_id", read_only=True, allow_null=True)
    lateness_seconds = serializers.SerializerMethodField()

    class Meta:
        model = SlaBreach
        fields = (
            "id",
            "marketplace",
            "kind",
            "incident",
            "order",
            "thread",
            "due_at",
            "breached_at",
            "answered_at",
            "lateness_seconds",
        )
        read_only_fields = fields

    def get_order(self, breach: SlaBreach) -> str | None:
        if breach.incident is not None:
            return breach.incident.order.mirakl_id
        return None

    def get_lateness_seconds(self, breach: SlaBreach) -> int:
        return int(breach.lateness_at_now.total_seconds())


class SlaKpiSerializer(serializers.Serializer):
    """Where one marketplace stands on its deadlines."""

    marketplace = serializers.CharField()
    name = serializers.CharField()
    open_on_time = serializers.IntegerField()
    open_nearing = serializers.IntegerField()
    open_breached = serializers.IntegerField()
    breaches_last_30_days = serializers.IntegerField()
    breaches_unanswered = serializers.IntegerField()
    open_incidents = serializers.IntegerField()


# --------------------------------------------------------------------------- shop health


class ThresholdSerializer(serializers.Serializer):
    """An alert or limit: ``set`` (value and comparison), ``none`` or ``unknown``."""

    state = serializers.CharField()
    value = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    comparison = serializers.CharField()


class CrossingSerializer(serializers.Serializer):
    threshold = serializers.ChoiceField(choices=["alert", "limit"])
    days = serializers.IntegerField(help_text="Days from now until the projection meets it.")


class WhatIfSerializer(serializers.Serializer):
    text = serializers.CharField()
    count = serializers.IntegerField()
    value = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    clears = serializers.BooleanField(allow_null=True)
    incidents = serializers.ListField(child=serializers.IntegerField(), source="incident_ids")


class CriterionHealthSerializer(serializers.Serializer):
    """One quality criterion of a marketplace: Mirakl's figure, ours, the thresholds and
    the projection (index 0 = now, index k = k days ahead)."""

    key = serializers.CharField()
    label = serializers.CharField(source="criterion.label")  # type: ignore[assignment]
    unit = serializers.CharField(source="criterion.unit")
    mirakl = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    mirakl_at = serializers.DateTimeField(allow_null=True)
    ours = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    judged = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    alert = ThresholdSerializer()
    limit = ThresholdSerializer()
    standing = serializers.CharField()
    level = serializers.IntegerField(
        help_text="0 ok, 1 projected to reach the alert, 2 alert, 3 projected to reach the "
        "limit, 4 limit (within the 7-day horizon)."
    )
    projection = serializers.ListField(
        child=serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True),
        source="path",
    )
    ours_projection = serializers.ListField(
        child=serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True),
        source="ours_path",
    )
    projection_basis = serializers.CharField(
        source="basis",
        help_text="shifted (Mirakl's moved by ours), ours, trend (of Mirakl's) or empty.",
    )
    crossing = serializers.SerializerMethodField()
    sparkline_ours = serializers.ListField(
        child=serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True),
        source="spark_ours",
    )
    sparkline_mirakl = serializers.ListField(
        child=serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True),
        source="spark_mirakl",
    )
    what_if = WhatIfSerializer(allow_null=True)
    explanations = serializers.ListField(child=serializers.CharField())
    note = serializers.CharField()

    @extend_schema_field(CrossingSerializer(allow_null=True))
    def get_crossing(self, obj: Any) -> dict[str, Any] | None:
        crossing = obj.crossing
        if crossing is None:
            return None
        return {"threshold": crossing[0], "days": crossing[1]}


class ShopAccountSerializer(serializers.Serializer):
    """What A01 said last: the shop's state and its balances (in ``currency``)."""

    state = serializers.CharField(source="shop_state")
    state_label = serializers.SerializerMethodField()
    suspension_type = serializers.CharField()
    closed_from = serializers.DateTimeField(allow_null=True)
    closed_to = serializers.DateTimeField(allow_null=True)
    payable_balance = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    pending_balance = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    paid_balance = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    currency = serializers.CharField()
    as_of = serializers.DateTimeField(source="fetched_at")

    def get_state_label(self, obj) -> str:
        return shop_state_label(obj.shop_state)


class DailyCallSerializer(serializers.Serializer):
    """A once-a-day Mirakl call: when it was made, answered, and may be made again."""

    call = serializers.CharField()
    channel = serializers.CharField()
    last_called_at = serializers.DateTimeField(allow_null=True)
    last_success_at = serializers.DateTimeField(allow_null=True)
    next_allowed_at = serializers.DateTimeField(allow_null=True)
    failing = serializers.BooleanField()


class OpenIncidentSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    order = serializers.CharField(source="order_id")
    state = serializers.CharField()
    opened_at = serializers.DateTimeField()
    age_seconds = serializers.SerializerMethodField()
    expected_close = serializers.DateTimeField(allow_null=True)

    def get_age_seconds(self, obj) -> int:
        return int(obj.age.total_seconds())


class ShopHealthSerializer(serializers.Serializer):
    """A marketplace's shop health: state, balance, calls, criteria, open incidents."""

    marketplace = serializers.CharField(source="connection.code")
    name = serializers.CharField(source="connection.name")
    level = serializers.IntegerField(help_text="The highest level among the criteria.")
    account = ShopAccountSerializer(allow_null=True)
    calls = DailyCallSerializer(many=True)
    rulebook = serializers.CharField(source="rulebook.name", allow_null=True, default=None)
    criteria = CriterionHealthSerializer(many=True)
    open_incidents = serializers.IntegerField(source="incidents_open")
    incidents = OpenIncidentSerializer(
        many=True, help_text="The open incidents weighing most on the projection (up to 50)."
    )


class BalanceSerializer(serializers.Serializer):
    """The last payable balance A01 gave, its age, and what was asked to refund since."""

    marketplace = serializers.CharField()
    currency = serializers.CharField(allow_blank=True)
    payable_balance = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    pending_balance = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    as_of = serializers.DateTimeField(allow_null=True)
    age_seconds = serializers.IntegerField(allow_null=True)
    refunds_asked_since = serializers.DecimalField(max_digits=14, decimal_places=2)
    available = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        allow_null=True,
        help_text="The payable balance less the refunds asked through Incidesk since.",
    )
    held_by_open_incidents = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="Value of the orders with an open incident (not paid out while it lasts).",
    )
