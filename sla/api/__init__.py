"""The sla app's REST API (under /api/v1/)."""
