"""Sync alerts: admins told when a marketplace stops syncing, and when it syncs again.

:func:`sync_alerts_dispatch` runs every minute (:func:`sla.tasks.sync_alerts_task`):
one :class:`~sla.models.SyncAlert` per episode, an in-app notification and an e-mail
(an outbox entry, sent by :mod:`sla.outbox`) to every admin when it starts and when the
marketplace syncs again. The deadline alerts, which share the channels, are in
:mod:`sla.alerts`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.locks import AdvisoryLock, advisory_xact_lock
from core.models import MarketplaceConnection
from core.outbox.engine import outbox_enqueue_many
from core.outbox.kinds import OutboxKind
from core.roles import Role
from core.sync.health import ConnectionHealth, connections_health, data_age_text
from sla.alerts import DispatchResult
from sla.models import AlertDelivery, Notification, SyncAlert

__all__ = ["sync_alert_message", "sync_alert_subject", "sync_alerts_dispatch"]

logger = logging.getLogger(__name__)

Channel = AlertDelivery.Channel
Event = SyncAlert.Event


def sync_alert_message(alert: SyncAlert, event: str, *, now: datetime | None = None) -> str:
    """The one-line text of a sync alert, in the active language, times in Madrid."""
    name = alert.connection.name
    if event == Event.RECOVERED:
        return _("%(marketplace)s is syncing again (it had stopped syncing at %(since)s).") % {
            "marketplace": name,
            "since": _madrid(alert.last_success_at or alert.opened_at),
        }
    since = alert.last_success_at
    if since is None:
        text = _("%(marketplace)s has never synced successfully.") % {"marketplace": name}
    else:
        text = _("%(marketplace)s has not synced successfully since %(since)s (%(age)s).") % {
            "marketplace": name,
            "since": _madrid(since),
            "age": data_age_text((now or alert.opened_at) - since),
        }
    if alert.error:
        text = f"{text} {alert.error}"
    return text


def sync_alert_subject(alert: SyncAlert, event: str) -> str:
    if event == Event.RECOVERED:
        return _("[Incidesk] %(marketplace)s is syncing again") % {
            "marketplace": alert.connection.name
        }
    return _("[Incidesk] %(marketplace)s is not syncing") % {"marketplace": alert.connection.name}


def _madrid(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%d/%m/%Y %H:%M")


def _admins() -> list[Any]:
    """Who hears of a marketplace that stopped syncing: admins and superusers."""
    return list(
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(groups__name=Role.ADMIN) | Q(is_superuser=True))
        .distinct()
        .order_by("pk")
    )


def _health_error(health: ConnectionHealth) -> str:
    return " ".join(
        f"{resource.label}: {resource.error}" for resource in health.resources if resource.error
    )


def sync_alerts_dispatch(*, now: datetime | None = None) -> DispatchResult:
    """Alert admins of every marketplace that has not synced successfully for
    ``SYNC_STALE_ALERT``, and tell them when it syncs again; each once per episode.

    Under an advisory lock, so two runs never open an episode twice (the open episode
    is also unique per marketplace in the database).
    """
    now = now or timezone.now()
    result = DispatchResult(emails=[], webhooks=[])
    with transaction.atomic(), translation.override(settings.LANGUAGE_CODE):
        advisory_xact_lock(AdvisoryLock.SYNC_ALERTS)
        connections = list(MarketplaceConnection.objects.order_by("name"))
        open_alerts = {
            alert.connection_id: alert
            for alert in SyncAlert.objects.filter(recovered_at__isnull=True).select_related(
                "connection"
            )
        }
        events: list[tuple[SyncAlert, str]] = []
        for health in connections_health(connections=connections, now=now):
            connection = health.connection
            alert = open_alerts.get(connection.pk)
            if alert is None:
                if health.stale:
                    alert = SyncAlert.objects.create(
                        connection=connection,
                        opened_at=now,
                        last_success_at=health.last_success_at,
                        error=_health_error(health),
                    )
                    events.append((alert, Event.STALE))
                continue
            if not connection.is_active:
                alert.recovered_at = now  # disabled: nothing to recover from
                alert.save(update_fields=["recovered_at"])
            elif (
                not health.stale
                and health.last_success_at is not None
                and health.last_success_at > alert.opened_at
            ):
                alert.recovered_at = now
                alert.save(update_fields=["recovered_at"])
                events.append((alert, Event.RECOVERED))
        if not events:
            return result
        admins = _admins()
        notifications: list[Notification] = []
        deliveries: list[AlertDelivery] = []
        for alert, event in events:
            message = sync_alert_message(alert, event, now=now)
            kind = (
                Notification.Kind.SYNC_RECOVERED
                if event == Event.RECOVERED
                else Notification.Kind.SYNC_STALE
            )
            for user in admins:
                notifications.append(
                    Notification(user=user, kind=kind, message=message, created_at=now)
                )
                deliveries.append(
                    AlertDelivery(
                        sync_alert=alert,
                        state=event,
                        channel=Channel.IN_APP,
                        user=user,
                        sent_at=now,
                    )
                )
                if user.email:
                    deliveries.append(
                        AlertDelivery(
                            sync_alert=alert,
                            state=event,
                            channel=Channel.EMAIL,
                            user=user,
                            target=user.email,
                        )
                    )
        emails = [d for d in deliveries if d.channel == Channel.EMAIL]
        entries = outbox_enqueue_many(
            kind=OutboxKind.SLA_EMAIL, group_keys=[""] * len(emails), now=now
        )
        for delivery, entry in zip(emails, entries, strict=True):
            delivery.delivery = entry
        created = AlertDelivery.objects.bulk_create(deliveries)
        Notification.objects.bulk_create(notifications)
        result.notifications = len(notifications)
        result.emails = [d.pk for d in created if d.channel == Channel.EMAIL]
    for alert, event in events:
        logger.warning(
            "Sync alert (%s) for %s: %d admin(s) told", event, alert.connection.code, len(admins)
        )
    return result
