"""SLA models (Django reads them here): the clock's (:mod:`sla.models.waits`),
alerting's (:mod:`sla.models.alerts`) and shop health's (:mod:`sla.models.health`), the queue's
(:mod:`sla.models.queue`)."""

from sla.models.alerts import AlertDelivery, AlertSettings, DigestDay, Notification, SyncAlert
from sla.models.health import (
    DailyCall,
    HealthEpisode,
    Rulebook,
    RulebookThreshold,
    RulebookVersion,
    ShopStatisticsSnapshot,
)
from sla.models.queue import QueueEntry
from sla.models.waits import (
    BusinessCalendar,
    ClosedDay,
    SlaBreach,
    SlaItem,
    SlaPolicy,
    SweepState,
    WorkingPeriod,
    preset_choices,
)

__all__ = [
    "AlertDelivery",
    "AlertSettings",
    "BusinessCalendar",
    "ClosedDay",
    "DailyCall",
    "DigestDay",
    "HealthEpisode",
    "Notification",
    "QueueEntry",
    "Rulebook",
    "RulebookThreshold",
    "RulebookVersion",
    "ShopStatisticsSnapshot",
    "SlaBreach",
    "SlaItem",
    "SlaPolicy",
    "SweepState",
    "SyncAlert",
    "WorkingPeriod",
    "preset_choices",
]
