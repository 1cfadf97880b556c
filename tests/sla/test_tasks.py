"""The beat task and its schedule."""

from datetime import timedelta

import pytest
from django.conf import settings

from sla.models import SlaItem
from sla.tasks import sla_sweep_task
from tests.factories.incidents import IncidentFactory

pytestmark = pytest.mark.django_db


def test_the_task_runs_the_sweep(mediamarkt) -> None:
    IncidentFactory(line__order__connection=mediamarkt, connection=mediamarkt)

    result = sla_sweep_task.apply().get()

    assert result["created"] == 1
    assert SlaItem.objects.count() == 1


def test_beat_runs_it_every_minute_and_drops_stale_runs() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["sla-sweep"]
    assert entry["task"] == sla_sweep_task.name
    assert entry["schedule"] == timedelta(seconds=60)
    assert entry["options"] == {"expires": 60}
