"""Factories for the bottom floor (the outbox, the shop's account)."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from core.outbox.kinds import OutboxKind
from core.outbox.models import OutboxEntry
from core.shop_account import ShopAccountSnapshot

__all__ = ["OutboxEntryFactory", "ShopAccountSnapshotFactory"]


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

    connection = factory.SubFactory("tests.factories.incidents.MarketplaceConnectionFactory")
    fetched_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    shop_state = "OPEN"
    currency = "EUR"
    payable_balance = Decimal("5000.00")
    pending_balance = Decimal("1200.00")
    paid_balance = Decimal("30000.00")
    channels = factory.LazyFunction(lambda: ["ES"])
    payload = factory.LazyFunction(lambda: {"shop_name": "Tienda de pruebas"})
