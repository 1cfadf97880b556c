"""SLA models of alerting: who is told how (per marketplace), sync alert episodes,
in-app notifications, and one delivery row per alert sent (through the outbox): about
an SLA item, a marketplace not syncing, or a shop health episode."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.choices import Badge, BadgeChoices
from core.models import MarketplaceConnection
from sla.models.health import HealthEpisode
from sla.models.waits import SlaItem

__all__ = ["AlertDelivery", "AlertSettings", "DigestDay", "Notification", "SyncAlert"]


class AlertSettings(models.Model):
    """How a marketplace's SLA alerts leave Incidesk besides the in-app list and e-mail.

    A separate row (not fields on the connection) keeps the incidents app unaware of
    alerts. ``webhook_url`` receives Slack/Teams-compatible ``{"text": ...}`` posts;
    with ``digest`` on, account managers get one daily e-mail summary instead of an
    e-mail per item (they still see every alert in the app).
    """

    connection = models.OneToOneField(
        MarketplaceConnection,
        on_delete=models.CASCADE,
        related_name="alert_settings",
        verbose_name=_("marketplace"),
    )
    webhook_url = models.URLField(
        _("webhook URL"),
        max_length=500,
        blank=True,
        help_text=_("Slack or Teams incoming webhook; empty for none."),
    )
    account_managers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="+",
        verbose_name=_("account managers"),
        help_text=_(
            "Who hears of this marketplace's shop health (quality thresholds, suspension). "
            "Empty: every account manager."
        ),
    )
    digest = models.BooleanField(
        _("daily digest for account managers"),
        default=False,
        help_text=_("Account managers get one summary a day instead of an e-mail per item."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("alert settings")
        verbose_name_plural = _("alert settings")
        ordering = ("connection",)

    def __str__(self) -> str:
        return str(self.connection)


class DigestDay(models.Model):
    """The daily digest went out for ``day`` (Madrid): one row per day, claimed first.

    Beat may fire the digest twice (two beats during a deploy, a retried task); the
    unique day makes the second claim fail, so the digest goes out once a day.
    """

    day = models.DateField(_("day"), unique=True)
    sent_at = models.DateTimeField(_("sent"), default=timezone.now)
    emails = models.PositiveIntegerField(_("e-mails"), default=0)

    class Meta:
        verbose_name = _("daily digest sent")
        verbose_name_plural = _("daily digests sent")
        ordering = ("-day",)

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d}"


class SyncAlert(models.Model):
    """One episode of a marketplace not syncing, from the alert to the recovery.

    Opened when the marketplace has not synced successfully for ``SYNC_STALE_ALERT``
    (``sla.sync_alerts.sync_alerts_dispatch``, every minute), closed when it syncs again; a
    marketplace has one open at most, so admins hear of each episode once when it
    starts and once when it ends.
    """

    class Event(models.TextChoices):
        STALE = "stale", _("Not syncing")
        RECOVERED = "recovered", _("Syncing again")

    connection = models.ForeignKey(
        MarketplaceConnection,
        on_delete=models.CASCADE,
        related_name="sync_alerts",
        verbose_name=_("marketplace"),
    )
    opened_at = models.DateTimeField(_("alerted"), default=timezone.now)
    #: When its data had last been synced, as the alert said.
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    #: What stopped the sync then, in words (empty when it was only slow).
    error = models.TextField(_("last error"), blank=True)
    recovered_at = models.DateTimeField(_("syncing again"), null=True, blank=True)

    class Meta:
        verbose_name = _("sync alert")
        verbose_name_plural = _("sync alerts")
        ordering = ("-opened_at", "-pk")
        constraints = [
            models.UniqueConstraint(
                fields=("connection",),
                condition=Q(recovered_at__isnull=True),
                name="%(app_label)s_%(class)s_one_open_per_connection",
            )
        ]

    def __str__(self) -> str:
        return f"{self.connection} {self.opened_at:%Y-%m-%d %H:%M}"


class Notification(models.Model):
    """An in-app alert for one user: shown in the bell until read."""

    class Kind(BadgeChoices):
        SLA = "sla", _("Deadline alert"), Badge.WARN
        CONTESTED = "contested", _("Resolution contested"), Badge.WARN
        SYNC_STALE = "sync_stale", _("Marketplace not syncing"), Badge.BAD
        SYNC_RECOVERED = "sync_recovered", _("Marketplace syncing again"), Badge.OK
        HEALTH = "health", _("Shop health"), Badge.WARN
        HEALTH_NORMAL = "health_normal", _("Shop health back to normal"), Badge.OK
        CLOSE_OVERDUE = "close_overdue", _("Awaiting close too long"), Badge.WARN
        WROTE_AFTER_RESOLVED = (
            "wrote_after_resolved",
            _("Message after marked resolved"),
            Badge.WARN,
        )
        REFUND_APPROVAL = "refund_approval", _("Refund awaiting approval"), Badge.WARN

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("user"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.SLA)
    item = models.ForeignKey(
        SlaItem,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("SLA item"),
    )
    #: The incident it is about, for alerts that are not about a deadline.
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("incident"),
    )
    #: The marketplace it is about, for shop health alerts (links to its health page).
    connection = models.ForeignKey(
        MarketplaceConnection,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("marketplace"),
    )
    state = models.CharField(_("state"), max_length=10, choices=SlaItem.State.choices, blank=True)
    message = models.TextField(_("message"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ("-created_at", "-pk")
        indexes = [
            models.Index(
                fields=("user",),
                condition=Q(read_at__isnull=True),
                name="notification_unread_idx",
            ),
            models.Index(fields=("user", "-created_at"), name="notification_user_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.state} {self.created_at:%Y-%m-%d %H:%M}"

    def get_badge(self) -> str:
        """The colour of its badge: its deadline's state, or else its kind."""
        if self.state:
            return SlaItem.State.badge_of(self.state)
        return self.Kind.badge_of(self.kind)


class AlertDelivery(models.Model):
    """The log of alerts sent: one row per item, state, channel and recipient.

    The unique constraints make each alert go out once, however often the sweep or
    the alert task runs. In-app rows are sent when created; e-mail and webhook rows
    have a ``delivery`` (an outbox entry, :mod:`core.outbox`; the adapters are in
    :mod:`sla.outbox`) that sends them and holds their attempts and last error, and
    ``sent_at`` is set when they went out. An alert is about an SLA item (``state``
    nearing or breached) or a marketplace not syncing (``sync_alert``, ``state`` stale
    or recovered).
    """

    class Channel(models.TextChoices):
        IN_APP = "in_app", _("In the app")
        EMAIL = "email", _("E-mail")
        WEBHOOK = "webhook", _("Webhook")

    item = models.ForeignKey(
        SlaItem,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="alert_deliveries",
        verbose_name=_("item"),
    )
    sync_alert = models.ForeignKey(
        SyncAlert,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="deliveries",
        verbose_name=_("sync alert"),
    )
    health_episode = models.ForeignKey(
        HealthEpisode,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="deliveries",
        verbose_name=_("shop health episode"),
    )
    state = models.CharField(
        _("state"),
        max_length=20,
        choices=[
            *SlaItem.State.choices,
            *SyncAlert.Event.choices,
            *HealthEpisode.Event.choices,
        ],
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recipient"),
    )
    target = models.CharField(_("address"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivery = models.OneToOneField(
        "core.OutboxEntry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("delivery"),
    )

    class Meta:
        verbose_name = _("alert delivery")
        verbose_name_plural = _("alert deliveries")
        ordering = ("-created_at", "-pk")
        constraints = [
            models.UniqueConstraint(
                fields=("item", "state", "channel", "user"),
                condition=Q(user__isnull=False),
                name="%(app_label)s_%(class)s_unique_item_state_channel_user",
            ),
            # The webhook has no user; NULLs never conflict, so it needs its own key.
            models.UniqueConstraint(
                fields=("item", "state", "channel"),
                condition=Q(user__isnull=True),
                name="%(app_label)s_%(class)s_unique_item_state_channel_nouser",
            ),
            models.UniqueConstraint(
                fields=("sync_alert", "state", "channel", "user"),
                condition=Q(sync_alert__isnull=False, user__isnull=False),
                name="%(app_label)s_%(class)s_unique_sync_alert_state_channel_user",
            ),
            models.UniqueConstraint(
                fields=("health_episode", "state", "channel", "user"),
                condition=Q(health_episode__isnull=False, user__isnull=False),
                name="%(app_label)s_%(class)s_unique_health_state_channel_user",
            ),
            models.UniqueConstraint(
                fields=("health_episode", "state", "channel"),
                condition=Q(health_episode__isnull=False, user__isnull=True),
                name="%(app_label)s_%(class)s_unique_health_state_channel_nouser",
            ),
            models.CheckConstraint(
                condition=Q(
                    item__isnull=False, sync_alert__isnull=True, health_episode__isnull=True
                )
                | Q(item__isnull=True, sync_alert__isnull=False, health_episode__isnull=True)
                | Q(item__isnull=True, sync_alert__isnull=True, health_episode__isnull=False),
                name="%(app_label)s_%(class)s_one_subject",
            ),
        ]

    def __str__(self) -> str:
        subject = (
            self.item_id
            or (self.sync_alert_id and f"sync {self.sync_alert_id}")
            or f"health {self.health_episode_id}"
        )
        return f"{subject} {self.state} {self.channel} {self.user_id or ''}".strip()
