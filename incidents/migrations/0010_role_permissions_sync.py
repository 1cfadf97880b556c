"""Give each role group exactly the permissions ``incidents.roles`` lists today.

``0003_roles`` created the groups with the list of its day; the admin role has since
gained what admins configure in the Django admin (SLA policies and calendars, alert
settings, refund limits, canned replies, API tokens). The list is today's
``incidents.roles``: a permission of a model that a later migration creates does not
exist yet on a new database and is left to that migration's own role sync
(``0014_role_permissions_skipped_records``); ``tests/incidents/test_roles.py`` checks
that every role ends up with exactly its list.
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
            if permission is not None:
                wanted.append(permission)
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(wanted)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0009_order_search_document"),
        ("messaging", "0005_drop_message_search_index"),
        ("refunds", "0003_refund_line_guard"),
        ("sla", "0005_slaitem_open_incident_idx"),
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
