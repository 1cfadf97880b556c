"""The messaging app's REST API (under /api/v1/)."""
