"""``manage.py sla_sweep``: run the SLA sweep once and print what it did."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sla.services import sla_sweep

__all__ = ["Command"]


class Command(BaseCommand):
    help = "Bring SLA items up to date: create and stop waits, flag nearing and breached ones."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--full",
            action="store_true",
            help="Recompute everything and reschedule open items with the current policies.",
        )
        parser.add_argument(
            "--now",
            help="Sweep as of this ISO 8601 instant with its offset (default: now).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = None
        if options["now"]:
            try:
                now = datetime.fromisoformat(options["now"])
            except ValueError as exc:
                raise CommandError(f"--now: not an ISO 8601 date: {options['now']!r}") from exc
            if now.tzinfo is None:
                raise CommandError("--now needs a UTC offset, e.g. 2026-12-04T17:00:00+01:00")
        result = sla_sweep(now=now, full=options["full"])
        if result.skipped:
            self.stdout.write("Another SLA sweep is running; nothing done.")
            return
        self.stdout.write(
            f"scanned: {result.scanned_incidents} incidents, {result.scanned_threads} threads\n"
            f"items: {result.created} created, {result.stopped} stopped, "
            f"{result.rescheduled} rescheduled\n"
            f"now nearing: {result.nearing}, now breached: {result.breached}\n"
            f"breaches: {result.breaches_created} recorded, {result.breaches_answered} answered, "
            f"{result.breaches_removed} removed"
        )
