"""Serializers of threads, messages and replies.

Message bodies are returned as Mirakl sent them, in JSON: whatever HTML they hold is
data, never markup, to the API (pages escape it when they render it).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.reasons import order_reasons
from messaging.constants import MESSAGING_REASON_TYPE
from messaging.models import Message, OutboundMessage, Thread, ThreadNoReply

__all__ = [
    "MessageSerializer",
    "NewThreadSerializer",
    "NoReplyMarkSerializer",
    "NoReplySerializer",
    "OutboundMessageSerializer",
    "ReplySerializer",
    "ThreadDetailSerializer",
    "ThreadSerializer",
]

#: The API's recipient words → the outbox's choices.
RECIPIENTS = {"customer": "CUSTOMER", "operator": "OPERATOR", "both": "BOTH"}


class MessageSerializer(serializers.ModelSerializer):
    """One message of a thread."""

    class Meta:
        model = Message
        fields = (
            "mirakl_id",
            "author_type",
            "author_name",
            "recipients",
            "body",
            "date_created",
            "attachments",
        )
        read_only_fields = fields


class ThreadSerializer(serializers.ModelSerializer):
    """A conversation on an order."""

    marketplace = serializers.CharField(source="connection.code", read_only=True)
    order = serializers.CharField(source="order.mirakl_id", read_only=True, allow_null=True)
    needs_reply = serializers.BooleanField(read_only=True)

    class Meta:
        model = Thread
        fields = (
            "id",
            "mirakl_id",
            "marketplace",
            "order",
            "topic_type",
            "topic_value",
            "date_created",
            "date_updated",
            "last_message_at",
            "message_count",
            "needs_reply",
            "shop_reply_needed_since",
            "last_sender_type",
        )
        read_only_fields = fields


class ThreadDetailSerializer(ThreadSerializer):
    messages = MessageSerializer(many=True, read_only=True)

    class Meta(ThreadSerializer.Meta):
        fields = (*ThreadSerializer.Meta.fields, "messages")
        read_only_fields = fields


class ReplySerializer(serializers.Serializer):
    """A reply to write: to whom and what."""

    recipients = serializers.ChoiceField(choices=list(RECIPIENTS))
    body = serializers.CharField(max_length=10_000, trim_whitespace=True)


class OutboundMessageSerializer(serializers.ModelSerializer):
    """A queued reply or new conversation and how its delivery stands."""

    marketplace = serializers.CharField(source="connection.code", read_only=True)
    order = serializers.CharField(source="order.mirakl_id", read_only=True, allow_null=True)
    recipients = serializers.ListField(child=serializers.CharField(), read_only=True)
    idempotency_key = serializers.UUIDField(
        read_only=True, help_text=_("Send it again as Idempotency-Key to get this message back.")
    )
    attempts = serializers.IntegerField(source="delivery.attempts", read_only=True)

    class Meta:
        model = OutboundMessage
        fields = (
            "id",
            "kind",
            "marketplace",
            "order",
            "recipients",
            "topic_type",
            "topic_value",
            "body",
            "idempotency_key",
            "state",
            "attempts",
            "mirakl_message_id",
            "created_at",
            "sent_at",
        )
        read_only_fields = fields


class NewThreadSerializer(serializers.Serializer):
    """A new conversation on an order (OR43): to whom, about what, and the first message.

    ``reason_code`` must be one of the ORDER_MESSAGING reasons the marketplace lets the
    shop use (RE01, as synced): Mirakl refuses any other, but only once the worker
    sends it, after the caller has moved on. Needs the order in the context.
    """

    recipients = serializers.ChoiceField(choices=list(RECIPIENTS))
    reason_code = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text=_("A code of the marketplace's ORDER_MESSAGING reasons (RE01)."),
    )
    subject = serializers.CharField(
        max_length=255,
        required=False,
        allow_blank=True,
        help_text=_("A subject of your own, when no reason code is given."),
    )
    body = serializers.CharField(max_length=10_000, trim_whitespace=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        code = attrs.get("reason_code", "")
        if code:
            codes = [
                reason
                for reason, _label in order_reasons(
                    connection_id=self.context["order"].connection_id,
                    reason_type=MESSAGING_REASON_TYPE,
                )
            ]
            if code not in codes:
                if codes:
                    message = _(
                        "Not a reason this marketplace offers for a new conversation "
                        "(ORDER_MESSAGING). Use one of: %(codes)s."
                    ) % {"codes": ", ".join(codes)}
                else:
                    message = _(
                        "This marketplace has no reasons for a new conversation "
                        "(ORDER_MESSAGING): write a subject instead."
                    )
                raise serializers.ValidationError({"reason_code": [message]})
        elif not attrs.get("subject"):
            raise serializers.ValidationError({"subject": [_("Give a reason_code or a subject.")]})
        return attrs

    def topic(self) -> tuple[str, str]:
        """(``REASON_CODE``, code) or (``FREE_TEXT``, subject) for OR43: the code wins,
        as on the incident page."""
        if self.validated_data.get("reason_code"):
            return "REASON_CODE", self.validated_data["reason_code"]
        return "FREE_TEXT", self.validated_data["subject"]


class NoReplySerializer(serializers.Serializer):
    """Why a conversation needs no answer."""

    reason = serializers.CharField(max_length=500, trim_whitespace=True)
    confirm = serializers.BooleanField(
        default=False,
        help_text=(
            "Required (true) when the order has an open incident that is not resolved: the "
            "marketplaces allow the mark only on cases already solved."
        ),
    )


class NoReplyMarkSerializer(serializers.ModelSerializer):
    """A "no reply required" mark: on which thread, by whom, why and when."""

    thread = serializers.CharField(source="thread.mirakl_id", read_only=True)
    marketplace = serializers.CharField(source="thread.connection.code", read_only=True)
    marked_by = serializers.SerializerMethodField()

    class Meta:
        model = ThreadNoReply
        fields = ("id", "thread", "marketplace", "reason", "marked_by", "last_message_at", "at")
        read_only_fields = fields

    def get_marked_by(self, mark: ThreadNoReply) -> str | None:
        return mark.marked_by.get_username() if mark.marked_by is not None else None
