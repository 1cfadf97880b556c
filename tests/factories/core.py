"""Factories for the bottom floor: connections, reasons, orders and lines, users, the
outbox, the shop's account."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from core.models import MarketplaceConnection, MarketplaceReason, Order, OrderLine
from core.outbox.kinds import OutboxKind
from core.outbox.models import OutboxEntry
from core.shop_account import ShopAccountSnapshot

__all__ = [
    "MarketplaceConnectionFactory",
    "MarketplaceReasonFactory",
    "OrderFactory",
    "OrderLineFactory",
    "OutboxEntryFactory",
    "ShopAccountSnapshotFactory",
    "UserFactory",
]


class MarketplaceConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MarketplaceConnection
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"marketplace-{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    base_url = "http://127.0.0.1:8765"
    api_key = "sandbox-key"
    sla_policy = MarketplaceConnection.Policy.PCCOMPONENTES


class MarketplaceReasonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MarketplaceReason

    connection = factory.SubFactory(MarketplaceConnectionFactory)
    type = "INCIDENT_OPEN"
    code = factory.Sequence(str)
    label = "Artículo defectuoso"
    is_shop_right = True


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    connection = factory.SubFactory(MarketplaceConnectionFactory)
    mirakl_id = factory.Sequence(lambda n: f"{59400000 + n}-A")
    commercial_id = factory.LazyAttribute(lambda o: o.mirakl_id.split("-")[0])
    state = "RECEIVED"
    price = Decimal("99.90")
    shipping_price = Decimal("4.95")
    total_price = Decimal("104.85")
    customer_first_name = "Lucía"
    customer_last_name = "Martín García"
    created_date = factory.LazyFunction(lambda: timezone.now() - timedelta(days=5))
    last_updated_date = factory.LazyFunction(timezone.now)


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    mirakl_id = factory.Sequence(lambda n: f"{n}")
    index = 1
    state = "RECEIVED"
    product_title = "Teclado mecánico RGB"
    quantity = 1
    price_unit = Decimal("99.90")
    price = Decimal("99.90")
    shipping_price = Decimal("4.95")
    total_price = Decimal("104.85")


class UserFactory(factory.django.DjangoModelFactory):
    """A desk user; ``role="agent"`` puts it in that group (created by a migration)."""

    class Meta:
        model = "auth.User"
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"agente{n}")
    first_name = "Marta"
    last_name = factory.Sequence(lambda n: f"Soporte {n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@tienda.example")
    password = factory.django.Password("contraseña-de-prueba")

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs) -> None:
        if create and extracted:
            from django.contrib.auth.models import Group

            self.groups.add(Group.objects.get(name=extracted))


class OutboxEntryFactory(factory.django.DjangoModelFactory):
    """A queued outbox row (set ``kind`` to the domain row's kind)."""

    class Meta:
        model = OutboxEntry

    kind = OutboxKind.REPLY
    created_at = factory.LazyFunction(timezone.now)
    next_attempt_at = factory.SelfAttribute("created_at")


class ShopAccountSnapshotFactory(factory.django.DjangoModelFactory):
    """An A01 answer: an open shop with 5,000 € payable, asked an hour ago."""

    class Meta:
        model = ShopAccountSnapshot

    connection = factory.SubFactory(MarketplaceConnectionFactory)
    fetched_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    shop_state = "OPEN"
    currency = "EUR"
    payable_balance = Decimal("5000.00")
    pending_balance = Decimal("1200.00")
    paid_balance = Decimal("30000.00")
    channels = factory.LazyFunction(lambda: ["ES"])
    payload = factory.LazyFunction(lambda: {"shop_name": "Tienda de pruebas"})
