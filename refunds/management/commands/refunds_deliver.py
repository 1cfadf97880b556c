"""``manage.py refunds_deliver``: the same as ``outbox_deliver --kind refund``."""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

__all__ = ["Command"]


class Command(BaseCommand):
    help = (
        "Send refund requests that are due (queued, in doubt, or left 'sending' by a worker "
        "that died) to Mirakl, oldest first: outbox_deliver --kind refund."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=500, help="At most this many requests.")

    def handle(self, *args: object, limit: int = 500, **options: object) -> None:
        call_command("outbox_deliver", kind="refund", limit=limit, stdout=self.stdout)
