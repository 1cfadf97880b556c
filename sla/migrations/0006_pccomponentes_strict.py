"""PcComponentes' strict reading becomes ``pccomponentes``; the 9:00-18:00 one moves to
``pccomponentes_office_hours``; open deadlines of the connections on ``pccomponentes``
are computed again with the strict clock.

A database made before: its ``pccomponentes`` policy is the 9:00-18:00 reading (as
shipped, or as the admin edited it). That row keeps its settings and becomes
``pccomponentes_office_hours``; a new ``pccomponentes`` row counts 24 h on working
days (Monday to Friday, 00:00-24:00, Spain's national holidays), warning at 20 h.
Connections keep the code ``pccomponentes``, so they move to the strict reading, and
their open waits get the strict due and warning times. The next sweep moves their
states forward (nearing, breached) and records the breaches and alerts as usual.
A new database already has both presets (``0002``): nothing moves.
"""

from datetime import timedelta

from django.db import migrations
from django.db.models import OuterRef, Subquery

OFFICE_HOURS = "pccomponentes_office_hours"
STRICT = "pccomponentes"


def _rule(policy):
    """The deadline rule of a historical policy row (its calendar's rows read here:
    historical models have no methods)."""
    from sla.business_hours import Calendar
    from sla.policies import DeadlineRule

    calendar = None
    if policy.calendar_id:
        week = [[] for _ in range(7)]
        for period in policy.calendar.periods.all():
            start = period.start_time.hour * 3600 + period.start_time.minute * 60
            end = period.end_time.hour * 3600 + period.end_time.minute * 60 or 86_400
            week[period.weekday].append((start, end))
        calendar = Calendar(
            week=tuple(tuple(sorted(day)) for day in week),
            time_zone=policy.calendar.time_zone,
            country=policy.calendar.country or None,
            subdivision=policy.calendar.subdivision or None,
            closed_dates=frozenset(day.date for day in policy.calendar.closed_days.all()),
        )
    return DeadlineRule(
        clock=policy.clock,
        reply_within=timedelta(hours=float(policy.reply_hours)),
        calendar=calendar,
        warn_fraction=None if policy.warn_fraction is None else float(policy.warn_fraction),
        warn_before=None if policy.warn_hours is None else timedelta(hours=float(policy.warn_hours)),
        policy_id=policy.pk,
    )


def forwards(apps, schema_editor):
    from sla.policies import PRESETS, preset_install

    policy_model = apps.get_model("sla", "SlaPolicy")
    connection_model = apps.get_model("core", "MarketplaceConnection")
    item_model = apps.get_model("sla", "SlaItem")
    incident_model = apps.get_model("incidents", "Incident")

    old = policy_model.objects.filter(preset=STRICT).first()
    if old is None or policy_model.objects.filter(preset=OFFICE_HOURS).exists():
        for spec in PRESETS:
            preset_install(apps=apps, spec=spec)
        return
    old.preset = OFFICE_HOURS
    if old.name == "PcComponentes":
        old.name = "PcComponentes (horario de oficina)"
    old.save(update_fields=["preset", "name"])
    specs = {spec.preset: spec for spec in PRESETS}
    strict = preset_install(apps=apps, spec=specs[STRICT])
    for spec in PRESETS:
        preset_install(apps=apps, spec=spec)

    strict = policy_model.objects.select_related("calendar").get(pk=strict.pk)
    rule = _rule(strict)
    connections = list(
        connection_model.objects.filter(sla_policy=STRICT).values_list("pk", flat=True)
    )
    items = item_model.objects.filter(connection_id__in=connections, stopped_at__isnull=True)
    changed = []
    for item in items.iterator(chunk_size=2000):
        due_at, warn_at = rule.due_and_warn(item.started_at)
        item.due_at, item.warn_at, item.policy_id = due_at, warn_at, strict.pk
        changed.append(item)
        if len(changed) >= 2000:
            item_model.objects.bulk_update(changed, ["due_at", "warn_at", "policy_id"])
            changed = []
    if changed:
        item_model.objects.bulk_update(changed, ["due_at", "warn_at", "policy_id"])
    # The inbox's copy of each incident's open due time.
    incident_model.objects.filter(connection_id__in=connections, closed_at__isnull=True).update(
        reply_due_at=Subquery(
            item_model.objects.filter(
                kind="incident", incident=OuterRef("pk"), stopped_at__isnull=True
            )
            .order_by("due_at")
            .values("due_at")[:1]
        )
    )


def backwards(apps, schema_editor):
    policy_model = apps.get_model("sla", "SlaPolicy")
    office = policy_model.objects.filter(preset=OFFICE_HOURS).first()
    if office is None:
        return
    policy_model.objects.filter(preset=STRICT).delete()
    office.preset = STRICT
    office.save(update_fields=["preset"])


class Migration(migrations.Migration):
    dependencies = [
        ("sla", "0005_slapolicy_close_after_days"),
        ("core", "0004_alter_marketplaceconnection_sla_policy"),
        ("incidents", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]

