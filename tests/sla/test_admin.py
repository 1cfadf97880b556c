"""The SLA admin: calendars and policies editable, items and breaches read-only."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from sla.models import BusinessCalendar, SlaItem
from sla.policies import SPANISH_CALENDAR_NAME
from sla.services import sla_sweep
from tests.factories.incidents import IncidentFactory
from tests.factories.messaging import MessageFactory, ThreadFactory
from tests.sla.conftest import madrid

pytestmark = pytest.mark.django_db

NOW = madrid(2026, 12, 3, 12)


@pytest.fixture
def swept(mediamarkt):
    incident = IncidentFactory(
        line__order__connection=mediamarkt,
        connection=mediamarkt,
        opened_at=NOW - timedelta(hours=50),
    )
    thread = ThreadFactory(connection=mediamarkt, order=incident.order)
    MessageFactory(thread=thread, date_created=NOW - timedelta(hours=1))
    sla_sweep(now=NOW)
    return mediamarkt


@pytest.mark.parametrize(
    "model", ["businesscalendar", "slapolicy", "slaitem", "slabreach"]
)  # fmt: skip
def test_changelists_and_detail_pages_render(admin_client, swept, model) -> None:
    url = reverse(f"admin:sla_{model}_changelist")
    assert admin_client.get(url, {"q": "1"}).status_code == 200
    response = admin_client.get(url)
    assert response.status_code == 200
    obj = response.context["cl"].queryset.first()
    assert obj is not None
    assert admin_client.get(reverse(f"admin:sla_{model}_change", args=[obj.pk])).status_code == 200


def test_items_are_read_only(admin_client, swept) -> None:
    assert admin_client.get(reverse("admin:sla_slaitem_add")).status_code == 403
    item = SlaItem.objects.first()
    response = admin_client.post(reverse("admin:sla_slaitem_change", args=[item.pk]), {})
    assert response.status_code == 403


def test_calendar_page_lists_upcoming_holidays(admin_client, swept) -> None:
    calendar = BusinessCalendar.objects.get(name=SPANISH_CALENDAR_NAME)
    response = admin_client.get(reverse("admin:sla_businesscalendar_change", args=[calendar.pk]))
    assert "25/12/" in response.content.decode()


def test_breach_list_filters_unanswered(admin_client, swept) -> None:
    response = admin_client.get(
        reverse("admin:sla_slabreach_changelist"), {"answered_at__isnull": "True"}
    )
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


def test_policy_action_queues_a_full_sweep(
    admin_client, swept, django_capture_on_commit_callbacks
) -> None:
    from sla.models import SlaPolicy

    policy = SlaPolicy.objects.get(preset="mediamarkt")
    # At the instant of the last sweep, so the full sweep finds nothing new to alert on.
    with (
        time_machine.travel(NOW, tick=False),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        response = admin_client.post(
            reverse("admin:sla_slapolicy_changelist"),
            {"action": "reschedule_open_items", "_selected_action": [policy.pk]},
        )
    assert response.status_code == 302
    assert len(callbacks) == 1
