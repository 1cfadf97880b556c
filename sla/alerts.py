"""Deadline alerts: who hears about an item turning nearing or breached, and how.

The sweep sends :data:`sla.signals.sla_state_changed` after its transaction;
:func:`on_sla_state_changed` only queues :func:`sla.tasks.sla_alerts_task`. That task
calls :func:`alerts_dispatch`, which, under an advisory lock, records one
:class:`~sla.models.AlertDelivery` per item, state, channel and recipient (unique
constraints), creates the in-app notifications, and gives each e-mail and webhook post
an outbox entry: the outbox sends them after commit, outside any transaction, and
retries them (:mod:`sla.outbox`). A second run finds the rows and does nothing, so
nobody is alerted twice.

Recipients of an item: its incident's assignee (for a message, the assignee of an
open incident on the same order), else every active agent; plus every active account
manager; of these, only the users who see the item's marketplace (scoped to it, or not
scoped: :mod:`core.scoping`). Account managers of a
marketplace with the daily digest on get no e-mail per item, only the digest
(:func:`alerts_digest_send`).

Marketplaces that stop syncing go through the same channels: :mod:`sla.sync_alerts`.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.locks import AdvisoryLock, advisory_xact_lock
from core.outbox.engine import outbox_enqueue_many
from core.outbox.kinds import OutboxKind
from core.roles import Role
from core.scoping import scoped_user_ids
from incidents.models import Incident, IncidentAssignment
from refunds.approvals import refund_approvers
from refunds.rules import money_text
from sla.models import (
    AlertDelivery,
    AlertSettings,
    DigestDay,
    Notification,
    SlaItem,
)
from sla.subjects import wait_order_number, wait_path, wait_reason_label
from sla.tasks import sla_alerts_task

__all__ = [
    "ALERT_STATES",
    "DispatchResult",
    "alert_message",
    "alert_url",
    "alert_webhook_text",
    "alerts_digest_send",
    "health_subject",
    "health_url",
    "health_webhook_text",
    "alerts_dispatch",
    "digest_items",
    "incident_contested_notify",
    "incident_watch_notify",
    "on_refund_awaiting_approval",
    "refund_approval_notify",
    "notifications_mark_read",
    "notifications_unread_count",
    "on_incidents_written_after_resolved",
    "on_sla_state_changed",
]

logger = logging.getLogger(__name__)

State = SlaItem.State
Channel = AlertDelivery.Channel
ALERT_STATES = (State.NEARING, State.BREACHED)


@dataclass(slots=True)
class DispatchResult:
    """What one dispatch created (zero everywhere when it had all been done)."""

    notifications: int = 0
    emails: list[int] | None = None
    webhooks: list[int] | None = None


def on_sla_state_changed(sender, changes, now, **kwargs) -> None:
    """Queue the alerts of a sweep's changes once the current transaction commits."""

    pairs = [[c.item_id, c.state] for c in changes if c.state in ALERT_STATES]
    if pairs:
        # Robust: a broker outage must not fail the sweep, which has committed already.
        transaction.on_commit(lambda: sla_alerts_task.delay(pairs), robust=True)


def _assignees(items: Sequence[SlaItem]) -> dict[int, int]:
    """Item id → assigned user id, for the items that have one (one query)."""
    incident_ids = {i.incident_id for i in items if i.incident_id}
    order_ids = {i.thread.order_id for i in items if i.thread_id and i.thread.order_id}
    rows = IncidentAssignment.objects.filter(
        Q(incident_id__in=incident_ids)
        | Q(incident__order_id__in=order_ids, incident__closed_at__isnull=True)
    ).values_list("incident_id", "incident__order_id", "assignee_id", "assignee__is_active")
    by_incident: dict[int, int] = {}
    by_order: dict[int, int] = {}
    for incident_id, order_id, user_id, active in rows:
        if not active:
            continue
        by_incident[incident_id] = user_id
        by_order.setdefault(order_id, user_id)
    result = {}
    for item in items:
        if item.incident_id and item.incident_id in by_incident:
            result[item.pk] = by_incident[item.incident_id]
        elif item.thread_id and item.thread.order_id in by_order:
            result[item.pk] = by_order[item.thread.order_id]
    return result


def _sees(scopes: dict[int, frozenset[int]], user_id: int, connection_id: int) -> bool:
    """Whether a user (scoped or not, :func:`core.scoping.scoped_user_ids`) sees it."""
    scope = scopes.get(user_id)
    return scope is None or connection_id in scope


def _group_users(name: str) -> QuerySet:
    return get_user_model().objects.filter(groups__name=name, is_active=True).distinct()


def alert_url(item: SlaItem) -> str:
    """The page where the wait is answered: the incident's, or the order's at the
    conversation (:func:`sla.subjects.wait_path`)."""
    base = getattr(settings, "SITE_URL", "").rstrip("/")
    return base + wait_path(incident_id=item.incident_id, thread=item.thread)


def alert_message(item: SlaItem, state: str, *, escape: Any = str) -> str:
    """The one-line text of an alert, in the active language, times in Madrid.

    ``escape`` is applied to every value that comes from outside (the order id, the
    conversation's subject, the marketplace's name) before it goes into the text."""
    due = timezone.localtime(item.due_at).strftime("%d/%m/%Y %H:%M")
    order = wait_order_number(incident=item.incident, thread=item.thread)
    reason = wait_reason_label(incident=item.incident, thread=item.thread)
    if item.incident_id and reason:
        subject = _("incident “%(reason)s” on order %(order)s") % {
            "reason": escape(reason),
            "order": escape(order),
        }
    elif item.incident_id:
        subject = _("incident on order %(order)s") % {"order": escape(order)}
    elif order:
        subject = _("message “%(topic)s” on order %(order)s") % {
            "topic": escape(reason or _("Conversation")),
            "order": escape(order),
        }
    else:
        subject = _("message “%(topic)s”") % {"topic": escape(reason or str(item.thread))}
    if state == State.BREACHED:
        text = _("Deadline missed: %(subject)s on %(marketplace)s was due %(due)s.")
    else:
        text = _("Deadline near: %(subject)s on %(marketplace)s is due %(due)s.")
    return text % {"subject": subject, "marketplace": escape(item.connection.name), "due": due}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def slack_escape(text: str) -> str:
    """A value for Slack's ``mrkdwn``: one line, ``&``, ``<`` and ``>`` as entities, so
    it cannot make a link (``<https://evil|Abrir>``) or a mention (``<!channel>``)."""
    return _one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


#: What Markdown reads as formatting, a link or an image inside a line.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#~|!])")


def teams_escape(text: str) -> str:
    """A value for Teams (Markdown with some HTML): one line, HTML's special characters as
    entities and Markdown's escaped, so it cannot make a link, an image or markup."""
    text = _one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _is_slack(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "slack.com" or host.endswith(".slack.com")


def alert_webhook_text(item: SlaItem, state: str, *, target: str) -> str:
    """The webhook's text, its values escaped for the target's markup: Slack's
    ``mrkdwn`` for a Slack URL, Teams' Markdown for any other (Teams, Power Automate)."""
    escape = slack_escape if _is_slack(target) else teams_escape
    return f"{alert_message(item, state, escape=escape)} {alert_url(item)}"


def health_url(episode: Any) -> str:
    """The marketplace's health page, for shop health alerts."""
    base = getattr(settings, "SITE_URL", "").rstrip("/")
    return f"{base}/sla/health/{episode.connection.code}/"


def health_subject(episode: Any, event: str) -> str:
    """The e-mail subject of a shop health announcement (:mod:`sla.health.watchdog`)."""
    values = {"marketplace": episode.connection.name}
    if event == "normal":
        return _("[Incidesk] %(marketplace)s: shop health back to normal") % values
    if event in ("suspended", "shop_closed", "terminated"):
        return _("[Incidesk] %(marketplace)s: the shop is not open") % values
    if event in ("limit", "projected_limit"):
        return _("[Incidesk] %(marketplace)s: suspension risk") % values
    return _("[Incidesk] %(marketplace)s: quality alert") % values


def health_webhook_text(episode: Any, event: str, *, target: str) -> str:
    """A shop health announcement for a webhook, escaped for the target's markup (the text
    quotes the marketplace's name)."""
    escape = slack_escape if _is_slack(target) else teams_escape
    return f"{escape(episode.messages.get(event, ''))} {health_url(episode)}"


def alerts_dispatch(
    *, changes: Iterable[tuple[int, str]], now: datetime | None = None
) -> DispatchResult:
    """Record and send the alerts of items that turned nearing or breached, once each.

    :param changes: ``(item_id, state)`` pairs; other states are ignored.
    """
    now = now or timezone.now()
    wanted = {(int(i), s) for i, s in changes if s in ALERT_STATES}
    result = DispatchResult(emails=[], webhooks=[])
    if not wanted:
        return result
    with transaction.atomic(), translation.override(settings.LANGUAGE_CODE):
        # Serialises concurrent runs, so "already delivered?" below cannot race.
        advisory_xact_lock(AdvisoryLock.SLA_ALERTS)
        items = {
            i.pk: i
            for i in SlaItem.objects.filter(pk__in={i for i, _ in wanted}).select_related(
                "connection", "incident__order", "thread__order"
            )
        }
        done = set(
            AlertDelivery.objects.filter(item_id__in=items).values_list(
                "item_id", "state", "channel", "user_id"
            )
        )
        hooks = dict(
            AlertSettings.objects.filter(
                connection_id__in={i.connection_id for i in items.values()}
            )
            .values_list("connection_id", "webhook_url")
            .exclude(webhook_url="")
        )
        digest = set(
            AlertSettings.objects.filter(
                digest=True, connection_id__in={i.connection_id for i in items.values()}
            ).values_list("connection_id", flat=True)
        )
        assignees = _assignees(list(items.values()))
        users = {
            u.pk: u
            for u in get_user_model()
            .objects.filter(is_active=True)
            .filter(
                Q(groups__name__in=(Role.AGENT, Role.ACCOUNT_MANAGER))
                | Q(pk__in=list(assignees.values()))
            )
            .distinct()
        }
        agents = set(_group_users(Role.AGENT).values_list("pk", flat=True))
        managers = set(_group_users(Role.ACCOUNT_MANAGER).values_list("pk", flat=True))
        scopes = scoped_user_ids(set(users))

        deliveries: list[AlertDelivery] = []
        notifications: list[Notification] = []
        for item_id, state in sorted(wanted):
            item = items.get(item_id)
            if item is None:
                continue
            message = alert_message(item, state)
            workers = {assignees[item_id]} if item_id in assignees else agents
            for user_id in sorted(workers | managers):
                user = users.get(user_id)
                if user is None or not _sees(scopes, user_id, item.connection_id):
                    continue
                if (item_id, state, Channel.IN_APP, user_id) not in done:
                    deliveries.append(
                        AlertDelivery(
                            item=item, state=state, channel=Channel.IN_APP, user=user, sent_at=now
                        )
                    )
                    notifications.append(
                        Notification(
                            user=user, item=item, state=state, message=message, created_at=now
                        )
                    )
                emailed = user.email and not (
                    user_id in managers and user_id not in workers and item.connection_id in digest
                )
                if emailed and (item_id, state, Channel.EMAIL, user_id) not in done:
                    deliveries.append(
                        AlertDelivery(
                            item=item,
                            state=state,
                            channel=Channel.EMAIL,
                            user=user,
                            target=user.email,
                        )
                    )
            url = hooks.get(item.connection_id)
            if url and (item_id, state, Channel.WEBHOOK, None) not in done:
                deliveries.append(
                    AlertDelivery(item=item, state=state, channel=Channel.WEBHOOK, target=url)
                )
        for channel, kind in (
            (Channel.EMAIL, OutboxKind.SLA_EMAIL),
            (Channel.WEBHOOK, OutboxKind.SLA_WEBHOOK),
        ):
            sent_by_outbox = [d for d in deliveries if d.channel == channel]
            entries = outbox_enqueue_many(kind=kind, group_keys=[""] * len(sent_by_outbox), now=now)
            for delivery, entry in zip(sent_by_outbox, entries, strict=True):
                delivery.delivery = entry
        created = AlertDelivery.objects.bulk_create(deliveries)
        Notification.objects.bulk_create(notifications)
        result.notifications = len(notifications)
        result.emails = [d.pk for d in created if d.channel == Channel.EMAIL]
        result.webhooks = [d.pk for d in created if d.channel == Channel.WEBHOOK]
    if deliveries:
        logger.info(
            "SLA alerts: %d notifications, %d e-mails, %d webhooks",
            result.notifications,
            len(result.emails),
            len(result.webhooks),
        )
    return result


def digest_items(*, connection_ids: Iterable[int] | None = None) -> QuerySet[SlaItem]:
    """Open items nearing or breached, by marketplace then due time."""
    items = SlaItem.objects.filter(stopped_at__isnull=True, state__in=ALERT_STATES)
    if connection_ids is not None:
        items = items.filter(connection_id__in=list(connection_ids))
    return items.select_related("connection", "incident__order", "thread__order").order_by(
        "connection__name", "due_at", "pk"
    )


def alerts_digest_send(*, now: datetime | None = None) -> int:
    """E-mail each account manager the nearing and breached items of digest marketplaces.

    Once a day (Madrid): the day is claimed first (:class:`~sla.models.DigestDay`, unique
    per day), so a second beat tick, a retried task or two beats find it taken and send
    nothing; a failure while sending gives the claim back for the next tick. Each
    manager gets the items of the marketplaces they see (:mod:`core.scoping`); nothing
    when none of theirs waits. Returns the number of e-mails sent.
    """
    now = now or timezone.now()
    day = timezone.localdate(now)
    try:
        with transaction.atomic():
            claim = DigestDay.objects.create(day=day, sent_at=now)
    except IntegrityError:
        logger.info("SLA digest of %s already sent; skipped", day)
        return 0
    try:
        sent = _digest_send(now)
    except Exception:
        DigestDay.objects.filter(pk=claim.pk).delete()
        raise
    DigestDay.objects.filter(pk=claim.pk).update(emails=sent)
    return sent


def _digest_send(now: datetime) -> int:
    connection_ids = list(
        AlertSettings.objects.filter(digest=True).values_list("connection_id", flat=True)
    )
    if not connection_ids:
        return 0
    items = list(digest_items(connection_ids=connection_ids))
    if not items:
        return 0
    managers = list(_group_users(Role.ACCOUNT_MANAGER).exclude(email="").order_by("pk"))
    scopes = scoped_user_ids(u.pk for u in managers)
    sent = 0
    with translation.override(settings.LANGUAGE_CODE):
        for manager in managers:
            scope = scopes.get(manager.pk)
            theirs = [i for i in items if scope is None or i.connection_id in scope]
            if not theirs:
                continue
            grouped: dict[str, list[SlaItem]] = defaultdict(list)
            for item in theirs:
                grouped[item.connection.name].append(item)
            breached = sum(1 for i in theirs if i.state == State.BREACHED)
            subject = _("[Incidesk] SLA digest: %(breached)d missed, %(nearing)d near") % {
                "breached": breached,
                "nearing": len(theirs) - breached,
            }
            body = render_to_string(
                "sla/email/digest.txt",
                {
                    "groups": [
                        (name, [(i, alert_message(i, i.state)) for i in group])
                        for name, group in sorted(grouped.items())
                    ],
                    "now": timezone.localtime(now),
                    "site_url": getattr(settings, "SITE_URL", "").rstrip("/"),
                },
            )
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [manager.email])
            sent += 1
    return sent


def notifications_unread_count(*, user) -> int:
    """How many of the user's notifications are unread."""
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notifications_mark_read(*, user, now: datetime | None = None) -> int:
    """Mark every unread notification of the user read; returns how many."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=now or timezone.now()
    )


def on_refund_awaiting_approval(sender, refund_request, now, **kwargs) -> None:
    """Receiver of :data:`refunds.signals.refund_awaiting_approval`."""
    refund_approval_notify(refund_request=refund_request, now=now)


def refund_approval_notify(*, refund_request: Any, now: datetime | None = None) -> int:
    """In-app notifications to the users who may approve a refund waiting for a second
    person (:func:`refunds.approvals.refund_approvers`); how many were created."""
    approvers = refund_approvers(refund_request)
    if not approvers:
        return 0
    author = refund_request.requested_by
    with translation.override(settings.LANGUAGE_CODE):
        message = _(
            "A refund of %(total)s EUR on order %(order)s, asked by %(author)s, waits for "
            "your approval."
        ) % {
            "total": money_text(refund_request.total),
            "order": refund_request.order.mirakl_id,
            "author": (author.get_full_name() or author.username) if author else "—",
        }
    return len(
        Notification.objects.bulk_create(
            Notification(
                user_id=user.pk,
                kind=Notification.Kind.REFUND_APPROVAL,
                incident_id=refund_request.incident_id,
                message=message,
                created_at=now or timezone.now(),
            )
            for user in approvers
        )
    )


def on_incidents_contested(sender, incidents, now, **kwargs) -> None:
    """Receiver of :data:`incidents.signals.incidents_contested`."""
    incident_contested_notify(incidents=incidents, now=now)


def incident_contested_notify(*, incidents: Sequence[Any], now: datetime | None = None) -> int:
    """In-app notifications for incidents the operator contested after the shop resolved.

    Each goes to the incident's assignee, or to every active agent who sees its
    marketplace when nobody has it. Returns how many notifications were created.
    """
    return incident_watch_notify(incidents=incidents, kind=Notification.Kind.CONTESTED, now=now)


def on_incidents_written_after_resolved(sender, incidents, now, **kwargs) -> None:
    """Receiver of :data:`incidents.signals.incidents_written_after_resolved`."""
    incident_watch_notify(incidents=incidents, kind=Notification.Kind.WROTE_AFTER_RESOLVED, now=now)


def _watch_message(kind: str, order: str) -> str:
    if kind == Notification.Kind.CONTESTED:
        text = _("The operator contested the resolution of the incident on order %(order)s.")
    elif kind == Notification.Kind.WROTE_AFTER_RESOLVED:
        text = _(
            "The customer wrote after the incident on order %(order)s was marked resolved: "
            "it is back in the queue."
        )
    else:
        text = _(
            "The incident on order %(order)s was marked resolved and the operator has not "
            "closed it by its expected close: it is back in the queue."
        )
    return text % {"order": order}


def incident_watch_notify(
    *, incidents: Sequence[Any], kind: str, now: datetime | None = None
) -> int:
    """In-app notifications for incidents marked resolved that need the team again
    (contested, the customer wrote, awaiting close too long).

    Each goes to the incident's assignee, or to every active agent who sees its
    marketplace (:mod:`core.scoping`) when nobody has it. The caller makes sure it
    happens once (the state or the watch changes once per resolution). Returns how many
    notifications were created.
    """
    if not incidents:
        return 0
    now = now or timezone.now()
    assignees = dict(
        IncidentAssignment.objects.filter(
            incident_id__in=[i.pk for i in incidents], assignee__is_active=True
        ).values_list("incident_id", "assignee_id")
    )
    agents = list(_group_users(Role.AGENT).values_list("pk", flat=True))
    scopes = scoped_user_ids([*agents, *assignees.values()])
    orders = dict(
        Incident.objects.filter(pk__in=[i.pk for i in incidents]).values_list(
            "pk", "order__mirakl_id"
        )
    )
    notifications = []
    with translation.override(settings.LANGUAGE_CODE):
        for incident in incidents:
            message = _watch_message(kind, orders.get(incident.pk, ""))
            users = [assignees[incident.pk]] if incident.pk in assignees else agents
            users = [u for u in users if _sees(scopes, u, incident.connection_id)]
            notifications += [
                Notification(
                    user_id=user_id,
                    kind=kind,
                    incident_id=incident.pk,
                    message=message,
                    created_at=now,
                )
                for user_id in users
            ]
    Notification.objects.bulk_create(notifications)
    return len(notifications)
