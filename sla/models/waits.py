"""SLA models of the clock: business calendars, policies per marketplace, and what waits
for the shop (items, breaches, the sweep's marks).

How a connection gets its policy: each :class:`SlaPolicy` carries a unique ``preset``
code, and a connection uses the policy whose preset equals its ``sla_policy``
(``sla.policies.policy_for``). This keeps the incidents app unaware of this one.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.choices import Badge, BadgeChoices
from core.models import MarketplaceConnection

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

__all__ = [
    "BusinessCalendar",
    "ClosedDay",
    "SlaBreach",
    "SlaItem",
    "SlaPolicy",
    "SweepState",
    "WorkingPeriod",
]

MIDNIGHT = time(0)


def preset_choices() -> Sequence[tuple[str, StrOrPromise]]:
    """The connections' policy codes; a callable, so new codes need no migration here."""
    return MarketplaceConnection.Policy.choices


class BusinessCalendar(models.Model):
    """When a business works: weekly hours, time zone, public holidays, closed days.

    Public holidays come from the ``holidays`` package (national ones for the country,
    plus the region's when a subdivision such as ``MD`` is set); extra closed days are
    :class:`ClosedDay` rows. ``as_calendar()`` gives the immutable
    :class:`sla.business_hours.Calendar` the arithmetic works on.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Madrid")
    country = models.CharField(
        _("country"),
        max_length=2,
        default="ES",
        blank=True,
        help_text=_("ISO code whose public holidays are closed days; empty for none."),
    )
    subdivision = models.CharField(
        _("region"),
        max_length=10,
        blank=True,
        help_text=_("Region code for its own holidays too, e.g. MD (Madrid), CT, AN."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        import holidays

        try:
            zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError({"time_zone": _("Unknown time zone.")}) from exc
        if self.subdivision and not self.country:
            raise ValidationError({"subdivision": _("A region needs a country.")})
        if self.country:
            try:
                holidays.country_holidays(self.country)
            except NotImplementedError as exc:
                raise ValidationError({"country": _("No holiday data for this country.")}) from exc
            if self.subdivision:
                try:
                    holidays.country_holidays(self.country, subdiv=self.subdivision)
                except NotImplementedError as exc:
                    raise ValidationError(
                        {"subdivision": _("No holiday data for this region.")}
                    ) from exc


class WorkingPeriod(models.Model):
    """A working interval on one weekday, in the calendar's local time.

    ``end_time`` 00:00 means midnight at the end of the day, so 00:00–00:00 is the
    whole day.
    """

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="periods")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start_time = models.TimeField(_("from"))
    end_time = models.TimeField(_("to"), help_text=_("00:00 means midnight (end of the day)."))

    class Meta:
        verbose_name = _("working period")
        verbose_name_plural = _("working periods")
        ordering = ("calendar", "weekday", "start_time")
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")) | Q(end_time=MIDNIGHT),
                name="%(app_label)s_%(class)s_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6),
                name="%(app_label)s_%(class)s_weekday_range",
            ),
        ]

    def __str__(self) -> str:
        end = "24:00" if self.end_time == MIDNIGHT else f"{self.end_time:%H:%M}"
        return f"{self.get_weekday_display()} {self.start_time:%H:%M}–{end}"

    @property
    def seconds(self) -> tuple[int, int]:
        """``(start, end)`` in seconds from local midnight; midnight end is 86400."""
        start = self.start_time.hour * 3600 + self.start_time.minute * 60 + self.start_time.second
        end_time = self.end_time
        end = end_time.hour * 3600 + end_time.minute * 60 + end_time.second or 86_400
        return start, end


class ClosedDay(models.Model):
    """A date the business does not work besides public holidays (e.g. a local feast)."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="closed_days"
    )
    date = models.DateField(_("date"))
    reason = models.CharField(_("reason"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("closed day")
        verbose_name_plural = _("closed days")
        ordering = ("calendar", "date")
        constraints = [
            models.UniqueConstraint(
                fields=("calendar", "date"), name="%(app_label)s_%(class)s_unique_calendar_date"
            )
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.reason}".strip()


class SlaPolicy(models.Model):
    """A marketplace's reply deadline: its clock, length and warning window.

    Its quality thresholds (incident rate, response time...) are in the preset's
    :class:`~sla.models.health.Rulebook`.

    A business-clock policy counts only the working time of its calendar; a wall-clock
    one counts every hour. The warning window is either a fraction of the deadline
    (``0.25`` = the last 25 %) or a number of hours before it; at most one is set.
    """

    class Clock(models.TextChoices):
        BUSINESS = "business", _("Business hours")
        WALL = "wall", _("Wall-clock hours")

    name = models.CharField(_("name"), max_length=100)
    preset = models.CharField(
        _("preset"),
        max_length=32,
        unique=True,
        choices=preset_choices,
        help_text=_("Connections whose SLA policy is this code use this policy."),
    )
    clock = models.CharField(_("clock"), max_length=10, choices=Clock.choices)
    reply_hours = models.DecimalField(
        _("reply deadline (hours)"),
        max_digits=7,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="policies",
        verbose_name=_("calendar"),
        help_text=_("Required for business hours; its time zone is used for display."),
    )
    warn_fraction = models.DecimalField(
        _("warning window (fraction)"),
        max_digits=3,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("1"))],
        help_text=_("Warn in the last part of the deadline, e.g. 0.25 = the last 25%."),
    )
    warn_hours = models.DecimalField(
        _("warning window (hours)"),
        max_digits=7,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Or warn this many hours (of the policy's clock) before the deadline."),
    )
    close_after_days = models.PositiveSmallIntegerField(
        _("expected close (working days)"),
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_(
            "How long after the last activity the operator is expected to close an incident "
            "the shop marked resolved (working days of the calendar; calendar days without "
            "one). Past it, the incident goes back to the queue."
        ),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ("name",)
        constraints = [
            models.CheckConstraint(
                condition=Q(clock="wall") | Q(calendar__isnull=False),
                name="%(app_label)s_%(class)s_business_needs_calendar",
            ),
            models.CheckConstraint(
                condition=Q(warn_fraction__isnull=True) | Q(warn_hours__isnull=True),
                name="%(app_label)s_%(class)s_one_warning_window",
            ),
            models.CheckConstraint(
                condition=Q(reply_hours__gt=0), name="%(app_label)s_%(class)s_positive_deadline"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.clock == self.Clock.BUSINESS and self.calendar_id is None:
            raise ValidationError({"calendar": _("A business-hours policy needs a calendar.")})
        if self.warn_fraction is not None and self.warn_hours is not None:
            raise ValidationError(_("Set the warning window as a fraction or in hours, not both."))

    @property
    def reply_within(self) -> timedelta:
        return timedelta(hours=float(self.reply_hours))


class SlaItem(models.Model):
    """One thing waiting for the shop: an incident, or a thread's inbound message.

    One row per wait, keyed by what waits and when it started, so a re-run finds the
    row it made before. ``state`` is kept up to date by the sweep; ``stopped`` rows
    stay as the history of reply times.
    """

    class Kind(models.TextChoices):
        INCIDENT = "incident", _("Incident")
        THREAD = "thread", _("Message")

    class State(BadgeChoices):
        ON_TIME = "on_time", _("On time"), Badge.OK
        NEARING = "nearing", _("Nearing the deadline"), Badge.WARN
        BREACHED = "breached", _("Deadline missed"), Badge.BAD
        STOPPED = "stopped", _("Answered")

    class Audience(models.TextChoices):
        NONE = "", _("—")
        CUSTOMER = "CUSTOMER", _("Customer")
        OPERATOR = "OPERATOR", _("Operator")
        ANY = "ANY", _("Anyone")

    class StopReason(models.TextChoices):
        NONE = "", _("—")
        SHOP_REPLY = "shop_reply", _("The shop replied")
        NO_REPLY_NEEDED = "no_reply_needed", _("No reply required")
        INCIDENT_CLOSED = "incident_closed", _("Incident closed")
        WITHDRAWN = "withdrawn", _("No longer waiting")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    # Every index and constraint check slows the first sweep of a large shop, which
    # inserts every open wait at once. The unique keys below start with incident and
    # thread, so they serve those foreign keys too. No key is checked by the database:
    # an item is made by the sweep from the incident or thread it has just read, in
    # the same transaction (``connection`` is a copy of theirs, ``policy`` informative),
    # and incidents and threads are never deleted but through Django, which deletes
    # their items with them. A checked key cost the first sweep a locking lookup of
    # the incident or thread per item at commit (a sixth of its database time).
    connection = models.ForeignKey(
        MarketplaceConnection,
        on_delete=models.CASCADE,
        related_name="sla_items",
        verbose_name=_("marketplace"),
        db_index=False,
        db_constraint=False,
    )
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sla_items",
        verbose_name=_("incident"),
        db_index=False,
        db_constraint=False,
    )
    thread = models.ForeignKey(
        "messaging.Thread",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sla_items",
        verbose_name=_("thread"),
        db_index=False,
        db_constraint=False,
    )
    audience = models.CharField(
        _("waiting for a reply to"), max_length=10, choices=Audience.choices, blank=True
    )
    policy = models.ForeignKey(
        SlaPolicy,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="items",
        verbose_name=_("policy"),
        db_index=False,
        db_constraint=False,
    )
    started_at = models.DateTimeField(_("waiting since"))
    due_at = models.DateTimeField(_("due"))
    warn_at = models.DateTimeField(_("warn from"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices)
    stopped_at = models.DateTimeField(_("answered"), null=True, blank=True)
    stop_reason = models.CharField(
        _("stop reason"), max_length=20, choices=StopReason.choices, blank=True
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("SLA item")
        verbose_name_plural = _("SLA items")
        ordering = ("due_at", "pk")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="incident", incident__isnull=False, thread__isnull=True)
                    | Q(kind="thread", thread__isnull=False, incident__isnull=True)
                ),
                name="%(app_label)s_%(class)s_one_object",
            ),
            # Partial: an item of the other kind (its object NULL) never conflicts, and
            # an entry for it was one more index write per item of a first sweep.
            # They are the incident's and the thread's lookup indexes too.
            models.UniqueConstraint(
                fields=("incident", "started_at"),
                condition=Q(incident__isnull=False),
                name="%(app_label)s_%(class)s_unique_incident_start",
            ),
            models.UniqueConstraint(
                fields=("thread", "audience", "started_at"),
                condition=Q(thread__isnull=False),
                name="%(app_label)s_%(class)s_unique_thread_audience_start",
            ),
            models.CheckConstraint(
                condition=Q(warn_at__gte=F("started_at"), due_at__gte=F("warn_at")),
                name="%(app_label)s_%(class)s_ordered_times",
            ),
            models.CheckConstraint(
                condition=(
                    Q(state="stopped", stopped_at__isnull=False)
                    | (~Q(state="stopped") & Q(stopped_at__isnull=True))
                ),
                name="%(app_label)s_%(class)s_stopped_state",
            ),
        ]
        indexes = [
            models.Index(
                fields=("due_at",),
                condition=Q(stopped_at__isnull=True),
                name="slaitem_open_due_idx",
            ),
            # The sweep's thresholds: on time past the warning, nearing past the deadline.
            models.Index(
                fields=("warn_at",), condition=Q(state="on_time"), name="slaitem_on_time_warn_idx"
            ),
            models.Index(
                fields=("due_at",), condition=Q(state="nearing"), name="slaitem_nearing_due_idx"
            ),
            # The KPIs: the waits due in a period, per marketplace, counted from the index.
            models.Index(
                fields=("connection", "due_at", "stopped_at"), name="slaitem_conn_due_idx"
            ),
            # The inbox's SLA filter ("breaching"): open incident waits by state.
            models.Index(
                fields=("state", "incident"),
                condition=Q(kind="incident", stopped_at__isnull=True),
                name="slaitem_open_incident_idx",
            ),
        ]

    def __str__(self) -> str:
        subject = self.incident_id if self.kind == self.Kind.INCIDENT else self.thread_id
        return f"{self.get_kind_display()} {subject} → {self.due_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.stopped_at is None


class SlaBreach(models.Model):
    """A missed deadline, recorded once per item and kept after the shop answers.

    ``breached_at`` is when the sweep first saw it (for a wait answered late before
    any sweep saw it, the sweep that found it); ``answered_at`` is filled when the
    wait stops. Lateness runs from the deadline to the answer, or to now.
    """

    # No foreign key in the database: the sweep inserts each breach from its item in
    # the statement that reads it (``INSERT … SELECT``), and Django deletes breaches
    # with their items; a key checked at commit cost the first sweep of a large shop
    # a lookup per breach.
    item = models.OneToOneField(
        SlaItem,
        on_delete=models.CASCADE,
        related_name="breach",
        verbose_name=_("SLA item"),
        db_constraint=False,
    )
    # Copies of the item's, for reports without a join; the item is the real reference.
    connection = models.ForeignKey(
        MarketplaceConnection,
        on_delete=models.CASCADE,
        related_name="sla_breaches",
        verbose_name=_("marketplace"),
        db_index=False,
        db_constraint=False,
    )
    kind = models.CharField(_("kind"), max_length=10, choices=SlaItem.Kind.choices)
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sla_breaches",
        verbose_name=_("incident"),
        db_constraint=False,
    )
    thread = models.ForeignKey(
        "messaging.Thread",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sla_breaches",
        verbose_name=_("thread"),
        db_constraint=False,
    )
    due_at = models.DateTimeField(_("due"))
    breached_at = models.DateTimeField(_("seen breached"))
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("SLA breach")
        verbose_name_plural = _("SLA breaches")
        ordering = ("-due_at", "-pk")
        indexes = [
            models.Index(fields=("connection", "-due_at"), name="slabreach_conn_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.due_at:%Y-%m-%d %H:%M}"

    def lateness(self, now: datetime | None = None) -> timedelta:
        """How late the answer was (or is, while unanswered), in wall-clock time."""
        return (self.answered_at or now or timezone.now()) - self.due_at


class SweepState(models.Model):
    """Where the SLA sweep stands: what it has already seen (one row).

    The sweep re-reads incidents and threads changed after these marks (minus a small
    overlap for transactions that committed late) and threads with messages whose id
    is above ``last_message_id``.
    """

    key = models.CharField(_("key"), max_length=20, unique=True, default="default")
    incidents_seen_at = models.DateTimeField(_("incidents seen up to"), null=True, blank=True)
    threads_seen_at = models.DateTimeField(_("threads seen up to"), null=True, blank=True)
    last_message_id = models.BigIntegerField(_("last message id seen"), default=0)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("SLA sweep state")
        verbose_name_plural = _("SLA sweep state")

    def __str__(self) -> str:
        return self.key
