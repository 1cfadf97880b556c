"""``manage.py outbox_deliver [--kind K]``: deliver what the outbox holds, oldest first."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.outbox.engine import outbox_deliver_pending
from core.outbox.kinds import OutboxKind

__all__ = ["Command"]


class Command(BaseCommand):
    help = (
        "Deliver every due outbox row (replies, new conversations, refunds, resolutions, "
        "SLA alerts), oldest first, including rows left 'sending' by a worker that died. "
        "Safe to run at any time: a write whose outcome is unknown is looked up in "
        "Mirakl before it is sent again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--kind",
            help="Only this kind: " + ", ".join(kind.slug for kind in OutboxKind) + ".",
        )
        parser.add_argument("--limit", type=int, default=500, help="At most this many rows.")

    def handle(self, *args: object, kind: str | None = None, limit: int = 500, **options: object):
        try:
            only = None if kind is None else OutboxKind.parse(kind)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        result = outbox_deliver_pending(kind=only, limit=limit)
        for outcome, count in sorted(result.outcomes.items()):
            self.stdout.write(f"{outcome}: {count}")
        self.stdout.write(self.style.SUCCESS(f"delivered: {result.delivered}"))
