"""Serializers of refunds as Mirakl reports them."""

from __future__ import annotations

from rest_framework import serializers

from refunds.models import Refund

__all__ = ["RefundSerializer"]


class RefundSerializer(serializers.ModelSerializer):
    """A refund of (part of) an order line, with the order and line it belongs to."""

    order = serializers.CharField(source="line.order.mirakl_id", read_only=True)
    line = serializers.CharField(source="line.mirakl_id", read_only=True)
    marketplace = serializers.CharField(source="line.order.connection.code", read_only=True)

    class Meta:
        model = Refund
        fields = (
            "id",
            "mirakl_id",
            "marketplace",
            "order",
            "line",
            "amount",
            "shipping_amount",
            "quantity",
            "reason_code",
            "state",
            "created_date",
        )
        read_only_fields = fields
