"""``manage.py mirakl_sandbox_act``: play the customer or the operator in a running sandbox."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mirakl.sandbox import DEFAULT_API_KEY
from mirakl.sandbox.actions import build_action, run_action

__all__ = ["Command"]


class Command(BaseCommand):
    help = (
        "Act on a running Mirakl sandbox: open-incident, message, contest, new-order, faults, "
        "tick, advance, state."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8765")
        parser.add_argument("--api-key", default=DEFAULT_API_KEY)
        actions = parser.add_subparsers(dest="action", required=True)

        sub = actions.add_parser("open-incident", help="the operator opens an incident")
        sub.add_argument("--order", required=True)
        sub.add_argument("--line")
        sub.add_argument("--reason", default="3", help="INCIDENT_OPEN reason code (1-6)")
        sub.add_argument("--body", help="the operator's message (default: a standard notice)")

        sub = actions.add_parser("message", help="the customer or the operator writes")
        target = sub.add_mutually_exclusive_group(required=True)
        target.add_argument("--order")
        target.add_argument("--thread")
        sub.add_argument("--party", choices=["customer", "operator"], required=True)
        sub.add_argument("--body", required=True)

        sub = actions.add_parser("contest", help="the operator contests a resolution")
        sub.add_argument("--order", required=True)
        sub.add_argument("--line", required=True)
        sub.add_argument("--body")

        sub = actions.add_parser("new-order", help="a new order arrives")
        sub.add_argument("--with-incident", action="store_true")
        sub.add_argument("--reason", help="INCIDENT_OPEN reason code for --with-incident")

        sub = actions.add_parser("faults", help="set the fault spec ('' clears it)")
        sub.add_argument("spec", nargs="?", default="")

        actions.add_parser("tick", help="process due auto-closes")

        sub = actions.add_parser("advance", help="move the sandbox clock forward")
        sub.add_argument("seconds", type=float)

        actions.add_parser("state", help="print the sandbox counts")

    def handle(self, *args: object, **options: object) -> None:
        action = str(options["action"])
        try:
            request = build_action(action, dict(options))
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        status, body = run_action(str(options["url"]), str(options["api_key"]), request)
        text = json.dumps(body, ensure_ascii=False, indent=2) if not isinstance(body, str) else body
        if status >= 400:
            raise CommandError(f"{request.method} {request.path} → {status}: {text}")
        self.stdout.write(text)
