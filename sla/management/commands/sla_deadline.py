"""``manage.py sla_deadline``: when must a message received at an instant be answered?"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.models import MarketplaceConnection
from sla.policies import rule_resolve, rules_by_preset

__all__ = ["Command"]


class Command(BaseCommand):
    help = (
        "Print the reply deadline (ISO 8601, in the policy's time zone) of a message "
        "received at --at under the SLA policy of marketplace --marketplace."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--marketplace", required=True, help="Code of the marketplace connection."
        )
        parser.add_argument(
            "--at",
            required=True,
            help="When the message was received, ISO 8601, e.g. 2026-12-04T17:00:00+01:00. "
            "Without an offset it is read in the policy's time zone.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        code = options["marketplace"]
        connection = MarketplaceConnection.objects.filter(code=code).first()
        if connection is None:
            known = ", ".join(MarketplaceConnection.objects.values_list("code", flat=True))
            raise CommandError(f"Unknown marketplace {code!r}. Known: {known or 'none'}.")
        try:
            at = datetime.fromisoformat(options["at"])
        except ValueError as exc:
            raise CommandError(f"--at: not an ISO 8601 date: {options['at']!r}") from exc
        rule = rule_resolve(rules_by_preset(), connection.sla_policy)
        if at.tzinfo is None:
            at = at.replace(tzinfo=rule.tz)
        self.stdout.write(rule.due(at).astimezone(rule.tz).isoformat())
