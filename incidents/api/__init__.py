"""The incidents app's REST API (under /api/v1/)."""
