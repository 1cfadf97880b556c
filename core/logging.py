"""Logging filters of the desk."""

from __future__ import annotations

import logging

__all__ = ["ForbiddenWithoutTraceback"]


class ForbiddenWithoutTraceback(logging.Filter):
    """A 403 is a user reaching a page their role does not open, not a bug: Django logs
    it with the ``PermissionDenied`` traceback; keep the one line ("Forbidden
    (Permission denied): /sla/") and drop the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
