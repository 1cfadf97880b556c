"""Incidents on order lines, the desk's work on them, and the audit log of every action."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.choices import Badge, BadgeChoices
from core.models import MarketplaceConnection, Order, OrderLine

__all__ = [
    "AuditEntry",
    "Incident",
    "IncidentAssignment",
    "IncidentNote",
    "IncidentSeen",
    "ResolutionRequest",
]


class Incident(models.Model):
    """One episode of an incident on an order line, from opening to closing.

    Mirakl only says whether a line is ``INCIDENT_OPEN``; the states agents work with
    (new, in progress, resolved awaiting close, contested) are derived in
    ``incidents.lifecycle`` from that, the threads and our own actions. A line whose
    incident is reopened gets a new episode, so the history of earlier ones is kept.
    """

    class State(BadgeChoices):
        NEW = "new", _("New"), Badge.NEW
        IN_PROGRESS = "in_progress", _("In progress"), Badge.INFO
        CONTESTED = "contested", _("Contested"), Badge.BAD
        RESOLVED = "resolved", _("Resolved, awaiting close"), Badge.OK
        CLOSED = "closed", _("Closed")

    class Watch(BadgeChoices):
        """Why an incident marked resolved is back in the queue (the watch after
        resolving): someone wrote after the resolution, or the operator has not closed
        it by the policy's expected close."""

        CUSTOMER_WROTE = (
            "customer_wrote",
            _("The customer wrote after it was marked resolved"),
            Badge.WARN,
        )
        OPERATOR_WROTE = (
            "operator_wrote",
            _("The operator wrote after it was marked resolved"),
            Badge.BAD,
        )
        CLOSE_OVERDUE = "close_overdue", _("Awaiting close too long"), Badge.WARN

    class OpeningSource(models.TextChoices):
        """Where ``opened_at`` comes from. Mirakl keeps no incident dates: the sync takes
        the line's last update when it sees the line turn ``INCIDENT_OPEN`` (observed).
        A line already open the first time the sync sees its order was last updated by
        whatever came last (a resolution, a contest): that incident is dated from the
        marketplace's notice once the order's threads are synced (pending, then
        estimated; ``incidents.lifecycle``)."""

        OBSERVED = "observed", _("Seen opening by the sync")
        PENDING = "pending", _("Already open when first synced, awaiting its messages")
        ESTIMATED = "estimated", _("Already open when first synced, dated from its messages")

    # The marketplace and the line are looked up on the composite indexes that start
    # with them (incident_conn_state_idx, the unique line and episode): an index of
    # their own is one more entry to write for every new version of an incident.
    connection = models.ForeignKey(
        MarketplaceConnection, on_delete=models.PROTECT, related_name="incidents", db_index=False
    )
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="incidents")
    line = models.ForeignKey(
        OrderLine, on_delete=models.CASCADE, related_name="incidents", db_index=False
    )
    episode = models.PositiveSmallIntegerField(_("episode"), default=1)
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.NEW)
    reason_code = models.CharField(_("reason code"), max_length=64, blank=True)
    reason_label = models.CharField(_("reason"), max_length=255, blank=True)
    opened_at = models.DateTimeField(_("opened"))
    opening_source = models.CharField(
        _("opening date from"),
        max_length=10,
        choices=OpeningSource.choices,
        default=OpeningSource.OBSERVED,
        # In the database too: rows written by code that predates the column.
        db_default=OpeningSource.OBSERVED,
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    #: When the shop first acted on it (a message, a refund, a resolution).
    first_shop_action_at = models.DateTimeField(_("first shop action"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("marked resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    resolution_reason_code = models.CharField(max_length=64, blank=True)
    contested_at = models.DateTimeField(_("contested"), null=True, blank=True)
    #: When the operator is expected to close it once marked resolved: the policy's
    #: close delay after the last activity (``sla.watch``; None unless RESOLVED).
    close_expected_at = models.DateTimeField(
        _("expected close"), null=True, blank=True, editable=False
    )
    #: Why it is back in the queue after being marked resolved, and since when (cleared
    #: when it is marked resolved again).
    watch = models.CharField(
        _("back in the queue"),
        max_length=20,
        choices=Watch.choices,
        blank=True,
        default="",
        # In the database too: rows written by code that predates the column.
        db_default="",
    )
    watch_at = models.DateTimeField(_("back in the queue since"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ("-opened_at",)
        permissions = [
            ("reply_incident", _("Can reply to threads and start conversations")),
            ("resolve_incident", _("Can mark incidents resolved")),
            ("assign_incident", _("Can assign incidents")),
            ("refund_incident", _("Can refund orders")),
            ("review_sla", _("Can review SLA breaches and KPIs")),
            ("export_data", _("Can export data")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=("line", "episode"),
                name="%(app_label)s_%(class)s_unique_line_episode",
            ),
            models.UniqueConstraint(
                fields=("line",),
                condition=Q(closed_at__isnull=True),
                name="%(app_label)s_%(class)s_one_open_per_line",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=models.F("opened_at")),
                name="%(app_label)s_%(class)s_closed_after_opened",
            ),
        ]
        indexes = [
            models.Index(fields=("connection", "state"), name="incident_conn_state_idx"),
            models.Index(
                fields=("opened_at",),
                condition=Q(closed_at__isnull=True),
                name="incident_open_idx",
            ),
            # Closed ones latest first (the API; the most urgent first is the queue's
            # ``queue_incident_reply_due_idx``, kept by the SLA sweep).
            models.Index(
                fields=("-opened_at", "-id"),
                condition=Q(closed_at__isnull=False),
                name="incident_closed_opened_idx",
            ),
            # The incidents whose opening waits for their order's threads (the sync).
            models.Index(
                fields=("connection",),
                condition=Q(opening_source="pending"),
                name="incident_opening_pending_idx",
            ),
            # The watch after resolving: incidents awaiting close, by expected close.
            models.Index(
                fields=("close_expected_at",),
                condition=Q(closed_at__isnull=True, close_expected_at__isnull=False),
                name="incident_close_expected_idx",
            ),
            # By state, oldest first; the order (last) answers "waiting for us" and its
            # count from the index alone. (Not INCLUDE: SQLite, the demo, has none.)
            models.Index(
                fields=("state", "opened_at", "id", "order"),
                condition=Q(closed_at__isnull=True),
                name="incident_open_state_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order.mirakl_id} / {self.line.mirakl_id} #{self.episode}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def needs_attention(self) -> bool:
        """Open, and either not resolved or back in the queue after resolving."""
        return self.closed_at is None and (self.state != self.State.RESOLVED or bool(self.watch))

    def get_watch_badge(self) -> str:
        """The colour of the watch's badge (:class:`Incident.Watch`)."""
        return self.Watch.badge_of(self.watch)

    def get_state_badge(self) -> str:
        """The colour of the state's badge (:class:`Incident.State`)."""
        return self.State.badge_of(self.state)


class IncidentAssignment(models.Model):
    """Who works an incident now. One row per assigned incident; unassigning deletes it.

    A separate table (not a column on ``Incident``) keeps the synced model untouched;
    the history of (re)assignments lives in :class:`AuditEntry`.
    """

    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, related_name="assignment", primary_key=True
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="incident_assignments",
        verbose_name=_("assignee"),
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assigned by"),
    )
    assigned_at = models.DateTimeField(_("assigned"), default=timezone.now)

    class Meta:
        verbose_name = _("incident assignment")
        verbose_name_plural = _("incident assignments")
        indexes = [models.Index(fields=("assignee",), name="incident_assignee_idx")]

    def __str__(self) -> str:
        return f"{self.incident_id} → {self.assignee}"


class IncidentNote(models.Model):
    """An internal note of the shop's team on an incident. Never sent to Mirakl."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author"),
    )
    body = models.TextField(_("note"))
    created_at = models.DateTimeField(_("written"), default=timezone.now)

    class Meta:
        verbose_name = _("internal note")
        verbose_name_plural = _("internal notes")
        ordering = ("incident", "created_at", "pk")
        indexes = [models.Index(fields=("incident", "created_at"), name="incident_note_at_idx")]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.created_at:%Y-%m-%d %H:%M}"


class IncidentSeen(models.Model):
    """When a user last opened an incident's page: the inbox counts messages after it."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField(_("last seen"), default=timezone.now)

    class Meta:
        verbose_name = _("incident seen")
        verbose_name_plural = _("incidents seen")
        constraints = [
            models.UniqueConstraint(
                fields=("user", "incident"),
                name="%(app_label)s_%(class)s_unique_user_incident",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} saw {self.incident_id} at {self.seen_at:%Y-%m-%d %H:%M}"


class AuditEntryQuerySet(models.QuerySet):
    """Audit entries cannot be changed or removed in bulk either."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("The audit log is append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("The audit log is append-only.")


class AuditEntry(models.Model):
    """One line of the append-only audit log: who did what, when, on which order/incident.

    Every desk action (refund, resolve, reply, no-reply-required, assign, note...) and
    every state change lands here, whether a user, the API, the sync or the system did
    it. Rows are never updated or deleted: the model refuses it, and on PostgreSQL a
    trigger refuses it too.
    """

    class Source(models.TextChoices):
        USER = "user", _("User")
        API = "api", _("API")
        SYNC = "sync", _("Mirakl sync")
        SYSTEM = "system", _("System")

    class Action(models.TextChoices):
        # the incident's lifecycle
        INCIDENT_OPENED = "incident_opened", _("Incident opened")
        INCIDENT_REOPENED = "incident_reopened", _("Incident reopened")
        STATE_CHANGED = "state_changed", _("State changed")
        INCIDENT_CLOSED = "incident_closed", _("Incident closed")
        # desk actions
        ASSIGNED = "assigned", _("Assigned")
        UNASSIGNED = "unassigned", _("Unassigned")
        NOTE = "note", _("Internal note")
        REPLY = "reply", _("Reply queued")
        NEW_THREAD = "new_thread", _("Conversation started")
        NO_REPLY = "no_reply", _("Marked “no reply required”")
        RETRY = "retry", _("Delivery retried")
        # refunds
        REFUND_REQUESTED = "refund_requested", _("Refund requested")
        REFUND_APPROVED = "refund_approved", _("Refund approved")
        REFUND_REJECTED = "refund_rejected", _("Refund rejected")
        REFUND_SENT = "refund_sent", _("Refund accepted by Mirakl")
        REFUND_REFUSED = "refund_refused", _("Refund refused by Mirakl")
        REFUND_IN_DOUBT = "refund_in_doubt", _("Refund outcome unknown")
        REFUND_CONFIRMED = "refund_confirmed", _("Refund confirmed by the sync")
        # resolution
        RESOLVE_REQUESTED = "resolve_requested", _("Marked resolved")
        RESOLVE_SENT = "resolve_sent", _("Resolution sent to Mirakl")
        RESOLVE_FAILED = "resolve_failed", _("Resolution refused by Mirakl")
        CONTESTED = "contested", _("Contested by the operator")
        BACK_IN_QUEUE = "back_in_queue", _("Back in the queue after resolving")
        EXPORTED = "exported", _("Audit log exported")
        # order documents
        DOCUMENT_UPLOAD = "document_upload", _("Document upload queued")
        DOCUMENT_UPLOADED = "document_uploaded", _("Document uploaded to Mirakl")
        DOCUMENT_REFUSED = "document_refused", _("Document refused by Mirakl")

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    #: The actor's name when it happened, kept if the user is renamed or removed.
    actor_name = models.CharField(_("by (name)"), max_length=150, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    action = models.CharField(_("action"), max_length=30, choices=Action.choices)
    connection = models.ForeignKey(
        MarketplaceConnection,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("marketplace"),
    )
    order = models.ForeignKey(
        Order,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_entries",
        verbose_name=_("order"),
    )
    incident = models.ForeignKey(
        Incident,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_entries",
        verbose_name=_("incident"),
    )
    from_state = models.CharField(max_length=20, choices=Incident.State.choices, blank=True)
    to_state = models.CharField(max_length=20, choices=Incident.State.choices, blank=True)
    detail = models.TextField(_("detail"), blank=True)
    #: Structured facts of the action (amounts as strings, ids, Mirakl's answer...).
    data = models.JSONField(_("data"), default=dict, blank=True, encoder=DjangoJSONEncoder)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ("-at", "-pk")
        default_permissions = ("add", "view")
        indexes = [
            models.Index(fields=("incident", "at"), name="audit_incident_at_idx"),
            models.Index(fields=("order", "at"), name="audit_order_at_idx"),
            models.Index(fields=("action", "at"), name="audit_action_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.actor_name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise PermissionError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("The audit log is append-only.")


class ResolutionRequest(models.Model):
    """An agent marked an incident resolved here: OR64 to send, and the way back.

    Written with the incident's move to RESOLVED, in one transaction, with its
    ``delivery`` (an outbox entry, :mod:`core.outbox`; the adapter is
    :mod:`incidents.outbox`). The ``previous_*`` fields are the incident as it was
    before: when Mirakl refuses the resolution, the incident goes back to them.
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent to the marketplace")
        REFUSED = "refused", _("Refused by the marketplace")
        SKIPPED = "skipped", _("Not sent (no longer awaiting close)")

    incident = models.ForeignKey(
        Incident,
        on_delete=models.CASCADE,
        related_name="resolution_requests",
        verbose_name=_("incident"),
    )
    reason_code = models.CharField(_("reason code"), max_length=64)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("marked by"),
    )
    source = models.CharField(_("source"), max_length=10, default="user")
    created_at = models.DateTimeField(_("marked"), default=timezone.now)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    #: Mirakl's refusal (or the last error when the outbox gave up).
    error_message = models.TextField(_("Mirakl message"), blank=True)
    previous_state = models.CharField(
        _("state before"), max_length=20, choices=Incident.State.choices
    )
    previous_resolved_at = models.DateTimeField(null=True, blank=True)
    previous_resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    previous_resolution_reason_code = models.CharField(max_length=64, blank=True)
    previous_first_shop_action_at = models.DateTimeField(null=True, blank=True)
    delivery = models.OneToOneField(
        "core.OutboxEntry",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("delivery"),
    )

    class Meta:
        verbose_name = _("resolution request")
        verbose_name_plural = _("resolution requests")
        ordering = ("-created_at", "-pk")
        indexes = [
            models.Index(fields=("incident", "created_at"), name="resolution_incident_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.reason_code} ({self.state})"
