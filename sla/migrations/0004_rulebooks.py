"""Ship the quality rulebooks of the marketplace presets (``sla.health.rulebook``), move
the KPI thresholds typed on SLA policies into them, then drop those fields.

``SlaPolicy.max_incident_rate`` ("above which the marketplace suspends the shop") becomes
the rulebook's incident rate limit (``>``), ``max_active_incidents_avg`` its active
incidents limit (``>``), where the rulebook does not set them already. Each copy is a
rulebook version noted "from the SLA policy".
"""

from django.db import migrations


def install(apps, schema_editor):
    from sla.health.rulebook import rulebooks_install

    rulebooks_install(apps=apps)


def copy_thresholds(apps, schema_editor):
    from sla.health.rulebook import rulebook_rules, rulebook_version_record

    policy_model = apps.get_model("sla", "SlaPolicy")
    book_model = apps.get_model("sla", "Rulebook")
    version_model = apps.get_model("sla", "RulebookVersion")
    for policy in policy_model.objects.all():
        wanted = {
            "incident_rate": policy.max_incident_rate,
            "active_incidents": policy.max_active_incidents_avg,
        }
        wanted = {key: value for key, value in wanted.items() if value is not None}
        book = book_model.objects.filter(preset=policy.preset).first()
        if not wanted or book is None:
            continue
        before = rulebook_rules(book)
        changed = False
        for criterion, value in wanted.items():
            row = book.thresholds.filter(criterion=criterion).first()
            if row is None or row.limit_state == "set":
                continue
            row.limit_state, row.limit_value, row.limit_comparison = "set", value, ">"
            row.save(update_fields=["limit_state", "limit_value", "limit_comparison"])
            changed = True
        if changed:
            rulebook_version_record(
                rulebook=book,
                actor=None,
                before=before,
                note="from the SLA policy",
                version_model=version_model,
            )


class Migration(migrations.Migration):
    dependencies = [
        ("sla", "0003_shop_health"),
    ]

    operations = [
        migrations.RunPython(install, migrations.RunPython.noop),
        migrations.RunPython(copy_thresholds, migrations.RunPython.noop),
        migrations.RemoveField(model_name="slapolicy", name="max_active_incidents_avg"),
        migrations.RemoveField(model_name="slapolicy", name="max_incident_rate"),
    ]
