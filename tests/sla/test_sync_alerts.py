"""A marketplace that stops syncing: admins are told once (in the app and by e-mail), and
told again when it syncs; through the SLA alerts' own notifications and deliveries."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core.sync.models import SyncCursor
from core.sync.runner import marketplace_sync
from sla.models import AlertDelivery, Notification, SyncAlert
from sla.sync_alerts import sync_alerts_dispatch
from sla.tasks import sync_alerts_task
from tests.factories.core import MarketplaceConnectionFactory, UserFactory

pytestmark = pytest.mark.django_db

MIN = timedelta(minutes=1)


@pytest.fixture
def people():
    return {
        "admin": UserFactory(username="adela", role="admin", email="adela@example.com"),
        "root": UserFactory(username="root", is_superuser=True, email="root@example.com"),
        "quiet": UserFactory(username="quiet", role="admin", email=""),
        "agent": UserFactory(username="ana", role="agent", email="ana@example.com"),
        "manager": UserFactory(username="mario", role="account_manager", email="m@example.com"),
    }


@pytest.fixture
def marketplace():
    connection = MarketplaceConnectionFactory(code="mm", name="MediaMarkt")
    connection.created_at = timezone.now() - timedelta(days=30)
    connection.save()
    return connection


def _synced(connection, at, **error) -> None:
    for resource in ("orders", "threads"):
        SyncCursor.objects.update_or_create(
            connection=connection,
            resource=resource,
            defaults={"last_success_at": at, **(error if resource == "orders" else {})},
        )


def _dispatch(captured, now):
    """A beat tick at ``now``: the outbox sends the e-mails it queued once due, then."""
    with time_machine.travel(now, tick=True), captured(execute=True):
        return sync_alerts_dispatch(now=now)


def test_admins_hear_once_when_a_marketplace_stops_and_once_when_it_syncs_again(
    people, marketplace, django_capture_on_commit_callbacks, settings
) -> None:
    settings.LANGUAGE_CODE = "es"
    now = timezone.now()
    _synced(
        marketplace,
        now - 12 * MIN,
        last_error="OR11 failed (HTTP 503): Service Unavailable",
        last_error_at=now - MIN,
        last_error_kind=SyncCursor.ErrorKind.UNAVAILABLE,
    )

    result = _dispatch(django_capture_on_commit_callbacks, now)

    alert = SyncAlert.objects.get()
    assert alert.connection == marketplace and alert.recovered_at is None
    told = {n.user.username for n in Notification.objects.filter(kind="sync_stale")}
    assert told == {"adela", "root", "quiet"}  # admins and superusers, nobody else
    assert result.notifications == 3
    message = Notification.objects.filter(kind="sync_stale").first().message
    assert message.startswith("MediaMarkt no se sincroniza correctamente desde el ")
    assert "(datos de hace 12 min)" in message
    assert "Pedidos: Mirakl no responde" in message
    assert "503" not in message
    assert sorted(m.to[0] for m in mail.outbox) == ["adela@example.com", "root@example.com"]
    assert mail.outbox[0].subject == "[Incidesk] MediaMarkt no se sincroniza"
    assert message in mail.outbox[0].body
    assert AlertDelivery.objects.filter(sync_alert=alert, channel="email", sent_at__isnull=False)

    # Every minute after: the same episode, nobody is told again.
    for minutes in (1, 2, 30):
        _dispatch(django_capture_on_commit_callbacks, now + minutes * MIN)
    assert SyncAlert.objects.count() == 1
    assert Notification.objects.count() == 3 and len(mail.outbox) == 2

    # It syncs again.
    _synced(marketplace, now + 31 * MIN)
    SyncCursor.objects.filter(connection=marketplace).update(last_error_kind="")
    _dispatch(django_capture_on_commit_callbacks, now + 32 * MIN)
    alert.refresh_from_db()
    assert alert.recovered_at == now + 32 * MIN
    recovered = Notification.objects.filter(kind="sync_recovered")
    assert {n.user.username for n in recovered} == {"adela", "root", "quiet"}
    assert recovered.first().message.startswith("MediaMarkt vuelve a sincronizarse")
    assert len(mail.outbox) == 4
    assert mail.outbox[-1].subject == "[Incidesk] MediaMarkt vuelve a sincronizarse"
    _dispatch(django_capture_on_commit_callbacks, now + 33 * MIN)
    assert Notification.objects.count() == 6 and len(mail.outbox) == 4

    # A later stop is a new episode: told again.
    _dispatch(django_capture_on_commit_callbacks, now + 60 * MIN)
    assert SyncAlert.objects.count() == 2
    assert Notification.objects.filter(kind="sync_stale").count() == 6


def test_a_marketplace_under_the_delay_or_disabled_raises_nothing(
    people, marketplace, django_capture_on_commit_callbacks
) -> None:
    now = timezone.now()
    _synced(marketplace, now - 9 * MIN)
    assert settings.SYNC_STALE_ALERT == 10 * MIN  # the default
    _dispatch(django_capture_on_commit_callbacks, now)
    assert not SyncAlert.objects.exists()

    _dispatch(django_capture_on_commit_callbacks, now + 2 * MIN)
    assert SyncAlert.objects.filter(recovered_at__isnull=True).count() == 1
    marketplace.is_active = False
    marketplace.save()
    _dispatch(django_capture_on_commit_callbacks, now + 3 * MIN)
    # Closed without telling anyone that it "syncs again".
    assert not SyncAlert.objects.filter(recovered_at__isnull=True).exists()
    assert not Notification.objects.filter(kind="sync_recovered").exists()


def test_a_marketplace_that_never_synced_is_alerted_once_it_is_old_enough(
    people, django_capture_on_commit_callbacks, settings
) -> None:
    settings.LANGUAGE_CODE = "en"
    settings.MIRAKL_MAX_RETRIES = 0
    broken = MarketplaceConnectionFactory(
        code="broken", name="Broken", base_url="http://127.0.0.1:9"
    )
    marketplace_sync(connection=broken)

    _dispatch(django_capture_on_commit_callbacks, timezone.now())
    assert not SyncAlert.objects.exists()  # added a moment ago

    later = timezone.now() + 11 * MIN
    _dispatch(django_capture_on_commit_callbacks, later)
    message = Notification.objects.filter(kind="sync_stale").first().message
    assert message.startswith("Broken has never synced successfully.")
    assert "Mirakl does not answer" in message


def test_the_notifications_page_links_to_the_marketplaces(
    people, marketplace, django_capture_on_commit_callbacks
) -> None:
    _synced(marketplace, timezone.now() - 20 * MIN)
    _dispatch(django_capture_on_commit_callbacks, timezone.now())
    client = Client()
    client.force_login(people["admin"])
    client.cookies["django_language"] = "es"

    page = client.get(reverse("notifications:list")).content.decode()

    assert '<span class="badge bad">Marketplace sin sincronizar</span>' in page
    assert f'<a href="{reverse("desk:overview")}">Ver los marketplaces</a>' in page


def test_beat_runs_the_sync_alerts_every_minute(people, marketplace) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["sync-alerts"]
    assert entry["task"] == "sla.tasks.sync_alerts_task"
    assert entry["schedule"] == MIN and entry["options"]["expires"] == 60
    _synced(marketplace, timezone.now() - 20 * MIN)
    assert sync_alerts_task.apply().get() == 3
    assert sync_alerts_task.apply().get() == 0
