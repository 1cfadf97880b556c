"""``manage.py demo_setup``: a demo admin and two connections to the bundled sandbox."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from core.models import MarketplaceConnection
from core.services import marketplace_connection_save

#: (code, name, port, api key, shop id, policy) — must match Procfile.demo.
DEMO_MARKETPLACES = (
    (
        "pccomponentes",
        "PcComponentes",
        8765,
        "demo-pccomponentes-key",
        "2051",
        MarketplaceConnection.Policy.PCCOMPONENTES,
    ),
    (
        "mediamarkt",
        "MediaMarkt",
        8766,
        "demo-mediamarkt-key",
        "4552",
        MarketplaceConnection.Policy.MEDIAMARKT,
    ),
)


class Command(BaseCommand):
    help = "Create the demo admin user and the demo connections to the Mirakl sandbox."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="admin")
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, username: str, password: str, host: str, **options) -> None:
        user_model = get_user_model()
        if not user_model.objects.filter(username=username).exists():
            user_model.objects.create_superuser(username, f"{username}@example.com", password)
            self.stdout.write(f"Created the demo admin {username!r} (password {password!r}).")
        for code, name, port, key, shop_id, policy in DEMO_MARKETPLACES:
            marketplace_connection_save(
                code=code,
                name=name,
                base_url=f"http://{host}:{port}",
                api_key=key,
                shop_id=shop_id,
                sla_policy=policy,
            )
            self.stdout.write(f"Connection {code} → sandbox on port {port}.")
