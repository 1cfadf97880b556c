"""Models of shop health: Mirakl's own figures (history), the call gate, the rulebooks,
and the watchdog's episodes.

- :class:`ShopStatisticsSnapshot`: what A21 answered, one row per call (at most one a
  day per channel: :class:`DailyCall`), kept as history for the sparklines and the
  "figure of dd/mm" on the health page. A01's answers are
  :class:`core.shop_account.ShopAccountSnapshot` (the refunds read the balance there).
- :class:`DailyCall`: the one place Mirakl's documented call frequency is enforced.
- :class:`Rulebook`, :class:`RulebookThreshold`, :class:`RulebookVersion`: each
  marketplace preset's thresholds, editable in the admin, every change versioned.
- :class:`HealthEpisode`: one stretch of a criterion away from normal (or of the shop not
  open), from its first alert to "back to normal"; each step up is announced once.

"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import MarketplaceConnection
from sla.health.criteria import CRITERIA, CriterionKey
from sla.health.rules import Comparison, Threshold, ThresholdState
from sla.models.waits import preset_choices

__all__ = [
    "DailyCall",
    "HealthEpisode",
    "Rulebook",
    "RulebookThreshold",
    "RulebookVersion",
    "ShopStatisticsSnapshot",
]


class ShopStatisticsSnapshot(models.Model):
    """What A21 said of the shop's quality at ``fetched_at``, overall (``channel`` empty)
    or for one channel.

    ``figures`` holds each criterion's value in our units (percent, hours, stars) for the
    period the marketplace judges it over, as strings (``{"incident_rate": "7.60"}``);
    ``payload`` every KPI and period as Mirakl sent them. ``mirakl_updated_at`` is when
    Mirakl last calculated them.
    """

    connection = models.ForeignKey(
        MarketplaceConnection,
        on_delete=models.CASCADE,
        related_name="statistics_snapshots",
        verbose_name=_("marketplace"),
    )
    channel = models.CharField(_("channel"), max_length=40, blank=True)
    fetched_at = models.DateTimeField(_("asked"), default=timezone.now)
    mirakl_updated_at = models.DateTimeField(_("calculated by Mirakl"), null=True, blank=True)
    figures = models.JSONField(_("figures"), default=dict, blank=True)
    payload = models.JSONField(_("answer"), default=dict, blank=True)

    class Meta:
        verbose_name = _("shop statistics (Mirakl)")
        verbose_name_plural = _("shop statistics (Mirakl)")
        ordering = ("-fetched_at", "-pk")
        indexes = [
            models.Index(
                fields=("connection", "channel", "-fetched_at"), name="shopstats_conn_fetched_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.connection} {self.channel or '*'} {self.fetched_at:%Y-%m-%d %H:%M}"

    def figure(self, key: str) -> Decimal | None:
        raw = (self.figures or {}).get(key)
        return None if raw is None else Decimal(str(raw))


class DailyCall(models.Model):
    """When a once-a-day Mirakl call was last made for a connection (and channel).

    Mirakl documents A01 and A21 as "Maximum usage: once per day". Every such call claims
    its row first (:func:`sla.health.gate.daily_call_claim`), under a row lock, and is
    refused until 24 hours after the previous one; a crash after the claim still counts.
    """

    class Call(models.TextChoices):
        ACCOUNT = "A01", _("Shop state and balance")
        STATISTICS = "A21", _("Quality statistics")

    connection = models.ForeignKey(
        MarketplaceConnection,
        on_delete=models.CASCADE,
        related_name="daily_calls",
        verbose_name=_("marketplace"),
    )
    call = models.CharField(_("call"), max_length=3, choices=Call.choices)
    channel = models.CharField(_("channel"), max_length=40, blank=True)
    last_called_at = models.DateTimeField(_("last asked"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("last answer"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)

    class Meta:
        verbose_name = _("daily Mirakl call")
        verbose_name_plural = _("daily Mirakl calls")
        ordering = ("connection", "call", "channel")
        permissions = [
            ("refresh_dailycall", _("Can ask Mirakl for the shop's state and statistics now"))
        ]
        constraints = [
            models.UniqueConstraint(
                fields=("connection", "call", "channel"),
                name="%(app_label)s_%(class)s_unique_connection_call_channel",
            )
        ]

    def __str__(self) -> str:
        return f"{self.connection} {self.call} {self.channel or '*'}"

    @property
    def failing(self) -> bool:
        """The last attempt failed (nothing answered since)."""
        if not self.last_error or self.last_error_at is None:
            return False
        return self.last_success_at is None or self.last_error_at > self.last_success_at

    @property
    def next_allowed_at(self):
        """When the gate lets the next call through (``None``: now)."""
        from sla.health.gate import daily_call_next_allowed  # it imports this model

        return daily_call_next_allowed(self.last_called_at)


class Rulebook(models.Model):
    """A marketplace preset's quality rules: a threshold row per criterion, plus what the
    projections need to know of the operator (how long its review of a resolved
    incident takes). Connections use the rulebook whose ``preset`` is their SLA policy
    code, as with :class:`sla.models.SlaPolicy`."""

    preset = models.CharField(_("preset"), max_length=32, unique=True, choices=preset_choices)
    name = models.CharField(_("name"), max_length=100)
    review_business_days = models.PositiveSmallIntegerField(
        _("operator's review of a resolved incident (business days)"),
        default=3,
        help_text=_(
            "How long the operator takes to close an incident marked resolved "
            "(PcComponentes: about three business days after the last interaction)."
        ),
    )
    source = models.TextField(
        _("source"), blank=True, help_text=_("Where these rules come from (help page, contract).")
    )
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("quality rulebook")
        verbose_name_plural = _("quality rulebooks")
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class RulebookThreshold(models.Model):
    """One criterion's alert and limit in a rulebook.

    Each is *set* (value and comparison), *none* (the marketplace has none) or *unknown*
    (it has one nobody has typed yet); the health page shows unknown thresholds as such.
    """

    rulebook = models.ForeignKey(
        Rulebook, on_delete=models.CASCADE, related_name="thresholds", verbose_name=_("rulebook")
    )
    criterion = models.CharField(_("criterion"), max_length=30, choices=CriterionKey.choices)
    alert_state = models.CharField(
        _("alert"), max_length=10, choices=ThresholdState.choices, default=ThresholdState.UNKNOWN
    )
    alert_comparison = models.CharField(
        _("alert when the figure is"),
        max_length=2,
        choices=Comparison.choices,
        default=Comparison.GTE,
    )
    alert_value = models.DecimalField(
        _("alert value"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    limit_state = models.CharField(
        _("limit"), max_length=10, choices=ThresholdState.choices, default=ThresholdState.UNKNOWN
    )
    limit_comparison = models.CharField(
        _("suspension when the figure is"),
        max_length=2,
        choices=Comparison.choices,
        default=Comparison.GTE,
    )
    limit_value = models.DecimalField(
        _("limit value"), max_digits=10, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = _("threshold")
        verbose_name_plural = _("thresholds")
        ordering = ("rulebook", "criterion")
        constraints = [
            models.UniqueConstraint(
                fields=("rulebook", "criterion"),
                name="%(app_label)s_%(class)s_unique_rulebook_criterion",
            ),
            models.CheckConstraint(
                condition=~Q(alert_state="set") | Q(alert_value__isnull=False),
                name="%(app_label)s_%(class)s_alert_value_when_set",
            ),
            models.CheckConstraint(
                condition=~Q(limit_state="set") | Q(limit_value__isnull=False),
                name="%(app_label)s_%(class)s_limit_value_when_set",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rulebook}: {self.get_criterion_display()}"

    @property
    def alert(self) -> Threshold:
        return Threshold(self.alert_state, self.alert_value, self.alert_comparison)

    @property
    def limit(self) -> Threshold:
        return Threshold(self.limit_state, self.limit_value, self.limit_comparison)

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        higher_is_worse = CRITERIA[self.criterion].higher_is_worse if self.criterion else True
        for name in ("alert", "limit"):
            state = getattr(self, f"{name}_state")
            value = getattr(self, f"{name}_value")
            comparison = Comparison(getattr(self, f"{name}_comparison"))
            if state == ThresholdState.SET and value is None:
                errors[f"{name}_value"] = _("Type the value, or choose “none” or “unknown”.")
            if state != ThresholdState.SET and value is not None:
                errors[f"{name}_value"] = _("A value only goes with a set threshold.")
            if state == ThresholdState.SET and comparison.higher_is_worse != higher_is_worse:
                errors[f"{name}_comparison"] = (
                    _("This criterion gets worse as it rises: use ≥ or >.")
                    if higher_is_worse
                    else _("This criterion gets worse as it falls: use ≤ or <.")
                )
        if errors:
            raise ValidationError(errors)
        alert, limit = self.alert, self.limit
        if alert.is_set and limit.is_set:
            assert alert.value is not None and limit.value is not None  # noqa: S101
            inverted = alert.value > limit.value if higher_is_worse else alert.value < limit.value
            if inverted:
                raise ValidationError(
                    {"alert_value": _("The alert comes before the limit: it cannot be past it.")}
                )


class RulebookVersion(models.Model):
    """One saved change of a rulebook: who, when, what changed (before and after), and
    every threshold as it stood after the change."""

    rulebook = models.ForeignKey(
        Rulebook, on_delete=models.CASCADE, related_name="versions", verbose_name=_("rulebook")
    )
    number = models.PositiveIntegerField(_("version"))
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    changed_at = models.DateTimeField(_("changed"), default=timezone.now)
    #: ``[{"criterion": ..., "field": ..., "before": ..., "after": ...}]``
    changes = models.JSONField(_("changes"), default=list, blank=True)
    #: ``{"review_business_days": 3, "thresholds": {criterion: {...}}}`` after the change.
    rules = models.JSONField(_("rules after the change"), default=dict, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("rulebook version")
        verbose_name_plural = _("rulebook versions")
        ordering = ("rulebook", "-number")
        constraints = [
            models.UniqueConstraint(
                fields=("rulebook", "number"), name="%(app_label)s_%(class)s_unique_number"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rulebook} v{self.number}"


class HealthEpisode(models.Model):
    """A stretch of one criterion (or of the shop's state) away from normal.

    Opened when the watchdog first sees the criterion projected to reach, or reaching,
    its alert or limit (or A01 says the shop is not open); ``level`` is the highest rung
    announced (:class:`sla.health.rules.Level`), so each step up is announced once and a
    figure wavering below it announces nothing. Closed, with a "back to normal" notice,
    once it has been normal for ``HEALTH_NORMAL_AFTER_MINUTES`` (at once for the shop's
    state). One open episode per marketplace and subject.
    """

    SHOP_STATE = "shop_state"

    class Event(models.TextChoices):
        """What an announcement says (stored on its deliveries)."""

        PROJECTED_ALERT = "projected_alert", _("Projected to reach the alert")
        ALERT = "alert", _("Alert threshold reached")
        PROJECTED_LIMIT = "projected_limit", _("Projected to reach the limit")
        LIMIT = "limit", _("Limit reached")
        SUSPENDED = "suspended", _("Shop suspended")
        SHOP_CLOSED = "shop_closed", _("Shop closed")
        TERMINATED = "terminated", _("Shop terminated")
        NORMAL = "normal", _("Back to normal")

    connection = models.ForeignKey(
        MarketplaceConnection,
        on_delete=models.CASCADE,
        related_name="health_episodes",
        verbose_name=_("marketplace"),
    )
    #: A criterion key, or ``shop_state``.
    subject = models.CharField(_("subject"), max_length=30)
    level = models.PositiveSmallIntegerField(_("highest level announced"), default=0)
    current_level = models.PositiveSmallIntegerField(_("level now"), default=0)
    #: The shop state that opened or last changed a ``shop_state`` episode.
    shop_state = models.CharField(_("shop state"), max_length=20, blank=True)
    #: The figure and threshold the last announcement quoted, as shown.
    value = models.CharField(_("figure"), max_length=40, blank=True)
    threshold = models.CharField(_("threshold"), max_length=40, blank=True)
    #: Each announcement's text by event, as sent (in the site's language).
    messages = models.JSONField(_("messages"), default=dict, blank=True)
    opened_at = models.DateTimeField(_("started"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last checked"), default=timezone.now)
    normal_since = models.DateTimeField(_("normal since"), null=True, blank=True)
    closed_at = models.DateTimeField(_("back to normal"), null=True, blank=True)

    class Meta:
        verbose_name = _("health episode")
        verbose_name_plural = _("health episodes")
        ordering = ("-opened_at", "-pk")
        constraints = [
            models.UniqueConstraint(
                fields=("connection", "subject"),
                condition=Q(closed_at__isnull=True),
                name="%(app_label)s_%(class)s_one_open_per_subject",
            )
        ]

    def __str__(self) -> str:
        return f"{self.connection} {self.subject} {self.opened_at:%Y-%m-%d %H:%M}"
