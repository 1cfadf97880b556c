"""Marketplace connections and what is synced from them: orders, lines and incidents."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from encrypted_fields.fields import EncryptedCharField

__all__ = [
    "AuditEntry",
    "Incident",
    "IncidentAssignment",
    "IncidentNote",
    "IncidentSeen",
    "MarketplaceConnection",
    "MarketplaceReason",
    "Order",
    "OrderLine",
    "ResolutionRequest",
    "SkippedRecord",
    "SyncCursor",
    "SyncRun",
]


class MarketplaceConnection(models.Model):
    """One shop on one Mirakl marketplace, reached with that shop's API key."""

    class Policy(models.TextChoices):
        PCCOMPONENTES = "pccomponentes", _("PcComponentes: 24 business hours")
        MEDIAMARKT = "mediamarkt", _("MediaMarkt: 48 hours")
        DEFAULT = "default", _("Default: 48 hours")

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    base_url = models.URLField(
        _("Mirakl base URL"),
        help_text=_("Instance root, e.g. https://pccomponentes-prod.mirakl.net"),
    )
    api_key = EncryptedCharField(_("shop API key"), max_length=255)
    shop_id = models.CharField(_("shop id"), max_length=32, blank=True)
    sla_policy = models.CharField(
        _("SLA policy"), max_length=32, choices=Policy.choices, default=Policy.DEFAULT
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("marketplace connection")
        verbose_name_plural = _("marketplace connections")
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class MarketplaceReason(models.Model):
    """A reason from the marketplace's own list (Mirakl RE01), by type and code."""

    connection = models.ForeignKey(
        MarketplaceConnection, on_delete=models.CASCADE, related_name="reasons"
    )
    type = models.CharField(_("type"), max_length=40)
    code = models.CharField(_("code"), max_length=64)
    label = models.CharField(_("label"), max_length=255, blank=True)
    is_shop_right = models.BooleanField(_("usable by the shop"), null=True)
    synced_at = models.DateTimeField(_("synced"), default=timezone.now)

    class Meta:
        verbose_name = _("marketplace reason")
        verbose_name_plural = _("marketplace reasons")
        ordering = ("connection", "type", "code")
        constraints = [
            models.UniqueConstraint(
                fields=("connection", "type", "code"),
                name="%(app_label)s_%(class)s_unique_connection_type_code",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.label}"


class Order(models.Model):
    """A Mirakl order (OR11) of one connection, as last synced."""

    connection = models.ForeignKey(
        MarketplaceConnection, on_delete=models.PROTECT, related_name="orders"
    )
    mirakl_id = models.CharField(_("order id"), max_length=64)
    commercial_id = models.CharField(_("commercial id"), max_length=64, blank=True)
    state = models.CharField(_("state"), max_length=40)
    state_reason_code = models.CharField(max_length=64, blank=True)
    state_reason_label = models.CharField(max_length=255, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2, null=True)
    shipping_price = models.DecimalField(
        _("shipping price"), max_digits=12, decimal_places=2, null=True
    )
    total_price = models.DecimalField(_("total"), max_digits=12, decimal_places=2, null=True)
    has_incident = models.BooleanField(_("has incident"), default=False)
    has_customer_message = models.BooleanField(_("has customer message"), default=False)
    fully_refunded = models.BooleanField(_("fully refunded"), default=False)
    customer_mirakl_id = models.CharField(_("customer id"), max_length=128, blank=True)
    customer_first_name = models.CharField(_("first name"), max_length=128, blank=True)
    customer_last_name = models.CharField(_("last name"), max_length=128, blank=True)
    customer_locale = models.CharField(max_length=16, blank=True)
    customer_email = models.CharField(_("customer e-mail"), max_length=254, blank=True)
    billing_address = models.JSONField(_("billing address"), default=dict, blank=True)
    shipping_address = models.JSONField(_("shipping address"), default=dict, blank=True)
    shipping_company = models.CharField(_("carrier"), max_length=128, blank=True)
    shipping_tracking = models.CharField(_("tracking number"), max_length=128, blank=True)
    shipping_tracking_url = models.CharField(_("tracking URL"), max_length=500, blank=True)
    shipping_type = models.CharField(_("shipping type"), max_length=128, blank=True)
    created_date = models.DateTimeField(_("created in Mirakl"))
    last_updated_date = models.DateTimeField(_("updated in Mirakl"))
    synced_at = models.DateTimeField(_("synced"), default=timezone.now)
    #: The text of the order's messages for the inbox's search (Postgres full text), a
    #: copy the threads sync keeps (:mod:`incidents.search`); empty elsewhere.
    search_document = SearchVectorField(null=True, editable=False)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ("-created_date",)
        constraints = [
            models.UniqueConstraint(
                fields=("connection", "mirakl_id"),
                name="%(app_label)s_%(class)s_unique_connection_mirakl_id",
            )
        ]
        indexes = [
            models.Index(fields=("connection", "-created_date"), name="order_conn_created_idx"),
            models.Index(
                fields=("connection",),
                condition=Q(has_incident=True),
                name="order_conn_incident_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.mirakl_id

    @property
    def customer_name(self) -> str:
        return f"{self.customer_first_name} {self.customer_last_name}".strip()


class OrderLine(models.Model):
    """One line of an order; Mirakl opens incidents on lines."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    mirakl_id = models.CharField(_("line id"), max_length=64)
    index = models.PositiveIntegerField(_("position"), null=True)
    state = models.CharField(_("state"), max_length=40)
    state_reason_code = models.CharField(max_length=64, blank=True)
    state_reason_label = models.CharField(max_length=255, blank=True)
    offer_sku = models.CharField(_("offer SKU"), max_length=128, blank=True)
    product_sku = models.CharField(_("product SKU"), max_length=128, blank=True)
    product_title = models.CharField(_("product"), max_length=500, blank=True)
    category_label = models.CharField(_("category"), max_length=255, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=0)
    price_unit = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2)
    shipping_price = models.DecimalField(
        _("shipping price"), max_digits=12, decimal_places=2, default=0
    )
    total_price = models.DecimalField(_("total"), max_digits=12, decimal_places=2, null=True)
    taxes = models.JSONField(default=list, blank=True)
    shipping_taxes = models.JSONField(default=list, blank=True)
    cancelations = models.JSONField(default=list, blank=True)
    can_refund = models.BooleanField(null=True)
    created_date = models.DateTimeField(null=True)
    last_updated_date = models.DateTimeField(null=True)
    shipped_date = models.DateTimeField(null=True)
    received_date = models.DateTimeField(null=True)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ("order", "index", "mirakl_id")
        constraints = [
            models.UniqueConstraint(
                fields=("order", "mirakl_id"),
                name="%(app_label)s_%(class)s_unique_order_mirakl_id",
            )
        ]

    def __str__(self) -> str:
        return f"{self.order.mirakl_id} / {self.mirakl_id}"


class Incident(models.Model):
    """One episode of an incident on an order line, from opening to closing.

    Mirakl only says whether a line is ``INCIDENT_OPEN``; the states agents work with
    (new, in progress, resolved awaiting close, contested) are derived in
    ``incidents.lifecycle`` from that, the threads and our own actions. A line whose
    incident is reopened gets a new episode, so the history of earlier ones is kept.
    """

    class State(models.TextChoices):
        NEW = "new", _("New")
        IN_PROGRESS = "in_progress", _("In progress")
        CONTESTED = "contested", _("Contested")
        RESOLVED = "resolved", _("Resolved, awaiting close")
        CLOSED = "closed", _("Closed")

    connection = models.ForeignKey(
        MarketplaceConnection, on_delete=models.PROTECT, related_name="incidents"
    )
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="incidents")
    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="incidents")
    episode = models.PositiveSmallIntegerField(_("episode"), default=1)
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.NEW)
    reason_code = models.CharField(_("reason code"), max_length=64, blank=True)
    reason_label = models.CharField(_("reason"), max_length=255, blank=True)
    opened_at = models.DateTimeField(_("opened"))
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
    #: Due time of the open SLA wait, None when nothing waits: a copy the SLA sweep
    #: keeps (``sla.services.incident_reply_due_refresh``) so the inbox's default sort,
    #: most urgent first, reads one index instead of joining every open wait.
    reply_due_at = models.DateTimeField(_("reply due"), null=True, blank=True, editable=False)
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
            # The inbox's sorts: open ones most urgent first, closed ones latest first.
            models.Index(
                fields=("reply_due_at", "opened_at", "id"),
                condition=Q(closed_at__isnull=True),
                name="incident_open_due_idx",
            ),
            models.Index(
                fields=("-opened_at", "-id"),
                condition=Q(closed_at__isnull=False),
                name="incident_closed_opened_idx",
            ),
            # By state, most urgent first; the order (last) answers "waiting for us" and
            # its count from the index alone. (Not INCLUDE: SQLite, the demo, has none.)
            models.Index(
                fields=("state", "reply_due_at", "opened_at", "id", "order"),
                condition=Q(closed_at__isnull=True),
                name="incident_open_state_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order.mirakl_id} / {self.line.mirakl_id} #{self.episode}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class SyncCursor(models.Model):
    """Where the sync of one resource of one connection stands.

    ``updated_since`` is where the next run starts. While a run pages through Mirakl,
    its own ``run_since`` and position (offset or page token) are saved after every
    page, so a crashed run resumes at the page it was on instead of starting over.
    """

    class ErrorKind(models.TextChoices):
        """What stopped the last run, as an admin can act on it (the sync health)."""

        AUTH = "auth", _("Mirakl refuses the API key: check it in the marketplace's settings.")
        NOT_FOUND = (
            "not_found",
            _("Mirakl does not know the address asked for: check the instance URL."),
        )
        BAD_REQUEST = "bad_request", _("Mirakl refused the request.")
        RATE_LIMITED = (
            "rate_limited",
            _("Mirakl is limiting the number of requests; the sync will try again."),
        )
        UNAVAILABLE = (
            "unavailable",
            _("Mirakl does not answer or answers with a server error; the sync will try again."),
        )
        UNREADABLE = "unreadable", _("Mirakl's answer could not be read.")
        LOCK_LOST = "lock_lost", _("Another sync of this marketplace took over.")
        DATABASE = "database", _("The database refused the changes.")
        UNKNOWN = "unknown", _("Unexpected error; the details are in the logs.")

    connection = models.ForeignKey(
        MarketplaceConnection, on_delete=models.CASCADE, related_name="sync_cursors"
    )
    resource = models.CharField(_("resource"), max_length=20)
    updated_since = models.DateTimeField(_("synced up to"), null=True, blank=True)
    run_started_at = models.DateTimeField(null=True, blank=True)
    run_since = models.DateTimeField(null=True, blank=True)
    run_full = models.BooleanField(default=False)
    run_offset = models.PositiveIntegerField(default=0)
    run_page_token = models.TextField(blank=True)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error_kind = models.CharField(
        _("kind of error"), max_length=20, choices=ErrorKind.choices, blank=True
    )
    #: Records of this resource skipped and not stored since (a copy of the count of
    #: unresolved :class:`SkippedRecord` rows the sync keeps, so that a run with nothing
    #: skipped never reads that table).
    skipped_open = models.PositiveIntegerField(_("skipped records"), default=0)

    class Meta:
        verbose_name = _("sync cursor")
        verbose_name_plural = _("sync cursors")
        constraints = [
            models.UniqueConstraint(
                fields=("connection", "resource"),
                name="%(app_label)s_%(class)s_unique_connection_resource",
            )
        ]

    def __str__(self) -> str:
        return f"{self.connection.code}:{self.resource}"

    @property
    def in_progress(self) -> bool:
        return self.run_started_at is not None


class SyncRun(models.Model):
    """The outcome of one sync of one resource: counts, skipped records, error.

    A run whose process died (a crash, ``kill -9``) stays "running" until the next run
    of its resource closes it as "abandoned" and takes over from its last page.
    """

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        ABANDONED = "abandoned", _("Abandoned (the process stopped)")

    connection = models.ForeignKey(
        MarketplaceConnection, on_delete=models.CASCADE, related_name="sync_runs"
    )
    resource = models.CharField(_("resource"), max_length=20)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    full = models.BooleanField(default=False)
    resumed = models.BooleanField(default=False)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0)
    #: Records Mirakl sent that could not be read: ``[{"id": ..., "error": ...}]``.
    skipped_records = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")
        ordering = ("-started_at",)
        indexes = [
            models.Index(fields=("connection", "resource", "-started_at"), name="syncrun_idx")
        ]

    def __str__(self) -> str:
        return f"{self.connection.code}:{self.resource} {self.started_at:%Y-%m-%d %H:%M}"


class SkippedRecord(models.Model):
    """A record Mirakl sent that the sync could not store as it was, named for an admin.

    The rest of its page and of the sync were stored without it. One row per record
    (``mirakl_id`` is the order id, ``<order>/<line>``, the thread id or
    ``<thread>/<message>``; records without an id get a ``#`` and a digest of what was
    received); ``resolved_at`` is set when a later sync stores the same record.
    """

    class Kind(models.TextChoices):
        ORDER = "order", _("Order")
        LINE = "line", _("Order line")
        REFUND = "refund", _("Refund")
        THREAD = "thread", _("Thread")
        MESSAGE = "message", _("Message")
        REASON = "reason", _("Reason")

    class Reason(models.TextChoices):
        UNREADABLE = "unreadable", _("Not readable as the Mirakl API describes it")
        OUT_OF_RANGE = "out_of_range", _("A number the database cannot hold")
        TOO_LONG = "too_long", _("An identifier longer than the database holds")
        DUPLICATE = "duplicate", _("Its id appears twice in the same record")
        REFUSED = "refused", _("Refused by the database")

    connection = models.ForeignKey(
        MarketplaceConnection,
        on_delete=models.CASCADE,
        related_name="skipped_records",
        verbose_name=_("marketplace"),
    )
    resource = models.CharField(_("resource"), max_length=20)
    kind = models.CharField(_("record"), max_length=10, choices=Kind.choices)
    mirakl_id = models.CharField(_("Mirakl id"), max_length=255)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    detail = models.TextField(_("detail"), blank=True)
    excerpt = models.TextField(_("excerpt"), blank=True)
    first_seen_at = models.DateTimeField(_("first seen"), default=timezone.now)
    seen_at = models.DateTimeField(_("seen"), default=timezone.now)
    resolved_at = models.DateTimeField(_("stored later"), null=True, blank=True)

    class Meta:
        verbose_name = _("skipped record")
        verbose_name_plural = _("skipped records")
        ordering = ("-seen_at", "-pk")
        constraints = [
            models.UniqueConstraint(
                fields=("connection", "resource", "kind", "mirakl_id"),
                name="%(app_label)s_%(class)s_unique_record",
            )
        ]
        indexes = [
            models.Index(
                fields=("connection", "resource"),
                condition=Q(resolved_at__isnull=True),
                name="skippedrecord_open_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.connection.code}:{self.kind} {self.mirakl_id}"


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

    def update(self, **kwargs):  # type: ignore[no-untyped-def]
        raise PermissionError("The audit log is append-only.")

    def delete(self):  # type: ignore[no-untyped-def]
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
        EXPORTED = "exported", _("Audit log exported")

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

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.pk is not None and not self._state.adding:
            raise PermissionError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
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
