"""Constants of the SLA app."""

__all__ = ["SWEEP_INTERVAL_SECONDS"]

#: How often beat runs the sweep; its task expires after the same time.
SWEEP_INTERVAL_SECONDS = 60
