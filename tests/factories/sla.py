"""Factories for the SLA app."""

from datetime import time, timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from sla.models import (
    AlertDelivery,
    AlertSettings,
    BusinessCalendar,
    ClosedDay,
    DailyCall,
    HealthEpisode,
    Notification,
    Rulebook,
    RulebookThreshold,
    RulebookVersion,
    ShopStatisticsSnapshot,
    SlaBreach,
    SlaItem,
    SlaPolicy,
    SweepState,
    WorkingPeriod,
)
from tests.factories.core import MarketplaceConnectionFactory, UserFactory
from tests.factories.core import ShopAccountSnapshotFactory as ShopAccountSnapshotFactory
from tests.factories.incidents import IncidentFactory
from tests.factories.messaging import ThreadFactory


class BusinessCalendarFactory(factory.django.DjangoModelFactory):
    """A Madrid calendar with national holidays; Monday to Friday 9:00–18:00 by default."""

    class Meta:
        model = BusinessCalendar
        django_get_or_create = ("name",)
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Calendario {n}")
    time_zone = "Europe/Madrid"
    country = "ES"
    subdivision = ""

    @factory.post_generation
    def hours(self, create: bool, extracted, **kwargs) -> None:
        """``hours={weekday: [(start, end), ...]}``; the default is Mon–Fri 9:00–18:00."""
        if not create:
            return
        hours = extracted if extracted is not None else {d: [(time(9), time(18))] for d in range(5)}
        WorkingPeriod.objects.bulk_create(
            WorkingPeriod(calendar=self, weekday=day, start_time=start, end_time=end)
            for day, periods in hours.items()
            for start, end in periods
        )


class WorkingPeriodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkingPeriod

    calendar = factory.SubFactory(BusinessCalendarFactory, hours={})
    weekday = WorkingPeriod.Weekday.MONDAY
    start_time = time(9)
    end_time = time(18)


class ClosedDayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClosedDay

    calendar = factory.SubFactory(BusinessCalendarFactory)
    date = factory.LazyFunction(timezone.localdate)
    reason = "Fiesta local"


class SlaPolicyFactory(factory.django.DjangoModelFactory):
    """A policy; presets shipped by the data migration are reused (get or create)."""

    class Meta:
        model = SlaPolicy
        django_get_or_create = ("preset",)

    name = factory.LazyAttribute(lambda o: o.preset.title())
    preset = "default"
    clock = SlaPolicy.Clock.WALL
    reply_hours = Decimal("48")
    warn_fraction = Decimal("0.25")
    calendar = None


class SlaItemFactory(factory.django.DjangoModelFactory):
    """An open incident wait, due 48 hours after it started."""

    class Meta:
        model = SlaItem

    kind = SlaItem.Kind.INCIDENT
    incident = factory.SubFactory(IncidentFactory)
    thread = None
    connection = factory.LazyAttribute(
        lambda o: o.incident.connection if o.incident else o.thread.connection
    )
    started_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    due_at = factory.LazyAttribute(lambda o: o.started_at + timedelta(hours=48))
    warn_at = factory.LazyAttribute(lambda o: o.started_at + timedelta(hours=36))
    state = SlaItem.State.ON_TIME

    class Params:
        for_thread = factory.Trait(
            kind=SlaItem.Kind.THREAD,
            incident=None,
            thread=factory.SubFactory(ThreadFactory),
            audience=SlaItem.Audience.CUSTOMER,
        )

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None) -> None:
        """As the sweep does after writing items: the queue's row of the incident (its
        due time, which the API sorts incidents on)."""
        if create and instance.incident_id is not None:
            from sla.queue import queue_entries_refresh

            queue_entries_refresh(order_ids=[instance.incident.order_id])


class SlaBreachFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SlaBreach

    item = factory.SubFactory(
        SlaItemFactory,
        started_at=factory.LazyFunction(lambda: timezone.now() - timedelta(hours=60)),
        state=SlaItem.State.BREACHED,
    )
    connection = factory.SelfAttribute("item.connection")
    kind = factory.SelfAttribute("item.kind")
    incident = factory.SelfAttribute("item.incident")
    thread = factory.SelfAttribute("item.thread")
    due_at = factory.SelfAttribute("item.due_at")
    breached_at = factory.LazyAttribute(lambda o: o.due_at + timedelta(minutes=1))


class SweepStateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SweepState
        django_get_or_create = ("key",)

    key = "default"


__all__ = [
    "AlertDeliveryFactory",
    "AlertSettingsFactory",
    "BusinessCalendarFactory",
    "ClosedDayFactory",
    "NotificationFactory",
    "SlaBreachFactory",
    "SlaItemFactory",
    "SlaPolicyFactory",
    "SweepStateFactory",
    "WorkingPeriodFactory",
]


class AlertSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AlertSettings
        django_get_or_create = ("connection",)

    connection = factory.SubFactory(MarketplaceConnectionFactory)
    webhook_url = "https://hooks.slack.example/services/T000/B000/XXX"
    digest = False


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    user = factory.SubFactory(UserFactory)
    item = factory.SubFactory(SlaItemFactory, state=SlaItem.State.NEARING)
    state = SlaItem.State.NEARING
    message = "Plazo a punto de vencer"


class AlertDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AlertDelivery

    item = factory.SubFactory(SlaItemFactory, state=SlaItem.State.NEARING)
    state = SlaItem.State.NEARING
    channel = AlertDelivery.Channel.IN_APP
    user = factory.SubFactory(UserFactory)


# --------------------------------------------------------------------------- shop health


class ShopStatisticsSnapshotFactory(factory.django.DjangoModelFactory):
    """An A21 answer in our units, near PcComponentes' alerts."""

    class Meta:
        model = ShopStatisticsSnapshot

    connection = factory.SubFactory(MarketplaceConnectionFactory)
    channel = ""
    fetched_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    mirakl_updated_at = factory.LazyAttribute(lambda o: o.fetched_at - timedelta(hours=2))
    figures = factory.LazyFunction(
        lambda: {
            "incident_rate": "7.60",
            "response_time": "19.0",
            "acceptance_time": "14.0",
            "acceptance_rate": "97.5",
            "late_shipment_rate": "6.2",
            "valid_tracking_rate": "93.4",
            "rating": "4.10",
        }
    )


class DailyCallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DailyCall
        django_get_or_create = ("connection", "call", "channel")

    connection = factory.SubFactory(MarketplaceConnectionFactory)
    call = DailyCall.Call.ACCOUNT
    channel = ""
    last_called_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    last_success_at = factory.LazyAttribute(lambda o: o.last_called_at)


class RulebookFactory(factory.django.DjangoModelFactory):
    """A rulebook (the presets' come from a migration: this returns them)."""

    class Meta:
        model = Rulebook
        django_get_or_create = ("preset",)

    preset = "default"
    name = factory.LazyAttribute(lambda o: o.preset.title())


class RulebookThresholdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RulebookThreshold
        django_get_or_create = ("rulebook", "criterion")

    rulebook = factory.SubFactory(RulebookFactory)
    criterion = "incident_rate"
    alert_state = "set"
    alert_value = Decimal("8")
    limit_state = "set"
    limit_value = Decimal("9")


class RulebookVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RulebookVersion

    rulebook = factory.SubFactory(RulebookFactory)
    number = factory.Sequence(lambda n: n + 100)
    changes = factory.LazyFunction(list)


class HealthEpisodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HealthEpisode

    connection = factory.SubFactory(MarketplaceConnectionFactory)
    subject = "incident_rate"
    level = 1
    current_level = 1
