"""Factories for the messaging app."""

from datetime import timedelta

import factory
from django.utils import timezone

from core.outbox.kinds import OutboxKind
from messaging.models import Message, OrderSearchDocument, Party, Thread
from tests.factories.core import MarketplaceConnectionFactory, OrderFactory, OutboxEntryFactory


class ThreadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Thread

    connection = factory.SubFactory(MarketplaceConnectionFactory)
    order = factory.SubFactory(OrderFactory, connection=factory.SelfAttribute("..connection"))
    mirakl_id = factory.Faker("uuid4")
    entity_type = "MMP_ORDER"
    entity_id = factory.LazyAttribute(lambda o: o.order.mirakl_id if o.order else "")
    topic_type = "FREE_TEXT"
    topic_value = "Pregunta acerca de mi pedido"
    date_created = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=2))
    date_updated = factory.LazyFunction(timezone.now)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    thread = factory.SubFactory(ThreadFactory)
    mirakl_id = factory.Faker("uuid4")
    author_type = Party.CUSTOMER
    author_role = "CUSTOMER_USER"
    author_name = "Lucía Martín"
    body = "Hola, ¿cuándo llegará mi pedido?"
    date_created = factory.LazyFunction(timezone.now)


class OutboundMessageFactory(factory.django.DjangoModelFactory):
    """A queued reply to the customer of a thread."""

    class Meta:
        model = "messaging.OutboundMessage"

    thread = factory.SubFactory(ThreadFactory)
    connection = factory.SelfAttribute("thread.connection")
    order = factory.SelfAttribute("thread.order")
    kind = "reply"
    recipients = factory.LazyFunction(lambda: ["CUSTOMER"])
    body = factory.Sequence(lambda n: f"Hola, te escribimos sobre tu pedido (mensaje {n}).")
    delivery = factory.SubFactory(
        OutboxEntryFactory,
        kind=OutboxKind.REPLY,
        group_key=factory.LazyAttribute(lambda o: f"thread:{o.factory_parent.thread.pk}"),
    )


class ThreadNoReplyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "messaging.ThreadNoReply"

    thread = factory.SubFactory(ThreadFactory)
    reason = "El cliente confirma que está resuelto y da las gracias."
    last_message_at = factory.LazyFunction(timezone.now)


class CannedReplyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "messaging.CannedReply"

    title = factory.Sequence(lambda n: f"Respuesta {n}")
    body = "Hola {customer_name}, tu pedido {order_number} va con {carrier} ({tracking})."


class OrderSearchDocumentFactory(factory.django.DjangoModelFactory):
    """A document as the threads sync writes it (Postgres; ``messaging.search``)."""

    class Meta:
        model = OrderSearchDocument

    order = factory.SubFactory(OrderFactory)
    document = "'pedid':1"
