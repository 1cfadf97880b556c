"""Calendars, policies and presets; constraints of the SLA tables."""

from datetime import UTC, date, time, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import translation

from sla.business_hours import (
    MON_FRI_9_18,
    MON_FRI_WHOLE_DAYS,
    WHOLE_WEEK,
    Calendar,
    add_business_time,
)
from sla.calendars import calendar_from_model
from sla.models import BusinessCalendar, SlaPolicy
from sla.policies import (
    FALLBACK_RULE,
    SPANISH_CALENDAR_NAME,
    WORKING_DAYS_CALENDAR_NAME,
    DeadlineRule,
    policy_for,
    presets_install,
    rule_for,
    rule_from_policy,
)
from sla.sweep import item_state
from tests.factories.core import MarketplaceConnectionFactory
from tests.factories.sla import (
    BusinessCalendarFactory,
    ClosedDayFactory,
    SlaBreachFactory,
    SlaItemFactory,
    SlaPolicyFactory,
    SweepStateFactory,
    WorkingPeriodFactory,
)
from tests.sla.conftest import madrid

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)


def test_the_migration_ships_the_presets() -> None:
    policies = {p.preset: p for p in SlaPolicy.objects.select_related("calendar")}
    assert set(policies) == {"pccomponentes", "pccomponentes_office_hours", "mediamarkt", "default"}
    pcc = policies["pccomponentes"]
    assert (pcc.clock, pcc.reply_hours, pcc.warn_fraction, pcc.warn_hours) == (
        "business",
        24,
        None,
        4,
    )
    assert pcc.calendar.name == WORKING_DAYS_CALENDAR_NAME
    assert calendar_from_model(pcc.calendar) == Calendar(week=MON_FRI_WHOLE_DAYS, country="ES")
    assert pcc.close_after_days == 5
    office = policies["pccomponentes_office_hours"]
    assert (office.clock, office.reply_hours, office.warn_fraction) == (
        "business",
        24,
        Decimal("0.25"),
    )
    assert office.calendar.name == SPANISH_CALENDAR_NAME
    assert calendar_from_model(office.calendar) == Calendar(week=MON_FRI_9_18, country="ES")
    mm = policies["mediamarkt"]
    assert (mm.clock, mm.reply_hours, mm.calendar) == ("wall", 48, None)
    assert policies["default"].reply_within == 48 * H


def test_installing_the_presets_again_keeps_edits() -> None:
    SlaPolicy.objects.filter(preset="mediamarkt").update(reply_hours=Decimal(36))
    presets_install()
    assert SlaPolicy.objects.count() == 4
    assert SlaPolicy.objects.get(preset="mediamarkt").reply_hours == 36


def test_calendar_from_rows_with_whole_days_split_shifts_and_closed_days() -> None:
    calendar = BusinessCalendarFactory(
        subdivision="MD",
        hours={
            0: [(time(9), time(14)), (time(13), time(18))],  # overlapping: joined
            5: [(time(0), time(0))],  # the whole Saturday
        },
    )
    ClosedDayFactory(calendar=calendar, date=date(2026, 12, 14))

    built = calendar_from_model(calendar)

    assert built.week == (((32400, 64800),), (), (), (), (), ((0, 86400),), ())
    assert built.subdivision == "MD"
    assert built.closed_dates == frozenset({date(2026, 12, 14)})
    assert built is calendar_from_model(
        BusinessCalendar.objects.get(pk=calendar.pk)
    )  # interned: shared caches
    # From Friday: all of Saturday 5, Monday 7 is a Madrid holiday, all of Saturday 12,
    # Monday 14 is closed, so the last hour is on Saturday 19.
    start = madrid(2026, 12, 4, 12)
    assert add_business_time(start, 49 * H, calendar=built) == madrid(2026, 12, 19, 1)


def test_working_period_constraints() -> None:
    calendar = BusinessCalendarFactory(hours={})
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkingPeriodFactory(calendar=calendar, start_time=time(18), end_time=time(9))
    WorkingPeriodFactory(calendar=calendar, start_time=time(22), end_time=time(0))
    with translation.override("en"):
        assert str(calendar.periods.get()) == "Monday 22:00–24:00"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"time_zone": "Europe/Nowhere"}, "time_zone"),
        ({"country": "", "subdivision": "MD"}, "subdivision"),
        ({"country": "XX"}, "country"),
        ({"subdivision": "ZZ"}, "subdivision"),
    ],
)
def test_calendar_validation(fields: dict, error: str) -> None:
    calendar = BusinessCalendar(name="x", **fields)
    with pytest.raises(ValidationError) as excinfo:
        calendar.full_clean()
    assert error in excinfo.value.message_dict


def test_policy_validation_and_constraints() -> None:
    policy = SlaPolicy(name="x", preset="default", clock="business", reply_hours=Decimal(24))
    with pytest.raises(ValidationError, match="calendar"):
        policy.clean()
    policy = SlaPolicy(
        name="x",
        preset="default",
        clock="wall",
        reply_hours=Decimal(24),
        warn_fraction=Decimal("0.2"),
        warn_hours=Decimal(2),
    )
    with translation.override("en"), pytest.raises(ValidationError, match="not both"):
        policy.clean()
    SlaPolicy.objects.filter(preset="default").delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        policy.save()


def test_rules_from_policies() -> None:
    pcc = rule_from_policy(SlaPolicy.objects.get(preset="pccomponentes"))
    assert pcc.clock == "business"
    assert pcc.due(madrid(2026, 12, 4, 17)) == madrid(2026, 12, 7, 17)
    # Warning at 20 h: 7 h on Friday, 13 h on Monday.
    assert pcc.due_and_warn(madrid(2026, 12, 4, 17)) == (
        madrid(2026, 12, 7, 17),
        madrid(2026, 12, 7, 13),
    )
    office = rule_from_policy(SlaPolicy.objects.get(preset="pccomponentes_office_hours"))
    assert office.due_and_warn(madrid(2026, 12, 4, 17)) == (
        madrid(2026, 12, 10, 14),
        madrid(2026, 12, 9, 17),
    )
    hours = SlaPolicyFactory(
        preset="default", reply_hours=Decimal(10), warn_fraction=None, warn_hours=Decimal(4)
    )
    SlaPolicy.objects.filter(pk=hours.pk).update(
        reply_hours=Decimal(10), warn_fraction=None, warn_hours=Decimal(4)
    )
    hours.refresh_from_db()
    rule = rule_from_policy(hours)
    start = madrid(2026, 10, 24, 20)
    utc = start.astimezone(UTC)
    assert rule.due_and_warn(start) == (utc + 10 * H, utc + 6 * H)
    assert rule.due(start).isoformat() == "2026-10-25T05:00:00+01:00"  # real hours over DST


def test_deadlines_in_microseconds_are_the_datetimes_ones() -> None:
    from sla.business_hours import MON_FRI_WHOLE_DAYS, from_us, to_us

    rules = [
        DeadlineRule(
            clock="business",
            reply_within=24 * H,
            calendar=Calendar(week=MON_FRI_WHOLE_DAYS),
            warn_before=4 * H,
        ),
        DeadlineRule(
            clock="business", reply_within=24 * H, calendar=Calendar(), warn_fraction=0.25
        ),
        DeadlineRule(clock="wall", reply_within=48 * H, warn_fraction=0.25),
    ]
    start = madrid(2026, 10, 20, 8, 17)
    for step in range(400):  # every 37 minutes over ten days, across the autumn change
        moment = start + step * timedelta(minutes=37)
        for rule in rules:
            due, warn = rule.due_and_warn_us(to_us(moment))
            assert (from_us(due), from_us(warn)) == rule.due_and_warn(moment)


def test_rule_warning_windows() -> None:
    wall = timedelta(hours=48)
    assert DeadlineRule(clock="wall", reply_within=wall).warn_offset == wall
    assert DeadlineRule(clock="wall", reply_within=wall, warn_fraction=0.25).warn_offset == 36 * H
    assert DeadlineRule(clock="wall", reply_within=wall, warn_before=60 * H).warn_offset == (
        timedelta(0)
    )
    business = DeadlineRule(
        clock="business",
        reply_within=24 * H,
        calendar=Calendar(week=WHOLE_WEEK, country=None),
        warn_before=2 * H,
    )
    start = madrid(2026, 12, 4, 17)
    assert business.due_and_warn(start) == (start + 24 * H, start + 22 * H)
    with pytest.raises(ValueError, match="calendar"):
        DeadlineRule(clock="business", reply_within=24 * H)
    with pytest.raises(ValueError, match="positive"):
        DeadlineRule(clock="wall", reply_within=timedelta(0))


def test_policy_for_a_connection() -> None:
    pcc = MarketplaceConnectionFactory(code="pcc", sla_policy="pccomponentes")
    assert policy_for(pcc).preset == "pccomponentes"
    assert rule_for(pcc).clock == "business"
    SlaPolicy.objects.all().delete()
    # Cached for a minute per process...
    assert policy_for(pcc).preset == "pccomponentes"
    from sla.policies import clear_cache

    clear_cache()
    # ...then nothing: the built-in fallback.
    assert policy_for(pcc) is None
    assert rule_for(pcc) == FALLBACK_RULE


def test_an_item_is_about_one_thing() -> None:
    item = SlaItemFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        SlaItemFactory(kind="thread", incident=item.incident, connection=item.connection)
    with pytest.raises(IntegrityError), transaction.atomic():
        SlaItemFactory(incident=item.incident, started_at=item.started_at)  # same wait twice
    with pytest.raises(IntegrityError), transaction.atomic():
        SlaItemFactory(state="stopped")  # stopped needs stopped_at
    thread_item = SlaItemFactory(for_thread=True)
    assert thread_item.kind == "thread"
    assert thread_item.is_open
    assert (
        item_state(
            now=thread_item.due_at + H,
            due_at=thread_item.due_at,
            warn_at=thread_item.warn_at,
            stopped_at=thread_item.stopped_at,
        )
        == "breached"
    )


def test_a_breach_per_item_only() -> None:
    breach = SlaBreachFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        SlaBreachFactory(item=breach.item)
    assert breach.lateness(now=breach.due_at + 2 * H) == 2 * H


def test_sweep_state_is_one_row() -> None:
    assert SweepStateFactory() == SweepStateFactory()


def test_expected_close_counts_working_days_or_calendar_days() -> None:
    pcc = rule_from_policy(SlaPolicy.objects.get(preset="pccomponentes"))
    # Friday 4 December 12:00 + 5 working days: Mon 7, Wed 9, Thu 10, Fri 11, Mon 14.
    assert pcc.expected_close(madrid(2026, 12, 4, 12)) == madrid(2026, 12, 14, 12)
    mm = rule_from_policy(SlaPolicy.objects.get(preset="mediamarkt"))
    assert mm.expected_close(madrid(2026, 12, 4, 12)) == madrid(2026, 12, 9, 12)
    SlaPolicy.objects.filter(preset="mediamarkt").update(close_after_days=2)
    mm = rule_from_policy(SlaPolicy.objects.get(preset="mediamarkt"))
    assert mm.expected_close(madrid(2026, 10, 24, 12)) == madrid(2026, 10, 26, 12)  # over DST


@pytest.mark.parametrize(
    ("preset", "spanish", "english"),
    [
        ("pccomponentes", "24 h en días laborables", "24 h on working days"),
        (
            "pccomponentes_office_hours",
            "24 horas laborables (lun–vie 9:00–18:00)",
            "24 working hours (Mon–Fri 9:00–18:00)",
        ),
        ("mediamarkt", "48 h naturales", "48 h, every hour counting"),
    ],
)
def test_policy_summary_in_words(preset: str, spanish: str, english: str) -> None:
    from sla.policies import policy_summary

    policy = SlaPolicy.objects.select_related("calendar").get(preset=preset)
    with translation.override("es"):
        assert policy_summary(policy) == spanish
    with translation.override("en"):
        assert policy_summary(policy) == english
