"""Factories for the refunds app."""

from decimal import Decimal

import factory
from django.utils import timezone

from core.outbox.kinds import OutboxKind
from refunds.models import Refund, RefundLimit, RefundRequest, RefundRequestLine
from tests.factories.core import OrderFactory, OrderLineFactory, OutboxEntryFactory, UserFactory


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


class RefundRequestFactory(factory.django.DjangoModelFactory):
    """A queued partial refund request (add lines with ``RefundRequestLineFactory``)."""

    class Meta:
        model = RefundRequest

    order = factory.SubFactory(OrderFactory)
    connection = factory.LazyAttribute(lambda o: o.order.connection)
    kind = RefundRequest.Kind.PARTIAL
    reason_code = "17"
    reason_label = "Artículo devuelto"
    idempotency_key = factory.Sequence(lambda n: f"key-{n}")
    fingerprint = factory.Sequence(lambda n: f"{n:064d}")
    state = RefundRequest.State.QUEUED
    total = Decimal("10.00")
    requested_by = factory.SubFactory(UserFactory)
    delivery = factory.SubFactory(
        OutboxEntryFactory,
        kind=OutboxKind.REFUND,
        group_key=factory.LazyAttribute(lambda o: f"order:{o.factory_parent.order.pk}"),
    )


class RefundRequestLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RefundRequestLine

    request = factory.SubFactory(RefundRequestFactory)
    line = factory.SubFactory(OrderLineFactory, order=factory.SelfAttribute("..request.order"))
    quantity = 1
    amount = Decimal("10.00")
    shipping_amount = Decimal("0.00")


class RefundLimitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RefundLimit

    user = factory.SubFactory(UserFactory)
    limit = Decimal("1000.00")
