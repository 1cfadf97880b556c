"""API keys: encrypted at rest, rotated by command, never logged, never rendered."""

from __future__ import annotations

import logging

import pytest
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.test import Client

from core.models import MarketplaceConnection
from tests.factories.core import MarketplaceConnectionFactory

pytestmark = pytest.mark.django_db

KEY = "shop-key-0123456789abcdef"
FIELD = MarketplaceConnection._meta.get_field("api_key")


def _stored(pk: int) -> str:
    with db.cursor() as cursor:
        cursor.execute("SELECT api_key FROM core_marketplaceconnection WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.fixture
def fresh_keys():
    """The field caches its keys: forget them around a test that changes the settings."""

    def reset() -> None:
        FIELD.__dict__.pop("keys", None)
        FIELD.__dict__.pop("f", None)

    reset()
    yield reset
    reset()


def test_the_stored_value_is_not_the_key() -> None:
    connection = MarketplaceConnectionFactory(api_key=KEY)
    stored = _stored(connection.pk)
    assert KEY not in stored
    assert stored.startswith("gAAAA")  # a Fernet token
    assert MarketplaceConnection.objects.get(pk=connection.pk).api_key == KEY


def test_rotate_api_keys_reencrypts_with_the_new_first_key(settings, fresh_keys) -> None:
    settings.SALT_KEY = ["old-salt"]
    fresh_keys()
    connection = MarketplaceConnectionFactory(api_key=KEY)
    before = _stored(connection.pk)

    settings.SALT_KEY = ["new-salt", "old-salt"]  # step 1: prepend the new key
    fresh_keys()
    call_command("rotate_api_keys")
    after = _stored(connection.pk)
    assert after != before

    settings.SALT_KEY = ["new-salt"]  # step 3: drop the old key
    fresh_keys()
    assert MarketplaceConnection.objects.get(pk=connection.pk).api_key == KEY
    # A second run has nothing left to do.
    call_command("rotate_api_keys")
    assert _stored(connection.pk) == after


def test_rotate_api_keys_dry_run_and_undecryptable_values(settings, fresh_keys, capsys) -> None:
    settings.SALT_KEY = ["lost-salt"]
    fresh_keys()
    lost = MarketplaceConnectionFactory(api_key=KEY)
    settings.SALT_KEY = ["new-salt"]
    fresh_keys()
    with pytest.raises(CommandError, match=f"pk={lost.pk}"):
        call_command("rotate_api_keys", "--dry-run")
    assert "would re-encrypt 0" in capsys.readouterr().out


def test_sync_logs_never_contain_the_key(connection, caplog) -> None:
    from core.sync.runner import marketplace_sync
    from tests.conftest import SANDBOX_KEY

    caplog.set_level(logging.DEBUG)
    marketplace_sync(connection=connection)
    assert caplog.records, "the sync logs something"
    for record in caplog.records:
        assert SANDBOX_KEY not in record.getMessage()
        assert SANDBOX_KEY not in str(record.__dict__)


def test_no_page_renders_the_key(admin_user) -> None:
    connection = MarketplaceConnectionFactory(api_key=KEY)
    client = Client()
    client.force_login(admin_user)
    pages = [
        "/admin/core/marketplaceconnection/",
        f"/admin/core/marketplaceconnection/{connection.pk}/change/",
        "/admin/core/marketplaceconnection/add/",
        "/",
        "/api/v1/marketplaces/",
        f"/api/v1/marketplaces/{connection.pk}/",
        "/api/schema/",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert KEY not in response.content.decode(), url
