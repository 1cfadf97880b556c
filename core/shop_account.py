"""The shop's account at the marketplace as A01 last described it: state and balances.

Bottom floor, because every app reads it: the pages show a banner while the shop is not
open, refunds compare their total with the payable balance, the SLA app's watchdog
alerts on a suspension. The SLA app asks Mirakl (``sla.health.sync``, once a day through
its gate) and stores the answers here, one row per call, kept as history.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["ShopAccountSnapshot", "shop_account_last"]


class ShopAccountSnapshot(models.Model):
    """What A01 said of the shop at ``fetched_at``: its state, closing dates and balances.

    Balances are in the shop's ``currency`` and may be negative (Mirakl's example is).
    ``payload`` keeps the whole parsed answer, for the admin.
    """

    connection = models.ForeignKey(
        "core.MarketplaceConnection",
        on_delete=models.CASCADE,
        related_name="account_snapshots",
        verbose_name=_("marketplace"),
    )
    fetched_at = models.DateTimeField(_("asked"), default=timezone.now)
    shop_state = models.CharField(_("shop state"), max_length=20, blank=True)
    suspension_type = models.CharField(_("suspension type"), max_length=40, blank=True)
    closed_from = models.DateTimeField(_("closed from"), null=True, blank=True)
    closed_to = models.DateTimeField(_("closed until"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    payable_balance = models.DecimalField(
        _("payable balance"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    pending_balance = models.DecimalField(
        _("pending balance"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    paid_balance = models.DecimalField(
        _("paid balance"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    channels = models.JSONField(_("channels"), default=list, blank=True)
    mirakl_updated_at = models.DateTimeField(_("updated in Mirakl"), null=True, blank=True)
    payload = models.JSONField(_("answer"), default=dict, blank=True)

    class Meta:
        verbose_name = _("shop account (Mirakl)")
        verbose_name_plural = _("shop accounts (Mirakl)")
        ordering = ("-fetched_at", "-pk")
        indexes = [
            models.Index(fields=("connection", "-fetched_at"), name="shopaccount_conn_fetched_idx")
        ]

    def __str__(self) -> str:
        return f"{self.connection} {self.shop_state} {self.fetched_at:%Y-%m-%d %H:%M}"


def shop_account_last(*, connection) -> ShopAccountSnapshot | None:
    """The last A01 answer kept for the connection (its state and balances, and when)."""
    return (
        ShopAccountSnapshot.objects.filter(connection=connection)
        .order_by("-fetched_at", "-pk")
        .first()
    )
