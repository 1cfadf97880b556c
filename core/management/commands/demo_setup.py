"""``manage.py demo_setup``: a demo user per role and two connections to the bundled
sandbox."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser

from core.models import MarketplaceConnection
from core.roles import Role, roles_sync
from core.services import marketplace_connection_save

#: (username, password, first name, last name, role) of the demo's team, for the demo
#: only (README, "Two commands"); ``admin`` is also a superuser (it sets the demo up).
DEMO_USERS = (
    ("agente", "agente", "Marta", "Ruiz", Role.AGENT),
    ("gestor", "gestor", "Luis", "Ortega", Role.ACCOUNT_MANAGER),
)

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
    help = (
        "Create the demo users (agente, gestor, admin) and the demo connections to the "
        "Mirakl sandbox."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="admin")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--ports",
            default="",
            help="The sandboxes' ports, comma-separated in the order of the connections "
            "(default: Procfile.demo's, 8765,8766)",
        )

    def handle(self, *args, username: str, password: str, host: str, ports: str, **options) -> None:
        chosen = [int(p) for p in ports.split(",") if p.strip()] if ports else []
        user_model = get_user_model()
        roles_sync()  # the role groups, should the migrations' data be gone
        if not user_model.objects.filter(username=username).exists():
            admin = user_model.objects.create_superuser(
                username, f"{username}@example.com", password
            )
            admin.groups.add(Group.objects.get(name=Role.ADMIN))
            self.stdout.write(f"Created the demo admin {username!r} (password {password!r}).")
        for name, secret, first, last, role in DEMO_USERS:
            if user_model.objects.filter(username=name).exists():
                continue
            user = user_model.objects.create_user(
                name, f"{name}@example.com", secret, first_name=first, last_name=last
            )
            user.groups.add(Group.objects.get(name=role))
            self.stdout.write(f"Created the demo {role} {name!r} (password {secret!r}).")
        for n, (code, name, port, key, shop_id, policy) in enumerate(DEMO_MARKETPLACES):
            port = chosen[n] if n < len(chosen) else port
            marketplace_connection_save(
                code=code,
                name=name,
                base_url=f"http://{host}:{port}",
                api_key=key,
                shop_id=shop_id,
                sla_policy=policy,
            )
            self.stdout.write(f"Connection {code} → sandbox on port {port}.")
