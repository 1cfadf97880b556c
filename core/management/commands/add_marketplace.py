"""``manage.py add_marketplace``: add (or update) a marketplace connection."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.models import MarketplaceConnection
from core.services import marketplace_connection_save


class Command(BaseCommand):
    help = "Add a Mirakl marketplace connection, or update the one with the same code."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--code", required=True, help="Short code, e.g. pccomponentes")
        parser.add_argument("--name", required=True, help="Display name, e.g. PcComponentes")
        parser.add_argument(
            "--base-url",
            required=True,
            help="Mirakl instance root, e.g. https://pccomponentes-prod.mirakl.net",
        )
        parser.add_argument("--api-key", required=True, help="The shop's Mirakl API key")
        parser.add_argument("--shop-id", default="", help="Shop id, for multi-shop users")
        parser.add_argument(
            "--policy",
            default=MarketplaceConnection.Policy.DEFAULT,
            choices=MarketplaceConnection.Policy.values,
            help="SLA policy",
        )

    def handle(self, *args, **options) -> None:
        try:
            connection, created = marketplace_connection_save(
                code=options["code"],
                name=options["name"],
                base_url=options["base_url"],
                api_key=options["api_key"],
                shop_id=options["shop_id"],
                sla_policy=options["policy"],
            )
        except ValidationError as exc:
            problems = "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
            )
            raise CommandError(problems) from exc
        verb = "Added" if created else "Updated"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {connection.code} ({connection.name}) → {connection.base_url}"
            )
        )
