"""Signals of the SLA app.

``sla_state_changed`` is sent once per sweep, after its transaction, when items turned
nearing or breached: ``changes`` is a list of :class:`sla.sweep.StateChange` and
``now`` the sweep's instant. Receivers must not write in the sweep's stead: they queue
work (e.g. an alert task with ``transaction.on_commit``) and return.
"""

from django.dispatch import Signal

__all__ = ["sla_state_changed"]

sla_state_changed = Signal()
