"""``manage.py refunds_deliver``: send refund requests left queued or in doubt, oldest first."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from refunds.services import refund_requests_deliver_pending


class Command(BaseCommand):
    help = (
        "Send refund requests still queued or in doubt for over a minute (and ones left "
        "'sending' by a worker that died) to Mirakl, oldest first. Safe to run at any time: "
        "a request whose outcome is unknown is looked up in Mirakl before it is sent again."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--limit", type=int, default=200, help="At most this many requests.")

    def handle(self, *args, limit: int, **options) -> None:
        result = refund_requests_deliver_pending(limit=limit)
        for outcome, count in sorted(result.outcomes.items()):
            self.stdout.write(f"{outcome}: {count}")
        if result.errors:
            self.stdout.write(f"transient errors (will be retried): {result.errors}")
        self.stdout.write(self.style.SUCCESS(f"delivered: {result.delivered}"))
