"""Factories for the bottom floor (the outbox)."""

import factory
from django.utils import timezone

from core.outbox.kinds import OutboxKind
from core.outbox.models import OutboxEntry

__all__ = ["OutboxEntryFactory"]


class OutboxEntryFactory(factory.django.DjangoModelFactory):
    """A queued outbox row (set ``kind`` to the domain row's kind)."""

    class Meta:
        model = OutboxEntry

    kind = OutboxKind.REPLY
    created_at = factory.LazyFunction(timezone.now)
    next_attempt_at = factory.SelfAttribute("created_at")
