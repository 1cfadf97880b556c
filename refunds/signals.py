"""Signals of the refunds app, for the apps above it to listen to."""

from django.dispatch import Signal

__all__ = ["refund_awaiting_approval"]

#: A refund request went above its author's limit and waits for a second person. Sent
#: once its transaction has committed, with ``refund_request`` and ``now``; the SLA app
#: notifies the users who may approve it (in the app).
refund_awaiting_approval = Signal()
