"""The outbox table: one row per outgoing write, whatever its kind."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from core.outbox.kinds import OutboxKind

__all__ = ["OutboxEntry"]


def _local(value: str | None) -> str:
    """An ISO instant stored in the evidence, as the page shows dates (Madrid)."""
    if not value:
        return ""
    moment = parse_datetime(value)
    if moment is None:
        return value
    return date_format(timezone.localtime(moment), "d/m/Y H:i:s")


class OutboxEntry(models.Model):
    """The delivery of one write: to Mirakl (a reply, a refund…) or to a webhook.

    The domain row (``messaging.OutboundMessage``, ``refunds.RefundRequest``,
    ``incidents.ResolutionRequest``, ``sla.AlertDelivery``) holds what is sent and the
    state its pages show, and points here with its ``delivery`` field; this row holds
    how the delivery goes: attempts, the next one, the lease of the worker sending it,
    whether the last attempt's outcome is unknown (``in_doubt``) and what the check in
    Mirakl saw (``evidence``). Both are written together by :mod:`core.outbox.engine`.

    Rows of one kind and ``group_key`` (a thread, an order, an incident) go out in the
    order they were created; an empty key is a group of its own.
    """

    class State(models.TextChoices):
        QUEUED = "queued", gettext_lazy("Queued")
        SENDING = "sending", gettext_lazy("Sending")
        SENT = "sent", gettext_lazy("Sent")
        REFUSED = "refused", gettext_lazy("Refused")
        FAILED = "failed", gettext_lazy("Failed")
        SKIPPED = "skipped", gettext_lazy("Nothing to send")

    #: Still to deliver: these hold back the later rows of their group.
    PENDING_STATES = (State.QUEUED, State.SENDING)
    #: Done with: delivered, refused, given up or not needed any more.
    FINAL_STATES = (State.SENT, State.REFUSED, State.FAILED, State.SKIPPED)

    kind = models.PositiveSmallIntegerField(gettext_lazy("kind"), choices=OutboxKind.choices())
    group_key = models.CharField(gettext_lazy("group"), max_length=64, blank=True)
    state = models.CharField(
        gettext_lazy("state"), max_length=10, choices=State.choices, default=State.QUEUED
    )
    #: The last attempt may have reached the other end without an answer: the next one
    #: looks for it there before sending anything again.
    in_doubt = models.BooleanField(gettext_lazy("outcome unknown"), default=False)
    attempts = models.PositiveIntegerField(gettext_lazy("attempts"), default=0)
    next_attempt_at = models.DateTimeField(gettext_lazy("next attempt"), default=timezone.now)
    last_attempt_at = models.DateTimeField(gettext_lazy("last attempt"), null=True, blank=True)
    #: A worker sending the row holds it until then; after that another one may take it
    #: over (checking first: the first worker may have died after sending).
    lease_until = models.DateTimeField(gettext_lazy("leased until"), null=True, blank=True)
    last_error = models.TextField(gettext_lazy("last error"), blank=True)
    #: What the last check in Mirakl looked at and found (see ``check_text``).
    evidence = models.JSONField(gettext_lazy("evidence"), default=dict, blank=True)
    created_at = models.DateTimeField(gettext_lazy("created"), default=timezone.now)
    done_at = models.DateTimeField(gettext_lazy("done"), null=True, blank=True)

    class Meta:
        verbose_name = gettext_lazy("outbox entry")
        verbose_name_plural = gettext_lazy("outbox")
        ordering = ("created_at", "pk")
        indexes = [
            models.Index(
                fields=("next_attempt_at",),
                condition=Q(state__in=("queued", "sending")),
                name="outbox_pending_idx",
            ),
            models.Index(
                fields=("kind", "group_key", "created_at"),
                condition=Q(state__in=("queued", "sending")),
                name="outbox_group_pending_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind_slug} #{self.pk} ({self.state})"

    @property
    def kind_slug(self) -> str:
        try:
            return OutboxKind(self.kind).slug
        except ValueError:
            return str(self.kind)

    def check_text(self) -> str:
        """The last check in Mirakl in words (translated), or "" when none ran yet."""
        evidence = self.evidence or {}
        if not evidence.get("checked_at"):
            return ""
        when = _local(evidence["checked_at"])
        call = evidence.get("call", "")
        if evidence.get("found"):
            return _("Checked in Mirakl on %(when)s (%(call)s): found, %(what)s.") % {
                "when": when,
                "call": call,
                "what": evidence.get("found_text") or evidence.get("found"),
            }
        if evidence.get("line_state"):
            return _(
                "Checked in Mirakl on %(when)s (%(call)s): the line is still %(state)s, "
                "so it cannot tell."
            ) % {"when": when, "call": call, "state": evidence["line_state"]}
        seen = int(evidence.get("seen") or 0)
        since = _local(evidence.get("since"))
        if evidence.get("unit") == "refunds":
            text = ngettext(
                "Checked in Mirakl on %(when)s (%(call)s): not among the %(n)d refund of the "
                "order since %(since)s.",
                "Checked in Mirakl on %(when)s (%(call)s): not among the %(n)d refunds of the "
                "order since %(since)s.",
                seen,
            )
        elif evidence.get("unit") == "documents":
            text = ngettext(
                "Checked in Mirakl on %(when)s (%(call)s): not among the %(n)d document of "
                "the order since %(since)s.",
                "Checked in Mirakl on %(when)s (%(call)s): not among the %(n)d documents of "
                "the order since %(since)s.",
                seen,
            )
        else:
            text = ngettext(
                "Checked in Mirakl on %(when)s (%(call)s): not among the %(n)d shop message "
                "since %(since)s.",
                "Checked in Mirakl on %(when)s (%(call)s): not among the %(n)d shop messages "
                "since %(since)s.",
                seen,
            )
        return text % {"when": when, "call": call, "n": seen, "since": since}
