"""The roles of the product, as Django groups kept in step with this list.

After every ``migrate`` (``post_migrate``), each role's group gets exactly the
permissions listed here: a permission added to the list, or a model added by a
migration, reaches the groups without a data migration of its own.

- **agent**: works the inbox: reads everything synced, replies, resolves, refunds up
  to a limit, assigns.
- **account manager**: reads what agents read, reviews SLA breaches and KPIs, exports.
- **admin**: configures marketplaces, keys, SLA policies and calendars, quality
  rulebooks, alert settings, refund limits, canned replies, API tokens and users (Django
  admin); asks Mirakl for the shop's figures now ("refresh now", once a day at most).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ROLE_PERMISSIONS", "Role", "roles_sync"]


class Role:
    AGENT = "agent"
    ACCOUNT_MANAGER = "account_manager"
    ADMIN = "admin"


_READ = [
    "core.view_order",
    "core.view_orderline",
    "incidents.view_incident",
    "incidents.view_auditentry",
    "core.view_marketplacereason",
    "messaging.view_thread",
    "messaging.view_message",
    "refunds.view_refund",
]


def _manage(app_label: str, *models: str) -> list[str]:
    """View, add, change and delete permissions of these models (what admins configure)."""
    return [
        f"{app_label}.{action}_{model}"
        for model in models
        for action in ("view", "add", "change", "delete")
    ]


#: Permission codenames ("app_label.codename") of each role.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.AGENT: [
        *_READ,
        "incidents.reply_incident",
        "incidents.resolve_incident",
        "incidents.assign_incident",
        "incidents.refund_incident",
    ],
    Role.ACCOUNT_MANAGER: [
        *_READ,
        "incidents.review_sla",
        "incidents.export_data",
    ],
    Role.ADMIN: [
        *_READ,
        *_manage("core", "marketplaceconnection", "marketplaceaccess"),
        "core.view_synccursor",
        "core.view_syncrun",
        "core.view_skippedrecord",
        "core.view_outboxentry",
        "incidents.view_resolutionrequest",
        "incidents.review_sla",
        "incidents.export_data",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
        "authtoken.view_tokenproxy",
        "authtoken.add_tokenproxy",
        "authtoken.delete_tokenproxy",
        *_manage("sla", "businesscalendar", "workingperiod", "closedday", "slapolicy"),
        *_manage("sla", "alertsettings"),
        *_manage("sla", "rulebook", "rulebookthreshold"),
        "sla.view_rulebookversion",
        "core.view_shopaccountsnapshot",
        "sla.view_shopstatisticssnapshot",
        "sla.view_dailycall",
        "sla.refresh_dailycall",
        "sla.view_healthepisode",
        "sla.view_slaitem",
        "sla.view_slabreach",
        "sla.view_alertdelivery",
        *_manage("refunds", "refundlimit"),
        *_manage("messaging", "cannedreply"),
        "messaging.view_outboundmessage",
        "messaging.view_threadnoreply",
        "django_celery_beat.view_periodictask",
        "django_celery_beat.change_periodictask",
        "django_celery_beat.view_intervalschedule",
        "django_celery_beat.change_intervalschedule",
    ],
}


def roles_sync(*, using: str = "default", apps: Any = None, **kwargs: Any) -> None:
    """Give each role's group exactly the permissions :data:`ROLE_PERMISSIONS` lists.

    Connected to ``post_migrate`` (it runs once per migrated app: cheap, idempotent).
    Permissions Django has not created yet (a model of an app not migrated yet) are
    left to the next call.
    """
    if apps is None:
        from django.apps import apps
    try:
        Group = apps.get_model("auth", "Group")
        Permission = apps.get_model("auth", "Permission")
    except LookupError:  # auth not migrated (yet)
        return
    wanted_names = {name for names in ROLE_PERMISSIONS.values() for name in names}
    by_name = {
        f"{app_label}.{codename}": pk
        for pk, app_label, codename in Permission.objects.using(using)
        .filter(codename__in={name.split(".", 1)[1] for name in wanted_names})
        .values_list("pk", "content_type__app_label", "codename")
    }
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        group.permissions.set([by_name[name] for name in names if name in by_name])
