"""Factories for the incidents app (connections, orders and users: ``core``)."""

from datetime import timedelta

import factory
from django.utils import timezone

from incidents.models import AuditEntry, Incident
from tests.factories.core import OrderLineFactory, UserFactory


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
