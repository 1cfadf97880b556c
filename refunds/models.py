"""Refunds on order lines, as Mirakl reports them (OR11 ``order_lines[].refunds``)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["Refund"]


class Refund(models.Model):
    """A refund of (part of) an order line, whoever made it."""

    line = models.ForeignKey(
        "incidents.OrderLine", on_delete=models.CASCADE, related_name="refunds"
    )
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
