"""Alerts of a scoped team: each marketplace's alerts go to the users who see it, and the
daily digest goes out once a day however often beat fires."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from core.scoping import MarketplaceAccess
from incidents.lifecycle import incidents_refresh
from incidents.models import Incident
from messaging.models import Party
from sla.alerts import alerts_digest_send
from sla.health.watchdog import health_recipients
from sla.models import DigestDay, Notification
from sla.services import sla_sweep
from sla.tasks import sla_alerts_digest_task
from tests.factories.core import UserFactory
from tests.factories.incidents import IncidentFactory
from tests.factories.messaging import MessageFactory, ThreadFactory
from tests.factories.sla import AlertSettingsFactory
from tests.sla.conftest import madrid

pytestmark = pytest.mark.django_db

OPENED = madrid(2026, 12, 1, 10)
H = timedelta(hours=1)


@pytest.fixture(autouse=True)
def _english(settings) -> None:
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def team(db, mediamarkt, pccomponentes):
    """Ana works MediaMarkt only, Bruno every marketplace; Marta manages MediaMarkt,
    Pablo PcComponentes, Eva every marketplace."""
    users = {
        "ana": UserFactory(username="ana", role="agent"),
        "bruno": UserFactory(username="bruno", role="agent"),
        "marta": UserFactory(username="marta", role="account_manager"),
        "pablo": UserFactory(username="pablo", role="account_manager"),
        "eva": UserFactory(username="eva", role="account_manager"),
    }
    MarketplaceAccess.objects.create(user=users["ana"], connection=mediamarkt)
    MarketplaceAccess.objects.create(user=users["marta"], connection=mediamarkt)
    MarketplaceAccess.objects.create(user=users["pablo"], connection=pccomponentes)
    return users


def incident(connection, order_id: str, **kwargs) -> Incident:
    return IncidentFactory(
        line__order__connection=connection,
        connection=connection,
        opened_at=OPENED,
        line__order__mirakl_id=order_id,
        **kwargs,
    )


def notified(**filters) -> list[str]:
    return sorted(Notification.objects.filter(**filters).values_list("user__username", flat=True))


def test_deadline_alerts_go_to_the_users_who_see_the_marketplace(
    mediamarkt, pccomponentes, team, django_capture_on_commit_callbacks
) -> None:
    mm = incident(mediamarkt, "MM-1")
    pcc = incident(pccomponentes, "PCC-1")

    with django_capture_on_commit_callbacks(execute=True):
        sla_sweep(now=OPENED + 200 * H)

    assert notified(item__incident=mm, state="breached") == ["ana", "bruno", "eva", "marta"]
    assert notified(item__incident=pcc, state="breached") == ["bruno", "eva", "pablo"]
    to_pablo = [m for m in mail.outbox if m.to == ["pablo@tienda.example"]]
    assert to_pablo and all("MM-1" not in m.body for m in to_pablo)


def test_a_contested_incident_notifies_only_agents_who_see_it(mediamarkt, pccomponentes, team):
    contested = incident(
        pccomponentes, "PCC-2", state=Incident.State.RESOLVED, resolved_at=OPENED + H
    )
    thread = ThreadFactory(order=contested.order, connection=pccomponentes)
    MessageFactory(thread=thread, author_type=Party.OPERATOR, date_created=OPENED + 2 * H)

    incidents_refresh(order_ids=[contested.order_id])

    assert notified(kind=Notification.Kind.CONTESTED) == ["bruno"]


def test_shop_health_goes_to_the_account_managers_who_see_the_marketplace(
    mediamarkt, pccomponentes, team
) -> None:
    assert [u.username for u in health_recipients(mediamarkt)] == ["marta", "eva"]
    assert [u.username for u in health_recipients(pccomponentes)] == ["pablo", "eva"]


def test_the_digest_lists_each_manager_only_their_marketplaces(
    mediamarkt, pccomponentes, team
) -> None:
    for connection in (mediamarkt, pccomponentes):
        AlertSettingsFactory(connection=connection, webhook_url="", digest=True)
    incident(mediamarkt, "MM-3")
    incident(pccomponentes, "PCC-3")
    sla_sweep(now=OPENED + 58 * H)

    assert alerts_digest_send(now=OPENED + 58 * H) == 3

    bodies = {m.to[0].split("@")[0]: m.body for m in mail.outbox}
    assert "MM-3" in bodies["marta"] and "PCC-3" not in bodies["marta"]
    assert "PCC-3" in bodies["pablo"] and "MM-3" not in bodies["pablo"]
    assert "MM-3" in bodies["eva"] and "PCC-3" in bodies["eva"]


def test_the_digest_goes_out_once_a_day_even_if_beat_fires_twice(
    mediamarkt, team, time_machine
) -> None:
    AlertSettingsFactory(connection=mediamarkt, webhook_url="", digest=True)
    incident(mediamarkt, "MM-4")
    sla_sweep(now=OPENED + 58 * H)
    time_machine.move_to(OPENED + 58 * H, tick=False)

    assert sla_alerts_digest_task.apply().get() == 2  # marta and eva
    assert sla_alerts_digest_task.apply().get() == 0
    assert alerts_digest_send(now=OPENED + 60 * H) == 0  # later the same Madrid day
    assert len(mail.outbox) == 2
    (day,) = DigestDay.objects.all()
    assert (day.day.isoformat(), day.emails) == ("2026-12-03", 2)

    # The next day it goes out again.
    assert alerts_digest_send(now=OPENED + 82 * H) == 2
    assert DigestDay.objects.count() == 2


def test_a_digest_that_fails_to_send_gives_the_day_back(mediamarkt, team, monkeypatch) -> None:
    AlertSettingsFactory(connection=mediamarkt, webhook_url="", digest=True)
    incident(mediamarkt, "MM-5")
    sla_sweep(now=OPENED + 58 * H)

    def down(*args, **kwargs):
        raise OSError("SMTP down")

    monkeypatch.setattr("sla.alerts.send_mail", down)
    with pytest.raises(OSError):
        alerts_digest_send(now=OPENED + 58 * H)
    assert not DigestDay.objects.exists()

    monkeypatch.undo()
    assert alerts_digest_send(now=OPENED + 58 * H) == 2
