"""Mirakl message threads (inbox API M10/M11) and their messages."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["Message", "Party", "Thread"]


class Party(models.TextChoices):
    """Who writes or receives a message, as Mirakl's organisation types say."""

    CUSTOMER = "CUSTOMER", _("Customer")
    OPERATOR = "OPERATOR", _("Operator")
    SHOP = "SHOP", _("Shop")


class Thread(models.Model):
    """A conversation on an order (or another Mirakl entity) between the parties."""

    connection = models.ForeignKey(
        "incidents.MarketplaceConnection", on_delete=models.PROTECT, related_name="threads"
    )
    mirakl_id = models.CharField(_("thread id"), max_length=64)
    order = models.ForeignKey(
        "incidents.Order",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="threads",
    )
    entity_type = models.CharField(_("entity type"), max_length=32, blank=True)
    entity_id = models.CharField(_("entity id"), max_length=64, blank=True)
    topic_type = models.CharField(_("topic type"), max_length=20, blank=True)
    topic_value = models.CharField(_("topic"), max_length=255, blank=True)
    date_created = models.DateTimeField(_("created in Mirakl"))
    date_updated = models.DateTimeField(_("updated in Mirakl"))
    authorized_participants = models.JSONField(default=list, blank=True)
    current_participants = models.JSONField(default=list, blank=True)
    last_message_at = models.DateTimeField(_("last message"), null=True, blank=True)
    message_count = models.PositiveIntegerField(_("messages"), default=0)
    shop_reply_needed_since = models.DateTimeField(
        _("waiting for the shop since"), null=True, blank=True
    )
    last_sender_type = models.CharField(_("last sender"), max_length=20, blank=True)
    last_sender_name = models.CharField(max_length=255, blank=True)
    #: Mirakl's own "no reply required" marks: ``[{"date": ..., "user_type": ...}]``.
    no_store_reply_needed = models.JSONField(default=list, blank=True)
    synced_at = models.DateTimeField(_("synced"), default=timezone.now)

    class Meta:
        verbose_name = _("thread")
        verbose_name_plural = _("threads")
        ordering = ("-date_updated",)
        constraints = [
            models.UniqueConstraint(
                fields=("connection", "mirakl_id"),
                name="%(app_label)s_%(class)s_unique_connection_mirakl_id",
            )
        ]
        indexes = [
            models.Index(fields=("connection", "entity_id"), name="thread_conn_entity_idx"),
            models.Index(
                fields=("shop_reply_needed_since",),
                condition=Q(shop_reply_needed_since__isnull=False),
                name="thread_waiting_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.topic_value or self.mirakl_id

    @property
    def needs_reply(self) -> bool:
        return self.shop_reply_needed_since is not None


class Message(models.Model):
    """One message of a thread: who wrote it, to whom, what and when."""

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages")
    mirakl_id = models.CharField(_("message id"), max_length=64)
    author_type = models.CharField(_("author"), max_length=20)
    #: Mirakl's sender type as sent, e.g. ``CUSTOMER_USER`` (unknown values are kept).
    author_role = models.CharField(max_length=40, blank=True)
    author_name = models.CharField(_("author name"), max_length=255, blank=True)
    #: ``[{"type": "CUSTOMER", "id": ..., "display_name": ...}, ...]``
    recipients = models.JSONField(_("recipients"), default=list, blank=True)
    body = models.TextField(_("body"), blank=True)
    date_created = models.DateTimeField(_("sent"))
    #: ``[{"id": ..., "name": ..., "size": ...}, ...]``
    attachments = models.JSONField(_("attachments"), default=list, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ("thread", "date_created", "pk")
        constraints = [
            models.UniqueConstraint(
                fields=("thread", "mirakl_id"),
                name="%(app_label)s_%(class)s_unique_thread_mirakl_id",
            )
        ]
        indexes = [models.Index(fields=("thread", "date_created"), name="message_thread_date_idx")]

    def __str__(self) -> str:
        return f"{self.author_type} {self.date_created:%Y-%m-%d %H:%M}"

    @property
    def recipient_types(self) -> list[str]:
        return [r.get("type", "") for r in self.recipients]
