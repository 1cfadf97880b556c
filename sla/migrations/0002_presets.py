"""Ship the marketplace presets: a Spanish business calendar and three policies."""

from django.db import migrations


def install(apps, schema_editor):
    from sla.policies import presets_install

    presets_install(apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("sla", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(install, migrations.RunPython.noop),
    ]
