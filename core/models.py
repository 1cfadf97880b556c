"""Marketplace connections and the orders synced from them: what every app hangs from.

Threads (``messaging``), incidents (``incidents``), refunds (``refunds``) and SLA
waits (``sla``) all point at an order or one of its lines; the OR11 page that brings
them is written here first and then handed to each app (:mod:`core.sync.orders`).
The bottom floor's other models are imported below so that Django finds them.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from encrypted_fields.fields import EncryptedCharField

from core.outbox.models import OutboxEntry
from core.scoping import MarketplaceAccess
from core.shop_account import ShopAccountSnapshot
from core.sync.models import SkippedRecord, SyncCursor, SyncRun

__all__ = [
    "MarketplaceAccess",
    "MarketplaceConnection",
    "MarketplaceReason",
    "Order",
    "OrderLine",
    "OutboxEntry",
    "ShopAccountSnapshot",
    "SkippedRecord",
    "SyncCursor",
    "SyncRun",
]


class MarketplaceConnection(models.Model):
    """One shop on one Mirakl marketplace, reached with that shop's API key."""

    class Policy(models.TextChoices):
        PCCOMPONENTES = "pccomponentes", _("PcComponentes: 24 h on working days (strict)")
        PCCOMPONENTES_OFFICE_HOURS = (
            "pccomponentes_office_hours",
            _("PcComponentes: 24 working hours, Mon–Fri 9:00–18:00"),
        )
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

    # Looked up by marketplace on the indexes that start with it (the unique Mirakl id,
    # order_conn_created_idx): an index of its own is one more entry for the sync to
    # write with every order, and one that a first sync's stale statistics make
    # Postgres prefer for "this marketplace's orders with these ids", reading them all.
    connection = models.ForeignKey(
        MarketplaceConnection, on_delete=models.PROTECT, related_name="orders", db_index=False
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
    #: When the shop accepted (or refused) the order, and by when it must ship it.
    acceptance_decision_date = models.DateTimeField(_("accepted"), null=True, blank=True)
    shipping_deadline = models.DateTimeField(_("shipping deadline"), null=True, blank=True)
    synced_at = models.DateTimeField(_("synced"), default=timezone.now)

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

    # Looked up by order on the unique (order, Mirakl id) index.
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", db_index=False)
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

    @property
    def unit_price(self) -> Decimal | None:
        """The price of one unit: Mirakl's ``price_unit``, else the line's price (every
        unit, before shipping) over its quantity."""
        if self.price_unit is not None:
            return self.price_unit
        if self.price is None or not self.quantity:
            return self.price
        return (Decimal(self.price) / self.quantity).quantize(Decimal("0.01"))
