"""Serializers of refunds: synced from Mirakl, and the requests made through Incidesk."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from refunds.models import Refund, RefundRequest, RefundRequestLine

__all__ = [
    "RefundCreateSerializer",
    "RefundDecisionSerializer",
    "RefundRequestSerializer",
    "RefundSerializer",
]

#: Amounts beyond this are typing errors; refusing them early keeps the maths cheap.
_MAX_AMOUNT = Decimal("9999999999.99")


class RefundSerializer(serializers.ModelSerializer):
    """A refund of (part of) an order line, with the order and line it belongs to."""

    order = serializers.CharField(source="line.order.mirakl_id", read_only=True)
    line = serializers.CharField(source="line.mirakl_id", read_only=True)
    marketplace = serializers.CharField(source="line.order.connection.code", read_only=True)
    pending = serializers.BooleanField(
        source="is_pending",
        read_only=True,
        help_text=_("Accepted by Mirakl and not paid yet (tax confirmation included)."),
    )

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
            "pending",
            "created_date",
        )
        read_only_fields = fields


class MoneyField(serializers.DecimalField):
    """A decimal amount; signs, decimals and what is left are checked by the service.

    The service's messages are the exact ones the pages show, so this field only refuses
    what is not a number, or a number no refund could be.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", None)
        kwargs.setdefault("decimal_places", None)
        kwargs.setdefault("max_value", _MAX_AMOUNT)
        kwargs.setdefault("min_value", -_MAX_AMOUNT)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        value = super().to_internal_value(data)
        if value.as_tuple().exponent < -12:  # type: ignore[operator]
            raise serializers.ValidationError(_("Enter an amount with at most two decimals."))
        return value


class TaxAmountSerializer(serializers.Serializer):
    """An amount of one tax code."""

    code = serializers.CharField(max_length=64)
    amount = MoneyField()


class RefundLineInputSerializer(serializers.Serializer):
    """What to refund on one order line (Mirakl's line id)."""

    order_line_id = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(required=False, default=0, max_value=1_000_000)
    amount = MoneyField(required=False, default=Decimal("0.00"))
    shipping_amount = MoneyField(required=False, default=Decimal("0.00"))
    taxes = TaxAmountSerializer(many=True, required=False, default=list, max_length=20)
    shipping_taxes = TaxAmountSerializer(many=True, required=False, default=list, max_length=20)

    def _by_code(self, entries: list[dict[str, Any]], name: str) -> dict[str, Decimal]:
        by_code: dict[str, Decimal] = {}
        for entry in entries:
            if entry["code"] in by_code:
                raise serializers.ValidationError(
                    {name: [_("Tax %(code)s appears twice.") % {"code": entry["code"]}]}
                )
            by_code[entry["code"]] = entry["amount"]
        return by_code

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["taxes"] = self._by_code(attrs.get("taxes") or [], "taxes")
        attrs["shipping_taxes"] = self._by_code(attrs.get("shipping_taxes") or [], "shipping_taxes")
        return attrs


class RefundCreateSerializer(serializers.Serializer):
    """``POST /api/v1/refunds/``: a full refund of an order, or a partial one by line."""

    order = serializers.CharField(max_length=64, help_text="Mirakl order id.")
    marketplace = serializers.CharField(
        max_length=50,
        required=False,
        allow_blank=True,
        help_text="Marketplace code; needed only when two marketplaces have this order id.",
    )
    kind = serializers.ChoiceField(choices=RefundRequest.Kind.choices)
    reason_code = serializers.CharField(max_length=64, help_text="A refund reason (RE01).")
    lines = RefundLineInputSerializer(
        many=True,
        required=False,
        default=list,
        max_length=500,
        help_text="Required for a partial refund; omit for a full one (everything left).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["kind"] == RefundRequest.Kind.PARTIAL and not attrs.get("lines"):
            raise serializers.ValidationError(
                {"lines": [_("A partial refund needs at least one line.")]}
            )
        return attrs


class RefundDecisionSerializer(serializers.Serializer):
    """Why a refund awaiting approval is rejected (optional when approving)."""

    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class TaxAmountOutSerializer(serializers.Serializer):
    code = serializers.CharField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)


def _taxes(value: dict[str, str]) -> list[dict[str, str]]:
    return [{"code": code, "amount": amount} for code, amount in (value or {}).items()]


class RefundRequestLineSerializer(serializers.ModelSerializer):
    """One line of a refund request and the refund id Mirakl gave it."""

    order_line_id = serializers.CharField(source="line.mirakl_id", read_only=True)
    taxes = serializers.SerializerMethodField()
    shipping_taxes = serializers.SerializerMethodField()

    class Meta:
        model = RefundRequestLine
        fields = (
            "order_line_id",
            "quantity",
            "amount",
            "shipping_amount",
            "taxes",
            "shipping_taxes",
            "mirakl_refund_id",
        )
        read_only_fields = fields

    @extend_schema_field(TaxAmountOutSerializer(many=True))
    def get_taxes(self, obj: RefundRequestLine) -> list[dict[str, str]]:
        return _taxes(obj.taxes)

    @extend_schema_field(TaxAmountOutSerializer(many=True))
    def get_shipping_taxes(self, obj: RefundRequestLine) -> list[dict[str, str]]:
        return _taxes(obj.shipping_taxes)


class RefundRequestSerializer(serializers.ModelSerializer):
    """A refund asked for through Incidesk: its state, total, lines and Mirakl's answer."""

    marketplace = serializers.CharField(source="connection.code", read_only=True)
    order = serializers.CharField(source="order.mirakl_id", read_only=True)
    state_display = serializers.CharField(source="get_state_display", read_only=True)
    requested_by = serializers.CharField(
        source="requested_by.get_username", read_only=True, default=None
    )
    approved_by = serializers.CharField(
        source="approved_by.get_username", read_only=True, default=None
    )
    needs_approval = serializers.BooleanField(read_only=True)
    is_pending = serializers.BooleanField(read_only=True)
    lines = RefundRequestLineSerializer(many=True, read_only=True)
    refused_for_balance = serializers.BooleanField(read_only=True)
    refusal = serializers.SerializerMethodField(
        help_text="Mirakl's refusal in words (translated, with the guide's advice when the "
        "payable balance is too low); null unless refused."
    )
    balance_warning = serializers.SerializerMethodField(
        help_text="On the answer to a new request: the warning when its total is above the "
        "last known payable balance (the request is stored and sent anyway); else null."
    )

    class Meta:
        model = RefundRequest
        fields = (
            "id",
            "marketplace",
            "order",
            "incident",
            "kind",
            "state",
            "state_display",
            "needs_approval",
            "is_pending",
            "reason_code",
            "reason_label",
            "total",
            "lines",
            "requested_by",
            "created_at",
            "approved_by",
            "approved_at",
            "rejection_reason",
            "sent_at",
            "confirmed_at",
            "error_message",
            "refused_for_balance",
            "refusal",
            "balance_warning",
        )
        read_only_fields = fields

    def get_refusal(self, obj: RefundRequest) -> str | None:
        return obj.refusal_text or None

    def get_balance_warning(self, obj: RefundRequest) -> str | None:
        return self.context.get("balance_warning") or None
