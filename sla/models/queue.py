"""The queue of what the shop owes, kept as a narrow table (one row per incident, and per
conversation of an order without incident).

The queue page and the API read this table alone, sorted and filtered on its indexes,
instead of joining incidents, threads, messages and SLA waits at read time. The SLA
sweep keeps it (:func:`sla.queue.queue_entries_refresh`) for the orders whose incidents,
threads or messages it saw change.
"""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import MarketplaceConnection

__all__ = ["PREVIEW_CHARS", "QueueEntry", "queue_sla_state"]

#: The last inbound message's first characters, shown on one line of the queue.
PREVIEW_CHARS = 160

#: What the queue's filters read besides the marketplace (``desk.filtersets``): carried
#: by the indexes of its default order.
_FILTERED = ("kind", "owed_to", "incident_state", "warn_at", "incident")


def queue_sla_state(due_at: datetime | None, warn_at: datetime | None, now: datetime) -> str:
    """``breached``, ``nearing``, ``on_time``, or "" when nothing is owed."""
    if due_at is None or warn_at is None:
        return ""
    if due_at < now:
        return "breached"
    if warn_at <= now:
        return "nearing"
    return "on_time"


class QueueEntry(models.Model):
    """A row of the queue: an incident, or a conversation on an order without incident.

    ``due_at`` is the earliest deadline of any open wait on the row (the incident's
    first reply, every follow-up on the order's threads, to the customer and to the
    operator), ``warn_at`` the earliest warning; both are empty when nothing is owed.
    ``is_open``: the incident is not closed, or something is owed.
    ``reply_due_at`` (incidents' rows): the due time of the incident's own wait alone.
    """

    class Kind(models.TextChoices):
        INCIDENT = "incident", _("Incident")
        CONVERSATION = "conversation", _("Conversation")

    class Owed(models.TextChoices):
        NONE = "", _("Nobody")
        CUSTOMER = "customer", _("Customer")
        OPERATOR = "operator", _("Operator")
        BOTH = "both", _("Both")

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    connection = models.ForeignKey(
        MarketplaceConnection,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("marketplace"),
        db_index=False,
        db_constraint=False,
    )
    incident = models.OneToOneField(
        "incidents.Incident",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="queue_entry",
        db_constraint=False,
    )
    thread = models.OneToOneField(
        "messaging.Thread",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="queue_entry",
        db_constraint=False,
    )
    order = models.ForeignKey(
        "core.Order",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        # queue_order_idx below: one index on the order, not two.
        db_index=False,
    )
    order_number = models.CharField(_("order"), max_length=64)
    reason_code = models.CharField(_("reason code"), max_length=64, blank=True)
    reason_label = models.CharField(_("reason"), max_length=255, blank=True)
    incident_state = models.CharField(_("incident state"), max_length=20, blank=True)
    is_open = models.BooleanField(_("open"), default=True)
    owed_to = models.CharField(
        _("reply owed to"), max_length=10, choices=Owed.choices, blank=True, default=""
    )
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    #: An incident's row: the due time of the incident's own open wait (its first
    #: reply), None when it has none; the API's ``?ordering=due`` of incidents.
    reply_due_at = models.DateTimeField(_("reply due"), null=True, blank=True)
    warn_at = models.DateTimeField(_("warn from"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened"))
    message_count = models.PositiveIntegerField(_("messages"), default=0)
    last_inbound_at = models.DateTimeField(_("last message received"), null=True, blank=True)
    last_inbound_author = models.CharField(max_length=20, blank=True)
    last_inbound_preview = models.CharField(_("last message"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("queue row")
        verbose_name_plural = _("queue rows")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="incident", incident__isnull=False, thread__isnull=True)
                    | Q(kind="conversation", thread__isnull=False, incident__isnull=True)
                ),
                name="%(app_label)s_%(class)s_one_object",
            ),
        ]
        # The queue's default order (due time, nulls last, then oldest) walked on an
        # index, alone or after one equality filter. The two walked most carry the
        # columns the queue's filters read: a filter the index does not lead with
        # (owed to the operator, a marketplace's late rows owed to the customer) is
        # checked on the index alone, as is the capped count of its rows, instead of
        # reading each row from the table (the counts took 10 to 25 ms).
        indexes = [
            models.Index(
                fields=("due_at", "opened_at", "id"),
                condition=Q(is_open=True),
                include=("connection", *_FILTERED),
                name="queue_open_due_idx",
            ),
            models.Index(
                fields=("connection", "due_at", "opened_at", "id"),
                condition=Q(is_open=True),
                include=_FILTERED,
                name="queue_open_conn_due_idx",
            ),
            models.Index(
                fields=("kind", "due_at", "opened_at", "id"),
                condition=Q(is_open=True),
                name="queue_open_kind_due_idx",
            ),
            models.Index(
                fields=("owed_to", "due_at", "opened_at", "id"),
                condition=Q(is_open=True),
                name="queue_open_owed_due_idx",
            ),
            models.Index(
                fields=("incident_state", "due_at", "opened_at", "id"),
                condition=Q(is_open=True),
                name="queue_open_state_due_idx",
            ),
            # The "Messages" column's sort (ties by id, so pages neither skip nor repeat).
            models.Index(
                fields=("message_count", "id"),
                condition=Q(is_open=True),
                name="queue_open_messages_idx",
            ),
            models.Index(
                fields=("warn_at",),
                condition=Q(is_open=True, warn_at__isnull=False),
                name="queue_open_warn_idx",
            ),
            models.Index(
                fields=("-opened_at", "-id"), condition=Q(is_open=False), name="queue_closed_idx"
            ),
            models.Index(fields=("order",), name="queue_order_idx"),
            # The incidents' own due time, soonest first (the API's ``ordering=due``,
            # which reads the rows with one apart from those without).
            models.Index(
                fields=("reply_due_at", "incident"),
                condition=Q(reply_due_at__isnull=False),
                name="queue_incident_reply_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.order_number}"

    def sla_state(self, now: datetime | None = None) -> str:
        """``breached``, ``nearing``, ``on_time``, or "" when nothing is owed."""
        return queue_sla_state(self.due_at, self.warn_at, now or timezone.now())
