"""A document the shop uploads to an order (an invoice) with OR74, through the outbox.

The documents themselves stay in Mirakl (OR72 lists them, OR73 downloads them); this
row is what Incidesk sends, from the moment the agent asks until Mirakl has it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.choices import Badge, BadgeChoices

__all__ = ["DocumentUpload"]


class DocumentUpload(models.Model):
    """One file uploaded to an order with OR74: stored first (bytes in the row, as the
    worker may run elsewhere), sent by the outbox, found in OR72 when Mirakl's answer
    was lost."""

    class State(BadgeChoices):
        QUEUED = "queued", _("Queued"), Badge.WARN
        SENDING = "sending", _("Sending"), Badge.WARN
        IN_DOUBT = "in_doubt", _("Outcome unknown"), Badge.WARN
        SENT = "sent", _("Uploaded"), Badge.OK
        REFUSED = "refused", _("Refused by Mirakl"), Badge.BAD
        FAILED = "failed", _("Failed"), Badge.BAD

    connection = models.ForeignKey(
        "core.MarketplaceConnection", on_delete=models.PROTECT, related_name="+"
    )
    order = models.ForeignKey(
        "core.Order", on_delete=models.CASCADE, related_name="document_uploads"
    )
    #: The incident page it was uploaded from (its history shows it), if any.
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    type_code = models.CharField(_("document type"), max_length=64)
    type_label = models.CharField(_("document type label"), max_length=255, blank=True)
    file_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size"))
    content = models.BinaryField(_("content"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    delivery = models.OneToOneField(
        "core.OutboxEntry",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("delivery"),
    )
    #: Mirakl's document id, once OR72 shows it.
    mirakl_document_id = models.CharField(_("Mirakl document id"), max_length=64, blank=True)
    error_message = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    created_at = models.DateTimeField(_("asked"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("document upload")
        verbose_name_plural = _("document uploads")
        ordering = ("created_at", "pk")
        indexes = [
            models.Index(fields=("order", "created_at"), name="docupload_order_idx"),
            models.Index(
                fields=("created_at",),
                condition=Q(state__in=("queued", "sending", "in_doubt")),
                name="docupload_pending_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.state})"

    @property
    def is_pending(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.SENDING, self.State.IN_DOUBT)

    def get_state_badge(self) -> str:
        """The colour of the state's badge."""
        return self.State.badge_of(self.state)
