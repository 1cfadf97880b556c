"""Constants every app shares: Mirakl's line states and the names of the sync resources."""

__all__ = [
    "INCIDENT_LINE_STATE",
    "SYNC_RESOURCE_ORDERS",
    "SYNC_RESOURCE_REASONS",
    "SYNC_RESOURCE_THREADS",
]

#: Mirakl puts an order line in this state while an incident is open on it.
INCIDENT_LINE_STATE = "INCIDENT_OPEN"

SYNC_RESOURCE_ORDERS = "orders"
SYNC_RESOURCE_THREADS = "threads"
SYNC_RESOURCE_REASONS = "reasons"
