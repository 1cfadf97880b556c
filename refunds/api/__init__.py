"""The refunds app's REST API (under /api/v1/)."""
