"""What the sync keeps per connection: cursors, runs and the records it skipped."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["SkippedRecord", "SyncCursor", "SyncRun"]


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
        "core.MarketplaceConnection", on_delete=models.CASCADE, related_name="sync_cursors"
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
        "core.MarketplaceConnection", on_delete=models.CASCADE, related_name="sync_runs"
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
        "core.MarketplaceConnection",
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
