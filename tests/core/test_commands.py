"""Management commands of the incidents app."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection as db_connection

from core.models import MarketplaceConnection, Order

pytestmark = pytest.mark.django_db


def test_add_marketplace_stores_the_key_encrypted() -> None:
    out = StringIO()
    call_command(
        "add_marketplace",
        "--code",
        "pccomponentes",
        "--name",
        "PcComponentes",
        "--base-url",
        "https://pccomponentes-prod.mirakl.net/",
        "--api-key",
        "secret-shop-key-123",
        "--shop-id",
        "2051",
        "--policy",
        "pccomponentes",
        stdout=out,
    )
    connection = MarketplaceConnection.objects.get(code="pccomponentes")
    assert connection.base_url == "https://pccomponentes-prod.mirakl.net"
    assert connection.api_key == "secret-shop-key-123"
    assert connection.shop_id == "2051"
    assert connection.sla_policy == "pccomponentes"
    assert "secret-shop-key-123" not in out.getvalue()
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM core_marketplaceconnection")
        (stored,) = cursor.fetchone()
    assert "secret-shop-key-123" not in stored


def test_add_marketplace_twice_updates() -> None:
    args = ["--code", "mm", "--name", "MediaMarkt", "--base-url", "https://mm.mirakl.net"]
    call_command("add_marketplace", *args, "--api-key", "one", stdout=StringIO())
    call_command("add_marketplace", *args, "--api-key", "two", stdout=StringIO())
    assert MarketplaceConnection.objects.get(code="mm").api_key == "two"


def test_add_marketplace_rejects_a_bad_url() -> None:
    with pytest.raises(CommandError, match="base_url"):
        call_command(
            "add_marketplace",
            "--code",
            "x",
            "--name",
            "X",
            "--base-url",
            "not a url",
            "--api-key",
            "k",
            stdout=StringIO(),
        )
    assert not MarketplaceConnection.objects.exists()


def test_sync_marketplaces_prints_progress_and_summary(connection) -> None:
    out = StringIO()
    call_command("sync_marketplaces", "--marketplace", "pccomponentes", stdout=out)
    text = out.getvalue()
    assert "pccomponentes/orders: page 1" in text
    assert "created" in text and "skipped" in text
    summary = [line for line in text.splitlines() if line.startswith("pccomponentes  ")]
    assert [line.split()[1] for line in summary] == ["reasons", "orders", "threads"]
    assert Order.objects.exists()

    out = StringIO()
    call_command("sync_marketplaces", "--full", stdout=out)
    assert "failed" not in out.getvalue()


def test_sync_marketplaces_unknown_code() -> None:
    with pytest.raises(CommandError, match="Unknown marketplace: nope"):
        call_command("sync_marketplaces", "--marketplace", "nope", stdout=StringIO())


def test_sync_task_runs_the_sync(connection) -> None:
    from core.sync.tasks import sync_all_marketplaces_task

    assert sync_all_marketplaces_task.delay().get() == 1
    assert Order.objects.filter(connection=connection).exists()
