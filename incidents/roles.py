"""The roles of the product, as Django groups created by a migration.

- **agent**: works the inbox: reads everything synced, replies, resolves, refunds up
  to a limit, assigns.
- **account manager**: reads what agents read, reviews SLA breaches and KPIs, exports.
- **admin**: configures marketplaces, keys, SLA policies and calendars, alert settings,
  refund limits, canned replies, API tokens and users (Django admin).
"""

from __future__ import annotations

__all__ = ["ROLE_PERMISSIONS", "Role"]


class Role:
    AGENT = "agent"
    ACCOUNT_MANAGER = "account_manager"
    ADMIN = "admin"


_READ = [
    "incidents.view_order",
    "incidents.view_orderline",
    "incidents.view_incident",
    "incidents.view_auditentry",
    "incidents.view_marketplacereason",
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
        "incidents.view_marketplaceconnection",
        "incidents.add_marketplaceconnection",
        "incidents.change_marketplaceconnection",
        "incidents.delete_marketplaceconnection",
        "incidents.view_synccursor",
        "incidents.view_syncrun",
        "incidents.view_skippedrecord",
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
