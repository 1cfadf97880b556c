"""Factories for the incidents app."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from core.models import MarketplaceConnection, MarketplaceReason, Order, OrderLine
from incidents.models import AuditEntry, Incident


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


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    line = factory.SubFactory(OrderLineFactory, state="INCIDENT_OPEN")
    order = factory.LazyAttribute(lambda o: o.line.order)
    connection = factory.LazyAttribute(lambda o: o.line.order.connection)
    reason_code = "3"
    reason_label = "Artículo defectuoso"
    opened_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=3))


class AuditEntryFactory(factory.django.DjangoModelFactory):
    """An audit entry of an incident (by default: opened by the sync)."""

    class Meta:
        model = AuditEntry

    incident = factory.SubFactory(IncidentFactory)
    order = factory.LazyAttribute(lambda o: o.incident.order if o.incident else None)
    connection = factory.LazyAttribute(lambda o: o.incident.connection if o.incident else None)
    action = AuditEntry.Action.INCIDENT_OPENED
    to_state = Incident.State.NEW
    source = AuditEntry.Source.SYNC


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


class IncidentAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "incidents.IncidentAssignment"

    incident = factory.SubFactory(IncidentFactory)
    assignee = factory.SubFactory(UserFactory)


class IncidentNoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "incidents.IncidentNote"

    incident = factory.SubFactory(IncidentFactory)
    author = factory.SubFactory(UserFactory)
    body = "Llamé al cliente: prefiere reembolso."


class IncidentSeenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "incidents.IncidentSeen"

    incident = factory.SubFactory(IncidentFactory)
    user = factory.SubFactory(UserFactory)
