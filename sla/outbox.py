"""The outbox adapters of the SLA app: alerts by webhook (Slack/Teams) and by e-mail.

:func:`sla.alerts.alerts_dispatch` records one :class:`~sla.models.AlertDelivery` per
alert with its outbox entry; the engine (:mod:`core.outbox.engine`) sends each after
commit, outside any transaction and row lock, and retries it. Neither a webhook nor an
SMTP server can be asked whether an earlier attempt arrived, so an attempt whose
outcome is unknown is sent again: an alert may, rarely, arrive twice, never zero times.

Webhooks go through the outgoing session (:mod:`core.outbox.http`): a timeout, no
automatic retries, no redirects followed.
"""

from __future__ import annotations

import smtplib
from typing import Any

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.utils import translation
from django.utils.translation import gettext as _

from core.outbox.adapters import Adapter, DeliveryRefused, DeliveryTransient, register
from core.outbox.engine import Attempt
from core.outbox.http import outgoing_session
from core.outbox.kinds import OutboxKind
from core.outbox.models import OutboxEntry
from sla.alerts import (
    alert_message,
    alert_url,
    alert_webhook_text,
    health_subject,
    health_url,
    health_webhook_text,
)
from sla.models import AlertDelivery, SlaItem
from sla.sync_alerts import sync_alert_message, sync_alert_subject

__all__ = ["WEBHOOK_TIMEOUT_SECONDS", "AlertEmailAdapter", "AlertWebhookAdapter"]

WEBHOOK_TIMEOUT_SECONDS = 10.0
#: Attempts before an alert is given up (its last error stays in the admin).
ALERT_MAX_ATTEMPTS = 6


class _AlertAdapter(Adapter):
    """What both channels share: the row, and ``sent_at`` once it went out."""

    max_attempts = ALERT_MAX_ATTEMPTS
    can_check = False

    def load(self, entry: OutboxEntry) -> AlertDelivery | None:
        return (
            AlertDelivery.objects.select_related(
                "item__connection",
                "item__incident__order",
                "item__thread",
                "sync_alert__connection",
                "health_episode__connection",
            )
            .filter(delivery=entry)
            .first()
        )

    def moot(self, row: AlertDelivery) -> bool:
        return row.sent_at is not None

    def on_sent(self, row: AlertDelivery, entry: OutboxEntry, result: Any, *, found: bool) -> None:
        row.sent_at = entry.done_at
        row.save(update_fields=["sent_at"])


@register
class AlertWebhookAdapter(_AlertAdapter):
    """``{"text": ...}`` POSTed to the marketplace's webhook (Slack and Teams read it; the
    values in it escaped for the target's markup)."""

    kind = OutboxKind.SLA_WEBHOOK
    call = "webhook"

    def send(self, attempt: Attempt) -> None:
        delivery: AlertDelivery = attempt.row
        with translation.override(settings.LANGUAGE_CODE):
            if delivery.health_episode is not None:
                text = health_webhook_text(
                    delivery.health_episode, delivery.state, target=delivery.target
                )
            else:
                text = alert_webhook_text(delivery.item, delivery.state, target=delivery.target)
        session = outgoing_session("webhook", WEBHOOK_TIMEOUT_SECONDS)
        try:
            response = session.post(delivery.target, json={"text": text})
        except requests.ConnectionError as exc:
            # Refused or unreachable before the request was read: nothing arrived.
            raise DeliveryTransient(str(exc)[:500], call=self.call) from exc
        except requests.RequestException as exc:
            # A timeout may come after the hook received the post.
            raise DeliveryTransient(str(exc)[:500], call=self.call, outcome_unknown=True) from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        message = (response.text or response.reason or "")[:500]
        if status == 429 or status >= 500:
            raise DeliveryTransient(
                message,
                call=self.call,
                status=status,
                outcome_unknown=status >= 500,
                retry_after=_seconds(response.headers.get("Retry-After")),
            )
        if 300 <= status < 400:
            message = _("the webhook answered with a redirect, which is not followed")
        raise DeliveryRefused(message, call=self.call, status=status)


@register
class AlertEmailAdapter(_AlertAdapter):
    """One e-mail to one person (``target``), in the site's language."""

    kind = OutboxKind.SLA_EMAIL
    call = "e-mail"

    def send(self, attempt: Attempt) -> None:
        delivery: AlertDelivery = attempt.row
        with translation.override(settings.LANGUAGE_CODE):
            if delivery.health_episode is not None:  # shop health
                message = delivery.health_episode.messages.get(delivery.state, "")
                subject = health_subject(delivery.health_episode, delivery.state)
                url = health_url(delivery.health_episode)
            elif delivery.sync_alert is not None:  # a marketplace not syncing, or again
                message = sync_alert_message(delivery.sync_alert, delivery.state)
                subject = sync_alert_subject(delivery.sync_alert, delivery.state)
                url = f"{settings.SITE_URL.rstrip('/')}/"
            else:
                message = alert_message(delivery.item, delivery.state)
                subject = (
                    _("[Incidesk] Deadline missed")
                    if delivery.state == SlaItem.State.BREACHED
                    else _("[Incidesk] Deadline near")
                )
                url = alert_url(delivery.item)
            body = f"{message}\n\n{url}\n"
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [delivery.target])
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryRefused(str(exc)[:500], call=self.call) from exc
        except OSError as exc:  # SMTP errors are OSErrors, like the network's
            raise DeliveryTransient(str(exc)[:500], call=self.call) from exc


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
