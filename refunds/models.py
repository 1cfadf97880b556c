"""Refunds: as Mirakl reports them (OR11), and the ones the shop asks for from Incidesk.

- :class:`Refund`: a refund synced from OR11 ``order_lines[].refunds[]``, whoever made it.
- :class:`RefundRequest` / :class:`RefundRequestLine`: a refund asked for here (OR28),
  recorded before it is sent and delivered at most once (see ``refunds.services``).
- :class:`RefundLimit`: how much one user may refund without a second approver.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from core.choices import Badge, BadgeChoices
from refunds.constants import MIRAKL_PENDING_REFUND_STATES

__all__ = ["Refund", "RefundLimit", "RefundRequest", "RefundRequestLine"]


class Refund(models.Model):
    """A refund of (part of) an order line, whoever made it."""

    class State(BadgeChoices):
        """Mirakl's states of a refund (OR11 ``refunds[].refund_state``) the desk knows.

        Not the field's ``choices``: Mirakl may send a state this list lacks, and the
        desk shows it as sent rather than refuse the refund."""

        WAITING_REFUND_TAX_CONFIRMATION = (
            "WAITING_REFUND_TAX_CONFIRMATION",
            _("Waiting for tax confirmation"),
            Badge.WARN,
        )
        WAITING_REFUND = "WAITING_REFUND", _("Waiting for refund"), Badge.WARN
        WAITING_REFUND_PAYMENT = (
            "WAITING_REFUND_PAYMENT",
            _("Waiting for refund payment"),
            Badge.WARN,
        )
        REFUNDED = "REFUNDED", _("Refunded"), Badge.OK
        REFUSED = "REFUSED", _("Refused"), Badge.BAD

    line = models.ForeignKey("core.OrderLine", on_delete=models.CASCADE, related_name="refunds")
    mirakl_id = models.CharField(_("refund id"), max_length=64)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    shipping_amount = models.DecimalField(
        _("shipping amount"), max_digits=12, decimal_places=2, default=0
    )
    quantity = models.PositiveIntegerField(_("quantity"), null=True, blank=True)
    reason_code = models.CharField(_("reason"), max_length=64, blank=True)
    state = models.CharField(_("state"), max_length=40, blank=True)
    taxes = models.JSONField(default=list, blank=True)
    shipping_taxes = models.JSONField(default=list, blank=True)
    created_date = models.DateTimeField(_("created in Mirakl"), null=True, blank=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ("line", "created_date", "pk")
        constraints = [
            models.UniqueConstraint(
                fields=("line", "mirakl_id"),
                name="%(app_label)s_%(class)s_unique_line_mirakl_id",
            )
        ]

    def __str__(self) -> str:
        return f"{self.mirakl_id}: {self.amount} + {self.shipping_amount}"

    @property
    def is_pending(self) -> bool:
        """Accepted by Mirakl, not paid yet (the tax confirmation counts as pending)."""
        return self.state in MIRAKL_PENDING_REFUND_STATES

    def get_state_display(self) -> str:
        """The state in words; one the desk does not know, as Mirakl sent it."""
        return self.State(self.state).label if self.state in self.State.values else self.state

    def get_state_badge(self) -> str:
        """The colour of the state's badge."""
        return self.State.badge_of(self.state)


class RefundRequest(models.Model):
    """A refund the shop asked for from Incidesk, kept until Mirakl has it (OR28).

    The row is written before anything is sent, in the transaction that validated it
    against what is left to refund (the order row locked). ``idempotency_key`` is
    unique per connection: the same form or API call sent twice finds this row.
    A request above its author's limit waits for a second user's approval. Once queued
    it has a ``delivery`` (an outbox entry, :mod:`core.outbox`): the outbox sends all
    its lines in one OR28 call and stores Mirakl's refund ids per line (``sent``, see
    :mod:`refunds.outbox`); the sync later sees those refunds in OR11 (``confirmed``).
    ``in_doubt`` means an attempt may have reached Mirakl without an answer: the next
    attempt looks for the refunds in Mirakl's order before sending anything again (the
    delivery's ``evidence`` says what that check saw).
    """

    class Kind(models.TextChoices):
        FULL = "full", _("Full refund")
        PARTIAL = "partial", _("Partial refund")

    class State(BadgeChoices):
        AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval"), Badge.NEW
        QUEUED = "queued", _("Queued"), Badge.WARN
        SENDING = "sending", _("Sending"), Badge.WARN
        IN_DOUBT = "in_doubt", _("Outcome unknown, checking"), Badge.WARN
        SENT = "sent", _("Accepted by Mirakl"), Badge.INFO
        CONFIRMED = "confirmed", _("Confirmed by Mirakl"), Badge.OK
        REFUSED = "refused", _("Refused by Mirakl"), Badge.BAD
        REJECTED = "rejected", _("Rejected by the approver"), Badge.BAD

    #: States in which the request still holds part of the lines' remainder.
    PENDING_STATES = (
        State.AWAITING_APPROVAL,
        State.QUEUED,
        State.SENDING,
        State.IN_DOUBT,
    )
    #: States that never refunded anything (they free the remainder they held).
    VOID_STATES = (State.REFUSED, State.REJECTED)

    connection = models.ForeignKey(
        "core.MarketplaceConnection",
        on_delete=models.PROTECT,
        related_name="refund_requests",
        verbose_name=_("marketplace"),
    )
    order = models.ForeignKey(
        "core.Order",
        on_delete=models.PROTECT,
        related_name="refund_requests",
        verbose_name=_("order"),
    )
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="refund_requests",
        verbose_name=_("incident"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    reason_code = models.CharField(_("reason code"), max_length=64)
    reason_label = models.CharField(_("reason"), max_length=255, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=255)
    #: SHA-256 of what was asked (lines, amounts, reason, kind): the same key with
    #: another payload is an error, not a silent replay.
    fingerprint = models.CharField(max_length=64, editable=False)
    state = models.CharField(_("state"), max_length=20, choices=State.choices)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    #: ``AuditEntry.Source`` of the request: ``user`` (the pages) or ``api``.
    source = models.CharField(_("source"), max_length=10, default="user")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved or rejected by"),
    )
    approved_at = models.DateTimeField(_("approved or rejected"), null=True, blank=True)
    rejection_reason = models.TextField(_("rejection reason"), blank=True)
    created_at = models.DateTimeField(_("requested"), default=timezone.now)
    delivery = models.OneToOneField(
        "core.OutboxEntry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("delivery"),
    )
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    #: Mirakl's refusal, or the last transient error while the request waits.
    error_message = models.TextField(_("Mirakl message"), blank=True)

    class Meta:
        verbose_name = _("refund request")
        verbose_name_plural = _("refund requests")
        ordering = ("-created_at", "-pk")
        constraints = [
            models.UniqueConstraint(
                fields=("connection", "idempotency_key"),
                name="%(app_label)s_%(class)s_unique_connection_key",
            ),
            models.CheckConstraint(
                condition=Q(total__gt=0), name="%(app_label)s_%(class)s_total_positive"
            ),
            models.CheckConstraint(
                condition=~Q(idempotency_key=""),
                name="%(app_label)s_%(class)s_key_not_blank",
            ),
        ]
        indexes = [
            models.Index(fields=("order", "state"), name="refundrequest_order_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.total} EUR ({self.state})"

    @property
    def is_pending(self) -> bool:
        """Not yet answered by Mirakl (or not yet approved)."""
        return self.state in self.PENDING_STATES

    @property
    def needs_approval(self) -> bool:
        return self.state == self.State.AWAITING_APPROVAL

    @property
    def refused_for_balance(self) -> bool:
        """Mirakl refused it because the shop's payable balance is too low."""
        from refunds.balance import is_balance_refusal  # it imports these models

        return self.state == self.State.REFUSED and is_balance_refusal(self.error_message)

    @property
    def refusal_text(self) -> str:
        """Mirakl's refusal as the desk shows it (translated, with advice, for balance)."""
        from refunds.balance import refusal_text  # it imports these models

        return refusal_text(self.error_message) if self.state == self.State.REFUSED else ""

    def get_state_badge(self) -> str:
        """The colour of the state's badge."""
        return self.State.badge_of(self.state)

    @cached_property
    def line_items(self) -> list[RefundRequestLine]:
        """The request's lines as the templates show them; a reader that already has
        them (the refunds panel) sets this attribute instead of querying again."""
        return list(self.lines.all())


class RefundRequestLine(models.Model):
    """One order line of a refund request: what to refund on it, and Mirakl's refund id.

    Amounts are what OR28 receives (tax included, like the line's price in OR11);
    ``taxes`` / ``shipping_taxes`` map a tax code to its amount as a string.
    """

    request = models.ForeignKey(RefundRequest, on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey(
        "core.OrderLine",
        on_delete=models.PROTECT,
        related_name="refund_request_lines",
        verbose_name=_("order line"),
    )
    quantity = models.PositiveIntegerField(_("quantity"), default=0)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    shipping_amount = models.DecimalField(
        _("shipping amount"), max_digits=12, decimal_places=2, default=0
    )
    taxes = models.JSONField(_("taxes"), default=dict, blank=True)
    shipping_taxes = models.JSONField(_("shipping taxes"), default=dict, blank=True)
    mirakl_refund_id = models.CharField(_("Mirakl refund id"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("refund request line")
        verbose_name_plural = _("refund request lines")
        ordering = ("request", "pk")
        constraints = [
            models.UniqueConstraint(
                fields=("request", "line"), name="%(app_label)s_%(class)s_unique_request_line"
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0) & Q(shipping_amount__gte=0),
                name="%(app_label)s_%(class)s_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0) | Q(shipping_amount__gt=0),
                name="%(app_label)s_%(class)s_something_to_refund",
            ),
        ]
        indexes = [
            models.Index(
                fields=("mirakl_refund_id",),
                condition=~Q(mirakl_refund_id=""),
                name="refundrequestline_mirakl_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.line_id}: {self.amount} + {self.shipping_amount}"

    @property
    def total(self) -> Decimal:
        return self.amount + self.shipping_amount


class RefundLimit(models.Model):
    """How much one user may refund on one order without a second approver (all their
    requests on it that were not refused or rejected, see ``refund_approval_check``).

    Users without a row get ``settings.REFUND_APPROVAL_LIMIT``; a blank limit means no
    limit; superusers have none either.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="refund_limit",
        verbose_name=_("user"),
    )
    limit = models.DecimalField(
        _("limit (EUR)"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Leave blank for no limit."),
    )

    class Meta:
        verbose_name = _("refund limit")
        verbose_name_plural = _("refund limits")
        constraints = [
            models.CheckConstraint(
                condition=Q(limit__isnull=True) | Q(limit__gte=0),
                name="%(app_label)s_%(class)s_limit_not_negative",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.limit if self.limit is not None else '∞'}"
