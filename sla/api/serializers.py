"""Serializers of SLA breaches and KPIs (read-only)."""

from __future__ import annotations

from rest_framework import serializers

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
