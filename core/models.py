"""Models of the bottom floor (Django finds them here)."""

from core.outbox.models import OutboxEntry

__all__ = ["OutboxEntry"]
