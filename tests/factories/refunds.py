"""Factories for the refunds app."""

from decimal import Decimal

import factory
from django.utils import timezone

from refunds.models import Refund
from tests.factories.incidents import OrderLineFactory


class RefundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Refund

    line = factory.SubFactory(OrderLineFactory)
    mirakl_id = factory.Sequence(lambda n: f"{1000 + n}")
    amount = Decimal("10.00")
    shipping_amount = Decimal("0.00")
    quantity = 1
    reason_code = "17"
    state = "WAITING_REFUND"
    created_date = factory.LazyFunction(timezone.now)
