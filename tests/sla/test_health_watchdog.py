"""The watchdog: each crossing announced once to the marketplace's account managers (in
the app, by e-mail, by webhook), a step up announced, a waver not, "back to normal" once;
A01's suspension and reopening likewise."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import responses
from django.core import mail

from core.outbox.engine import outbox_deliver
from core.roles import Role
from sla.health.watchdog import health_watch
from sla.models import AlertDelivery, Notification
from sla.models.health import HealthEpisode
from tests.factories.core import UserFactory
from tests.factories.sla import (
    AlertSettingsFactory,
    ShopAccountSnapshotFactory,
    ShopStatisticsSnapshotFactory,
)
from tests.sla.conftest import madrid

pytestmark = pytest.mark.django_db

NOW = madrid(2026, 12, 10, 12, 0)
Event = HealthEpisode.Event
Channel = AlertDelivery.Channel
HOOK = "https://hooks.slack.com/services/T000/B000/XXX"


@pytest.fixture
def managers(db):
    """Two account managers (Ana looks after PcComponentes) and an agent."""
    ana = UserFactory(username="ana", email="ana@tienda.example", role=Role.ACCOUNT_MANAGER)
    luis = UserFactory(username="luis", email="luis@tienda.example", role=Role.ACCOUNT_MANAGER)
    UserFactory(username="agente", email="agente@tienda.example", role=Role.AGENT)
    return ana, luis


@pytest.fixture
def watched(pccomponentes, managers):
    settings = AlertSettingsFactory(connection=pccomponentes, webhook_url=HOOK)
    settings.account_managers.set([managers[0]])
    return pccomponentes


def _mirakl(connection, *values: str, key: str = "incident_rate", at=NOW) -> None:
    """Replace Mirakl's answers with one a day, the last at ``at``."""
    connection.statistics_snapshots.all().delete()
    for back, value in enumerate(reversed(values)):
        ShopStatisticsSnapshotFactory(
            connection=connection,
            fetched_at=at - timedelta(days=back, hours=1),
            figures={key: value},
        )


def _events(result) -> list[tuple[str, str]]:
    return [(subject, event) for _code, subject, event in result.events]


def test_each_crossing_is_announced_once_with_a_step_up_and_back_to_normal(
    watched, managers, settings
) -> None:
    settings.HEALTH_NORMAL_AFTER = timedelta(minutes=60)
    ana, luis = managers

    # Mirakl's incident rate 7.4, 7.5, 7.6: in 4 days it reaches the alert (8 %).
    _mirakl(watched, "7.40", "7.50", "7.60")
    first = health_watch(now=NOW)
    assert _events(first) == [("incident_rate", Event.PROJECTED_ALERT)]
    # Ana only (the marketplace's account manager): in the app, by e-mail; one webhook.
    notes = Notification.objects.all()
    assert [n.user for n in notes] == [ana]
    assert notes[0].kind == Notification.Kind.HEALTH and notes[0].connection == watched
    assert notes[0].message == (
        "PcComponentes: si nada cambia, el criterio «tasa de incidencias» (ahora 7,60\xa0%) "
        "llegará al umbral de alerta (≥ 8,00\xa0%) en 4 días."
    )
    assert (first.notifications, first.emails, first.webhooks) == (1, 1, 1)

    # Beat again, nothing changed: nothing announced.
    assert health_watch(now=NOW + timedelta(minutes=10)).events == []

    # It reaches the alert: a step up.
    _mirakl(watched, "8.10")
    assert _events(health_watch(now=NOW + timedelta(hours=1))) == [("incident_rate", Event.ALERT)]
    # It wavers under and back over the alert: nothing new.
    _mirakl(watched, "7.90")
    assert health_watch(now=NOW + timedelta(hours=2)).events == []
    _mirakl(watched, "8.20")
    assert health_watch(now=NOW + timedelta(hours=3)).events == []
    # Back under it, and it stays there: "back to normal" once the hour has passed.
    _mirakl(watched, "7.50")
    assert health_watch(now=NOW + timedelta(hours=4)).events == []
    assert health_watch(now=NOW + timedelta(hours=4, minutes=59)).events == []
    normal = health_watch(now=NOW + timedelta(hours=5))
    assert _events(normal) == [("incident_rate", Event.NORMAL)]
    assert health_watch(now=NOW + timedelta(hours=6)).events == []

    episode = HealthEpisode.objects.get()
    assert episode.closed_at == NOW + timedelta(hours=5) and episode.level == 2
    states = list(
        AlertDelivery.objects.filter(channel=Channel.IN_APP).values_list("state", flat=True)
    )
    assert sorted(states) == sorted([Event.PROJECTED_ALERT, Event.ALERT, Event.NORMAL])
    assert Notification.objects.filter(user=luis).count() == 0
    assert Notification.objects.first().kind == Notification.Kind.HEALTH_NORMAL

    # A new crossing is a new episode, announced again.
    _mirakl(watched, "9.30")
    assert _events(health_watch(now=NOW + timedelta(days=1))) == [("incident_rate", Event.LIMIT)]
    assert HealthEpisode.objects.filter(closed_at__isnull=True).count() == 1


def test_every_account_manager_hears_when_the_marketplace_names_none(
    pccomponentes, managers
) -> None:
    _mirakl(pccomponentes, "9.00")
    result = health_watch(now=NOW)
    assert _events(result) == [("incident_rate", Event.LIMIT)]
    assert sorted(n.user.username for n in Notification.objects.all()) == ["ana", "luis"]
    assert result.webhooks == 0  # no webhook configured


def test_a01_suspension_and_reopening(watched, managers) -> None:
    ShopAccountSnapshotFactory(
        connection=watched,
        fetched_at=NOW - timedelta(hours=1),
        shop_state="SUSPENDED",
        suspension_type="AUTOMATIC_SUSPENSION",
    )
    result = health_watch(now=NOW)
    assert _events(result) == [("shop_state", Event.SUSPENDED)]
    message = Notification.objects.get().message
    assert "resolved todas las incidencias" in message
    assert "escribid a vuestro Account Manager" in message
    assert "AUTOMATIC_SUSPENSION" not in message  # never Mirakl's code
    assert health_watch(now=NOW + timedelta(minutes=10)).events == []

    ShopAccountSnapshotFactory(connection=watched, fetched_at=NOW + timedelta(days=1))
    reopened = health_watch(now=NOW + timedelta(days=1, minutes=5))
    assert _events(reopened) == [("shop_state", Event.NORMAL)]
    assert health_watch(now=NOW + timedelta(days=1, minutes=15)).events == []


def test_a_closed_shop_is_announced_with_its_dates(watched, managers) -> None:
    ShopAccountSnapshotFactory(
        connection=watched,
        fetched_at=NOW - timedelta(hours=1),
        shop_state="CLOSE",
        closed_from=madrid(2026, 12, 20),
        closed_to=madrid(2027, 1, 7),
    )
    assert _events(health_watch(now=NOW)) == [("shop_state", Event.SHOP_CLOSED)]
    message = Notification.objects.get().message
    assert "del 20/12/2026 al 07/01/2027" in message and "24 horas" in message


def test_unknown_thresholds_never_alert(mediamarkt, managers) -> None:
    """MediaMarkt's incident rate threshold is unknown: no alert, whatever the figure."""
    _mirakl(mediamarkt, "40.00")
    assert health_watch(now=NOW).events == []


def test_the_email_and_the_webhook_go_through_the_outbox(watched, managers) -> None:
    watched.name = "PcComponentes <!channel>"
    watched.save()
    _mirakl(watched, "9.40")
    health_watch(now=NOW)
    email = AlertDelivery.objects.get(channel=Channel.EMAIL)
    assert outbox_deliver(entry_id=email.delivery_id, now=NOW).outcome == "sent"
    (sent,) = mail.outbox
    assert sent.to == ["ana@tienda.example"]
    assert "/sla/health/pcc/" in sent.body
    assert "suspension" in sent.subject.lower() or "suspensión" in sent.subject.lower()

    hook = AlertDelivery.objects.get(channel=Channel.WEBHOOK)
    with responses.RequestsMock() as mocked:
        mocked.post(HOOK, status=200)
        assert outbox_deliver(entry_id=hook.delivery_id, now=NOW).outcome == "sent"
        text = json.loads(mocked.calls[0].request.body)["text"]
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert text.endswith("/sla/health/pcc/")


def test_the_notification_links_to_the_marketplaces_health_page(watched, managers) -> None:
    from django.test import Client

    _mirakl(watched, "9.40")
    health_watch(now=NOW)
    client = Client()
    client.force_login(managers[0])
    page = client.get("/notifications/").content.decode()
    assert 'href="/sla/health/pcc/"' in page and "Ver la salud de la tienda" in page
