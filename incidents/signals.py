"""Signals of the incidents app, for the apps above it to listen to."""

from django.dispatch import Signal

__all__ = ["incidents_contested", "incidents_written_after_resolved"]

#: The operator wrote after the shop marked these incidents resolved. Sent by the
#: sync with ``incidents`` (a list) and ``now``; the SLA app alerts the assignees.
incidents_contested = Signal()

#: The customer wrote after the shop marked these incidents resolved: back in the queue.
#: Sent by the sync with ``incidents`` (a list) and ``now``; the SLA app alerts the
#: assignees.
incidents_written_after_resolved = Signal()
