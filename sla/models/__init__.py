"""SLA models (Django reads them here): the clock's (:mod:`sla.models.waits`) and
alerting's (:mod:`sla.models.alerts`)."""

from sla.models.alerts import AlertDelivery, AlertSettings, Notification, SyncAlert
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
    "Notification",
    "SlaBreach",
    "SlaItem",
    "SlaPolicy",
    "SweepState",
    "SyncAlert",
    "WorkingPeriod",
    "preset_choices",
]
