"""SLA models (Django reads them here): the clock's (:mod:`sla.models.waits`),
alerting's (:mod:`sla.models.alerts`) and shop health's (:mod:`sla.models.health`)."""

from sla.models.alerts import AlertDelivery, AlertSettings, DigestDay, Notification, SyncAlert
from sla.models.health import (
    DailyCall,
    HealthEpisode,
    Rulebook,
    RulebookThreshold,
    RulebookVersion,
    ShopStatisticsSnapshot,
)
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
