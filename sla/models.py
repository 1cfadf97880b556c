"""SLA models (reply deadlines per marketplace policy)."""
