"""Deadline alerts: in-app notifications, e-mails, webhook posts and the daily digest."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import responses
from django.conf import settings
from django.core import mail
from django.urls import reverse

from core.outbox.engine import outbox_deliver
from core.outbox.models import OutboxEntry
from incidents.models import Incident
from sla.alerts import (
    alerts_digest_send,
    alerts_dispatch,
    notifications_unread_count,
)
from sla.models import AlertDelivery, AlertSettings, Notification, SlaItem
from sla.services import sla_sweep
from sla.tasks import sla_alerts_digest_task
from tests.factories.core import UserFactory
from tests.factories.incidents import IncidentFactory
from tests.factories.messaging import ThreadFactory
from tests.factories.sla import AlertSettingsFactory, NotificationFactory, SlaItemFactory
from tests.sla.conftest import madrid

pytestmark = pytest.mark.django_db

OPENED = madrid(2026, 12, 1, 10)
H = timedelta(hours=1)
HOOK = "https://hooks.slack.example/services/T000/B000/XXX"
State = SlaItem.State
Channel = AlertDelivery.Channel


def incident(connection, **kwargs) -> Incident:
    return IncidentFactory(
        line__order__connection=connection,
        connection=connection,
        opened_at=OPENED,
        line__order__mirakl_id="5940-A",
        **kwargs,
    )


@pytest.fixture(autouse=True)
def _english(settings) -> None:
    """Alerts are written in the site's language: pin the English source texts."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def team(db):
    return {
        "ana": UserFactory(username="ana", role="agent"),
        "bruno": UserFactory(username="bruno", role="agent"),
        "marta": UserFactory(username="marta", role="account_manager"),
        "nobody": UserFactory(username="nobody"),
    }


def sweeps(capture, *offsets: float) -> None:
    for hours in offsets:
        with capture(execute=True):
            sla_sweep(now=OPENED + hours * H)


def test_sweeping_twice_alerts_once_per_item_and_state(
    mediamarkt, team, django_capture_on_commit_callbacks
) -> None:
    inc = incident(mediamarkt)
    AlertSettingsFactory(connection=mediamarkt, webhook_url=HOOK)

    with responses.RequestsMock(assert_all_requests_are_fired=True) as hooks:
        hooks.post(HOOK, json={"ok": True})
        sweeps(django_capture_on_commit_callbacks, 0, 37, 37, 38)
        assert len(hooks.calls) == 1
        sweeps(django_capture_on_commit_callbacks, 49, 49, 60)
        assert len(hooks.calls) == 2

    item = SlaItem.objects.get(incident=inc)
    # Unassigned: both agents and the account manager; the user without a role is not told.
    notified = Notification.objects.order_by("state", "user__username")
    assert [(n.state, n.user.username) for n in notified] == [
        (State.BREACHED, "ana"),
        (State.BREACHED, "bruno"),
        (State.BREACHED, "marta"),
        (State.NEARING, "ana"),
        (State.NEARING, "bruno"),
        (State.NEARING, "marta"),
    ]
    assert all(n.item == item and n.read_at is None for n in notified)
    assert "5940-A" in notified[0].message and "MediaMarkt" in notified[0].message
    assert sorted((m.to[0], m.subject) for m in mail.outbox) == [
        ("ana@tienda.example", "[Incidesk] Deadline missed"),
        ("ana@tienda.example", "[Incidesk] Deadline near"),
        ("bruno@tienda.example", "[Incidesk] Deadline missed"),
        ("bruno@tienda.example", "[Incidesk] Deadline near"),
        ("marta@tienda.example", "[Incidesk] Deadline missed"),
        ("marta@tienda.example", "[Incidesk] Deadline near"),
    ]
    assert mail.outbox[0].from_email == settings.DEFAULT_FROM_EMAIL
    assert f"/incidents/{inc.pk}/" in mail.outbox[0].body
    bodies = [json.loads(call.request.body) for call in hooks.calls]
    assert all(set(body) == {"text"} and "5940-A" in body["text"] for body in bodies)
    assert AlertDelivery.objects.filter(sent_at__isnull=True).count() == 0
    assert AlertDelivery.objects.filter(channel=Channel.WEBHOOK).count() == 2

    # The task redelivered (or run by hand) finds everything done.
    again = alerts_dispatch(changes=[(item.pk, State.NEARING), (item.pk, State.BREACHED)])
    assert (again.notifications, again.emails, again.webhooks) == (0, [], [])


def test_an_assigned_incident_alerts_its_assignee_not_the_team(
    mediamarkt, team, django_capture_on_commit_callbacks
) -> None:
    from incidents.models import IncidentAssignment

    inc = incident(mediamarkt)
    IncidentAssignment.objects.create(incident=inc, assignee=team["bruno"])

    sweeps(django_capture_on_commit_callbacks, 0, 40)

    assert sorted(Notification.objects.values_list("user__username", flat=True)) == [
        "bruno",
        "marta",
    ]
    assert sorted(m.to[0] for m in mail.outbox) == ["bruno@tienda.example", "marta@tienda.example"]


def test_the_digest_replaces_account_managers_item_emails(
    mediamarkt, team, django_capture_on_commit_callbacks
) -> None:
    incident(mediamarkt)
    AlertSettingsFactory(connection=mediamarkt, webhook_url="", digest=True)

    sweeps(django_capture_on_commit_callbacks, 0, 40)

    assert sorted(m.to[0] for m in mail.outbox) == ["ana@tienda.example", "bruno@tienda.example"]
    assert Notification.objects.filter(user=team["marta"]).count() == 1


def test_digest_lists_nearing_and_breached_items_per_marketplace(
    mediamarkt, pccomponentes, team
) -> None:
    AlertSettingsFactory(connection=mediamarkt, webhook_url="", digest=True)
    AlertSettingsFactory(connection=pccomponentes, webhook_url="", digest=False)
    late = incident(mediamarkt)
    IncidentFactory(
        line__order__connection=mediamarkt,
        connection=mediamarkt,
        opened_at=OPENED + 20 * H,
        line__order__mirakl_id="7777-B",
    )
    IncidentFactory(
        line__order__connection=pccomponentes,
        connection=pccomponentes,
        opened_at=OPENED,
        line__order__mirakl_id="8888-C",
    )
    sla_sweep(now=OPENED + 58 * H)  # first late (breached), second nearing (38 of 48 h)

    sent = alerts_digest_send(now=OPENED + 58 * H)

    assert sent == 1
    (message,) = mail.outbox
    assert message.to == ["marta@tienda.example"]
    assert message.subject == "[Incidesk] SLA digest: 1 missed, 1 near"
    assert "== MediaMarkt (2) ==" in message.body
    assert (
        "Deadline missed: incident “Artículo defectuoso” on order 5940-A on MediaMarkt was due "
        "03/12/2026 10:00." in message.body
    )
    assert "Deadline near: incident “Artículo defectuoso” on order 7777-B" in message.body
    assert f"/incidents/{late.pk}/" in message.body
    assert "8888-C" not in message.body  # that marketplace has no digest


def test_digest_sends_nothing_when_nothing_waits(mediamarkt, team) -> None:
    AlertSettingsFactory(connection=mediamarkt, digest=True)

    assert sla_alerts_digest_task.apply().get() == 0
    assert mail.outbox == []


def test_digest_runs_daily_from_beat() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["sla-alerts-digest"]
    assert entry["task"] == sla_alerts_digest_task.name
    assert entry["options"] == {"expires": 3600}


def _webhook(mediamarkt) -> AlertDelivery:
    incident(mediamarkt)
    AlertSettingsFactory(connection=mediamarkt, webhook_url=HOOK)
    sla_sweep(now=OPENED)
    result = sla_sweep(now=OPENED + 40 * H)
    alerts_dispatch(changes=[(c.item_id, c.state) for c in result.changes])
    return AlertDelivery.objects.select_related("delivery").get(channel=Channel.WEBHOOK)


def test_a_failing_webhook_is_kept_unsent_for_the_retry(mediamarkt, team) -> None:
    alert = _webhook(mediamarkt)
    entry = alert.delivery
    assert (entry.kind, entry.state) == (5, OutboxEntry.State.QUEUED)

    with responses.RequestsMock(assert_all_requests_are_fired=True) as hooks:
        hooks.post(HOOK, status=503)
        failed = outbox_deliver(entry_id=entry.pk)
        assert failed.outcome == "retry"
        entry.refresh_from_db()
        assert entry.in_doubt and "webhook HTTP 503" in entry.last_error
        alert.refresh_from_db()
        assert alert.sent_at is None
        hooks.replace(responses.POST, HOOK, json={"ok": True})
        # Nothing to ask a webhook: the post is made again (at least once).
        assert outbox_deliver(entry_id=entry.pk, now=entry.next_attempt_at).outcome == "sent"
        assert outbox_deliver(entry_id=entry.pk, now=entry.next_attempt_at).outcome == "done"

    alert.refresh_from_db()
    entry.refresh_from_db()
    assert alert.sent_at is not None and entry.attempts == 2 and entry.last_error == ""


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(404, "refused"), (302, "refused"), (429, "retry")],
)
def test_a_webhook_that_refuses_or_redirects_is_not_retried_for_ever(
    mediamarkt, team, status, outcome
) -> None:
    alert = _webhook(mediamarkt)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as hooks:
        hooks.post(HOOK, status=status, headers={"Location": "https://elsewhere.example/"})
        hooks.get("https://elsewhere.example/", status=200)
        assert outbox_deliver(entry_id=alert.delivery_id).outcome == outcome
        assert len(hooks.calls) == 1  # the redirect was not followed
    alert.refresh_from_db()
    assert alert.sent_at is None


@pytest.mark.django_db(transaction=True)
def test_the_webhook_is_posted_outside_any_transaction_and_row_lock(
    mediamarkt, monkeypatch
) -> None:
    """While the hook is being posted, another connection can lock the alert's rows at once:
    no transaction of ours holds them across the HTTP call."""
    import threading

    from django.db import connection as db_connection
    from django.db import transaction

    # Committed at once here: keep the "deliver one" tasks for the test to run.
    monkeypatch.setattr("core.outbox.tasks.outbox_deliver_task.delay", lambda entry_id: None)
    alert = _webhook(mediamarkt)
    seen: list[object] = []

    def probe() -> None:
        try:
            with transaction.atomic():
                seen.append(
                    AlertDelivery.objects.select_for_update(nowait=True).get(pk=alert.pk).pk
                )
                seen.append(
                    OutboxEntry.objects.select_for_update(nowait=True)
                    .get(pk=alert.delivery_id)
                    .state
                )
        except Exception as exc:  # noqa: BLE001 - reported to the test
            seen.append(exc)
        finally:
            db_connection.close()

    def answer(request):
        seen.append(db_connection.in_atomic_block)
        thread = threading.Thread(target=probe)
        thread.start()
        thread.join(timeout=10)
        return (200, {}, "{}")

    with responses.RequestsMock() as hooks:
        hooks.add_callback(responses.POST, HOOK, callback=answer)
        assert outbox_deliver(entry_id=alert.delivery_id).outcome == "sent"

    assert seen == [False, alert.pk, OutboxEntry.State.SENDING]


def test_the_webhook_session_has_a_timeout_and_follows_no_redirect() -> None:
    from core.outbox.http import outgoing_session
    from sla.outbox import WEBHOOK_TIMEOUT_SECONDS

    session = outgoing_session("webhook", WEBHOOK_TIMEOUT_SECONDS)
    assert session is outgoing_session("webhook", WEBHOOK_TIMEOUT_SECONDS)  # one per process
    adapter = session.get_adapter("https://hooks.slack.example/")
    assert adapter.timeout == WEBHOOK_TIMEOUT_SECONDS
    assert adapter.max_retries.total == 0


def test_an_email_alert_is_sent_by_the_outbox(mediamarkt, team) -> None:
    incident(mediamarkt)
    sla_sweep(now=OPENED)
    result = sla_sweep(now=OPENED + 40 * H)
    dispatched = alerts_dispatch(changes=[(c.item_id, c.state) for c in result.changes])
    first = AlertDelivery.objects.get(pk=dispatched.emails[0])

    assert outbox_deliver(entry_id=first.delivery_id).outcome == "sent"

    first.refresh_from_db()
    assert first.sent_at is not None
    assert [m.to for m in mail.outbox] == [[first.target]]
    assert mail.outbox[0].subject == "[Incidesk] Deadline near"


def test_alert_settings_is_one_row_per_connection(mediamarkt) -> None:
    AlertSettingsFactory(connection=mediamarkt)
    AlertSettingsFactory(connection=mediamarkt)
    assert AlertSettings.objects.count() == 1


def test_the_bell_counts_unread_and_the_list_marks_them_read(client, team) -> None:
    user = team["ana"]
    NotificationFactory.create_batch(2, user=user)
    NotificationFactory(user=team["bruno"])
    client.force_login(user)

    bell = client.get(reverse("notifications:bell"))
    assert bell.status_code == 200
    assert bell.context["unread"] == 2

    page = client.get(reverse("notifications:list"))
    assert page.status_code == 200
    assert len(page.context["notifications"]) == 2
    assert notifications_unread_count(user=user) == 0
    assert notifications_unread_count(user=team["bruno"]) == 1


def test_notifications_need_a_login(client) -> None:
    response = client.get(reverse("notifications:list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_message_alerts_the_assignee_of_its_orders_open_incident(mediamarkt, team) -> None:
    from incidents.models import IncidentAssignment

    inc = incident(mediamarkt)
    IncidentAssignment.objects.create(incident=inc, assignee=team["ana"])
    thread = ThreadFactory(connection=mediamarkt, order=inc.order, topic_value="¿Dónde está?")
    item = SlaItemFactory(
        incident=None,
        thread=thread,
        kind=SlaItem.Kind.THREAD,
        audience=SlaItem.Audience.CUSTOMER,
        state=State.BREACHED,
    )

    alerts_dispatch(changes=[(item.pk, State.BREACHED)])

    assert sorted(Notification.objects.values_list("user__username", flat=True)) == [
        "ana",
        "marta",
    ]
    assert "message “¿Dónde está?”" in Notification.objects.first().message


def test_on_time_and_unknown_items_alert_nobody(mediamarkt, team) -> None:
    item = SlaItemFactory(incident=incident(mediamarkt))

    result = alerts_dispatch(changes=[(item.pk, State.ON_TIME), (item.pk + 999, State.BREACHED)])

    assert result.notifications == 0 and AlertDelivery.objects.count() == 0


def test_the_admin_lists_alert_settings_and_deliveries(admin_client, mediamarkt) -> None:
    AlertSettingsFactory(connection=mediamarkt)
    for model in ("alertsettings", "alertdelivery"):
        assert admin_client.get(reverse(f"admin:sla_{model}_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:sla_alertsettings_add")).status_code == 200
