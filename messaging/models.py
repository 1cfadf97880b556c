"""Mirakl message threads (inbox API M10/M11) and their messages."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.choices import Badge, BadgeChoices

__all__ = [
    "CannedReply",
    "Message",
    "OrderSearchDocument",
    "OutboundAttachment",
    "OutboundMessage",
    "Party",
    "Thread",
    "ThreadNoReply",
]


class Party(models.TextChoices):
    """Who writes or receives a message, as Mirakl's organisation types say."""

    CUSTOMER = "CUSTOMER", _("Customer")
    OPERATOR = "OPERATOR", _("Operator")
    SHOP = "SHOP", _("Shop")


class Thread(models.Model):
    """A conversation on an order (or another Mirakl entity) between the parties."""

    # Looked up by marketplace on the indexes that start with it (the unique Mirakl id,
    # thread_conn_entity_idx): an index of its own is one more entry for the sync to
    # write with every thread, and one that a first sync's stale statistics make
    # Postgres prefer for "this marketplace's threads with these ids", reading them all.
    connection = models.ForeignKey(
        "core.MarketplaceConnection",
        on_delete=models.PROTECT,
        related_name="threads",
        db_index=False,
    )
    mirakl_id = models.CharField(_("thread id"), max_length=64)
    order = models.ForeignKey(
        "core.Order",
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

    # Looked up by thread on the indexes that start with it (the unique Mirakl id,
    # message_thread_date_idx).
    thread = models.ForeignKey(
        Thread, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
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


class OrderSearchDocument(models.Model):
    """The Spanish full-text vector of every message of an order's threads, for the
    inbox's search (:mod:`messaging.search`, which keeps it; Postgres only).

    A narrow table of its own rather than a column of the order: rewriting a document
    then writes this row and its GIN index, not a new version of the order through its
    ten indexes. An order without messages has no row.
    """

    order = models.OneToOneField(
        "core.Order", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    document = SearchVectorField()

    class Meta:
        verbose_name = _("order search document")
        verbose_name_plural = _("order search documents")

    def __str__(self) -> str:
        return str(self.order_id)


class OutboundMessage(models.Model):
    """A message the shop writes from Incidesk, kept until Mirakl has it (the outbox).

    The row is written first, in the request's transaction, with its ``delivery`` (an
    outbox entry, :mod:`core.outbox`); the outbox then posts it (M12 for a reply, OR43
    for a new thread, see :mod:`messaging.outbox`) and ``state`` follows the delivery.
    ``idempotency_key`` comes from the form, so a resubmitted form finds its row instead
    of creating a second one. Attempts, the last error and whether an attempt may have
    reached Mirakl without an answer (``delivery.in_doubt``: the next attempt looks for
    the message in Mirakl before posting again) are the delivery's.
    """

    class Kind(models.TextChoices):
        REPLY = "reply", _("Reply")
        NEW_THREAD = "new_thread", _("New conversation")

    class State(BadgeChoices):
        QUEUED = "queued", _("Queued"), Badge.WARN
        SENDING = "sending", _("Sending"), Badge.WARN
        SENT = "sent", _("Sent"), Badge.OK
        FAILED = "failed", _("Failed"), Badge.BAD

    connection = models.ForeignKey(
        "core.MarketplaceConnection", on_delete=models.PROTECT, related_name="+"
    )
    order = models.ForeignKey(
        "core.Order",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="outbound_messages",
    )
    thread = models.ForeignKey(
        Thread,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="outbound_messages",
    )
    #: The incident page it was written from (its history shows it).
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="outbound_messages",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    #: Party types the message goes to: ``["CUSTOMER"]``, ``["OPERATOR"]`` or both.
    recipients = models.JSONField(_("recipients"), default=list)
    topic_type = models.CharField(_("topic type"), max_length=20, blank=True)
    topic_value = models.CharField(_("subject"), max_length=255, blank=True)
    body = models.TextField(_("message"))
    idempotency_key = models.UUIDField(_("idempotency key"), default=uuid.uuid4, editable=False)
    state = models.CharField(
        _("delivery"), max_length=10, choices=State.choices, default=State.QUEUED
    )
    delivery = models.OneToOneField(
        "core.OutboxEntry",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("delivery"),
    )
    mirakl_message_id = models.CharField(_("Mirakl message id"), max_length=64, blank=True)
    mirakl_thread_id = models.CharField(_("Mirakl thread id"), max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("written by"),
    )
    created_at = models.DateTimeField(_("written"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbound message")
        verbose_name_plural = _("outbound messages")
        ordering = ("created_at", "pk")
        constraints = [
            models.UniqueConstraint(
                fields=("idempotency_key",),
                name="%(app_label)s_%(class)s_unique_idempotency_key",
            ),
            models.CheckConstraint(
                condition=Q(kind="reply", thread__isnull=False)
                | Q(kind="new_thread", order__isnull=False),
                name="%(app_label)s_%(class)s_target",
            ),
        ]
        indexes = [
            models.Index(
                fields=("created_at",),
                condition=Q(state__in=("queued", "sending")),
                name="outbound_pending_idx",
            ),
            models.Index(fields=("order", "created_at"), name="outbound_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.created_at:%Y-%m-%d %H:%M} ({self.state})"

    @property
    def is_pending(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.SENDING)

    def get_state_badge(self) -> str:
        """The colour of the delivery state's badge."""
        return self.State.badge_of(self.state)


class OutboundAttachment(models.Model):
    """A file sent with an outbound message, kept in the database.

    The worker that posts the message may run on another machine than the web server,
    and the outbox must survive restarts: bytes in the row need no shared disk.
    """

    message = models.ForeignKey(
        OutboundMessage, on_delete=models.CASCADE, related_name="attachments"
    )
    name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size"))
    content = models.BinaryField(_("content"))

    class Meta:
        verbose_name = _("outbound attachment")
        verbose_name_plural = _("outbound attachments")
        ordering = ("message", "pk")

    def __str__(self) -> str:
        return self.name


class ThreadNoReply(models.Model):
    """A "no reply required" mark set from Incidesk: who, why and when.

    Mirakl's API cannot set this flag (MIRAKL_API.md section 4): the mark is ours, and
    Mirakl's own ``Thread.no_store_reply_needed`` shows up once the agent sets it in the
    back office and the thread syncs.
    """

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="no_reply_marks")
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("marked by"),
    )
    reason = models.TextField(_("why"))
    #: The thread's last message when it was marked: a later inbound message needs a reply.
    last_message_at = models.DateTimeField(_("last message then"), null=True, blank=True)
    at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("no reply required mark")
        verbose_name_plural = _("no reply required marks")
        ordering = ("thread", "at", "pk")
        indexes = [models.Index(fields=("thread", "at"), name="thread_no_reply_at_idx")]

    def __str__(self) -> str:
        return f"{self.thread_id} {self.at:%Y-%m-%d %H:%M}"


class CannedReply(models.Model):
    """A ready-made reply in Spanish, edited by the agent before sending.

    ``body`` may use ``{customer_name}``, ``{order_number}``, ``{carrier}`` and
    ``{tracking}``; they are filled from the order when the agent picks the reply.
    """

    title = models.CharField(_("title"), max_length=100)
    body = models.TextField(_("text"))
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")
        ordering = ("position", "title")

    def __str__(self) -> str:
        return self.title
