"""``manage.py mirakl_sandbox_act``: play the customer or the operator in a running sandbox."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mirakl.sandbox import DEFAULT_API_KEY
from mirakl.sandbox.actions import build_action, run_action

__all__ = ["Command"]


class Command(BaseCommand):
    help = (
        "Act on a running Mirakl sandbox: open-incident, message, contest, new-order, "
        "shop-state, balance, statistics, faults, tick, advance, state."
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

        sub = actions.add_parser(
            "message", help="the customer, the operator or a colleague in the back office writes"
        )
        target = sub.add_mutually_exclusive_group(required=True)
        target.add_argument("--order")
        target.add_argument("--thread")
        sub.add_argument("--party", choices=["customer", "operator", "shop"], required=True)
        sub.add_argument("--body", required=True)

        sub = actions.add_parser("contest", help="the operator contests a resolution")
        sub.add_argument("--order", required=True)
        sub.add_argument("--line", required=True)
        sub.add_argument("--body")

        sub = actions.add_parser("new-order", help="a new order arrives")
        sub.add_argument("--with-incident", action="store_true")
        sub.add_argument("--reason", help="INCIDENT_OPEN reason code for --with-incident")

        sub = actions.add_parser(
            "shop-state", help="the operator suspends, closes, terminates or reopens the shop (A01)"
        )
        sub.add_argument(
            "state", choices=["OPEN", "CLOSE", "SUSPENDED", "TERMINATED"], type=str.upper
        )
        sub.add_argument(
            "--suspension-type",
            choices=["MANUAL", "PENDING_APPROVAL", "INCOMPLETE_PROFILE", "AUTOMATIC_SUSPENSION"],
            type=str.upper,
            help="with SUSPENDED (default AUTOMATIC_SUSPENSION: Mirakl's quality control)",
        )
        sub.add_argument("--closed-from", help="ISO 8601 start of a closing ('none' clears it)")
        sub.add_argument("--closed-to", help="ISO 8601 end of a closing ('none' clears it)")

        sub = actions.add_parser("balance", help="set the shop's balances in EUR (A01)")
        sub.add_argument("--payable", help="payable balance (OR28 refunds come out of it)")
        sub.add_argument("--pending", help="pending balance")
        sub.add_argument("--paid", help="paid balance")

        sub = actions.add_parser("statistics", help="set the shop's quality figures (A21)")
        sub.add_argument(
            "--set",
            action="append",
            required=True,
            metavar="KPI=VALUE",
            help="e.g. incident_rate=8.5%%, order_messages_response_delay=22h, grade=3.4, "
            "valid_tracking_rate=null (repeatable)",
        )
        sub.add_argument(
            "--period",
            default="LAST_MONTH",
            choices=[
                "ALL_SINCE_BEGINNING",
                "LAST_MONTH",
                "LAST_THREE_MONTHS",
                "LAST_SIX_MONTHS",
                "LAST_YEAR",
            ],
            type=str.upper,
        )
        sub.add_argument(
            "--all-periods", action="store_true", help="set every period (null: the whole field)"
        )
        sub.add_argument("--channel", help="one sales channel's figures (default: overall)")

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
