"""Serializers of threads, messages and replies.

Message bodies are returned as Mirakl sent them, in JSON: whatever HTML they hold is
data, never markup, to the API (pages escape it when they render it).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from messaging.models import Message, OutboundMessage, Thread

__all__ = [
    "MessageSerializer",
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
    """A queued reply and how its delivery stands."""

    recipients = serializers.ListField(child=serializers.CharField(), read_only=True)
    idempotency_key = serializers.UUIDField(
        read_only=True, help_text=_("Send it again as Idempotency-Key to get this reply back.")
    )

    class Meta:
        model = OutboundMessage
        fields = (
            "id",
            "kind",
            "recipients",
            "body",
            "idempotency_key",
            "state",
            "attempts",
            "mirakl_message_id",
            "created_at",
            "sent_at",
        )
        read_only_fields = fields
