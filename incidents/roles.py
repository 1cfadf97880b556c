"""The roles of the product, as Django groups created by a migration.

- **agent**: works the inbox: reads everything synced, replies, resolves, refunds up
  to a limit, assigns.
- **account manager**: reads what agents read, reviews SLA breaches and KPIs, exports.
- **admin**: configures marketplaces, keys, policies and users (Django admin).
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
        "incidents.review_sla",
        "incidents.export_data",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
        "django_celery_beat.view_periodictask",
        "django_celery_beat.change_periodictask",
        "django_celery_beat.view_intervalschedule",
        "django_celery_beat.change_intervalschedule",
    ],
}
