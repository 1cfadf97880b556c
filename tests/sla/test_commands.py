"""The sla_deadline and sla_sweep commands."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sla.models import SlaItem
from tests.factories.incidents import IncidentFactory
from tests.sla.conftest import madrid

pytestmark = pytest.mark.django_db


def deadline(code: str, at: str) -> str:
    out = StringIO()
    call_command("sla_deadline", "--marketplace", code, "--at", at, stdout=out)
    return out.getvalue().strip()


def test_deadline_under_pccomponentes_counts_whole_working_days(pccomponentes) -> None:
    # Friday 17:00 + 24 h of working days: 7 h on Friday, the weekend off, 17 h on Monday.
    assert deadline("pcc", "2026-12-04T17:00:00+01:00") == "2026-12-07T17:00:00+01:00"
    # Monday 12:00: 12 h on Monday, Tuesday 8 December is a holiday, 12 h on Wednesday.
    assert deadline("pcc", "2026-12-07T12:00:00+01:00") == "2026-12-09T12:00:00+01:00"


def test_deadline_under_pccomponentes_office_hours(pcc_office_hours) -> None:
    # Friday 17:00 + 24 business hours (Mon–Fri 9–18), Tuesday 8 December is a holiday.
    assert deadline("pcco", "2026-12-04T17:00:00+01:00") == "2026-12-10T14:00:00+01:00"


def test_deadline_under_mediamarkt_counts_every_hour(mediamarkt) -> None:
    assert deadline("mm", "2026-12-04T17:00:00+01:00") == "2026-12-06T17:00:00+01:00"


def test_deadline_is_shown_in_the_policy_time_zone(mediamarkt) -> None:
    # 48 real hours across the autumn switch: 12:00 summer time → 11:00 winter time.
    assert deadline("mm", "2026-10-24T10:00:00Z") == "2026-10-26T11:00:00+01:00"


def test_deadline_reads_a_date_without_offset_in_the_policy_zone(pccomponentes) -> None:
    assert deadline("pcc", "2026-12-04T17:00:00") == "2026-12-07T17:00:00+01:00"


def test_deadline_rejects_an_unknown_marketplace(mediamarkt) -> None:
    with pytest.raises(CommandError, match="Unknown marketplace 'nope'. Known: mm"):
        deadline("nope", "2026-12-04T17:00:00+01:00")


def test_deadline_rejects_a_bad_date(mediamarkt) -> None:
    with pytest.raises(CommandError, match="not an ISO 8601 date"):
        deadline("mm", "4/12/2026 17:00")


def test_sweep_command_prints_counts(mediamarkt) -> None:
    IncidentFactory(
        line__order__connection=mediamarkt,
        connection=mediamarkt,
        opened_at=madrid(2026, 12, 1, 10),
    )
    out = StringIO()

    call_command("sla_sweep", "--now", "2026-12-03T11:00:00+01:00", stdout=out)

    assert out.getvalue().splitlines() == [
        "scanned: 1 incidents, 0 threads",
        "items: 1 created, 0 stopped, 0 rescheduled",
        "now nearing: 0, now breached: 1",
        "breaches: 1 recorded, 0 answered, 0 removed",
    ]
    assert SlaItem.objects.get().state == SlaItem.State.BREACHED


def test_sweep_command_rejects_a_naive_now(db) -> None:
    with pytest.raises(CommandError, match="UTC offset"):
        call_command("sla_sweep", "--now", "2026-12-03T11:00:00", stdout=StringIO())
