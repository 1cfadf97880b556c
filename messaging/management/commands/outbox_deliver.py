"""``manage.py outbox_deliver``: send what the outbox still holds, oldest first."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from messaging.services import outbound_messages_deliver_pending


class Command(BaseCommand):
    help = (
        "Deliver queued outbound messages (and ones left 'sending' by a worker that died) "
        "to Mirakl, oldest first. Safe to run at any time: nothing is posted twice."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--limit", type=int, default=500, help="At most this many messages.")

    def handle(self, *args, limit: int, **options) -> None:
        result = outbound_messages_deliver_pending(limit=limit)
        for outcome, count in sorted(result.outcomes.items()):
            self.stdout.write(f"{outcome}: {count}")
        if result.errors:
            self.stdout.write(f"transient errors (will be retried): {result.errors}")
        self.stdout.write(self.style.SUCCESS(f"delivered: {result.delivered}"))
