"""Give the admin role the view of the skipped records table (``incidents.roles``).

Like ``0010_role_permissions_sync``: each role group gets exactly the permissions
``incidents.roles`` lists today (those of models not created yet are left to the
migration that creates them).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from incidents.roles import ROLE_PERMISSIONS


def sync_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        wanted = []
        for name in names:
            app_label, codename = name.split(".")
            permission = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if permission is not None:  # a later migration's model: its own sync adds it
                wanted.append(permission)
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(wanted)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0013_skipped_records"),
        ("sla", "0005_slaitem_open_incident_idx"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
