"""The watchdog: tells a marketplace's account managers when a quality criterion is
projected to reach its alert or limit within 7 days, when it reaches them, when A01 says
the shop is suspended or closed, and when each is back to normal; once per crossing.

Each criterion (and the shop's state) has at most one open
:class:`~sla.models.health.HealthEpisode`. Its ``level`` is the highest rung announced
(:class:`~sla.health.rules.Level`: projected alert, alert, projected limit, limit): a
step up is announced, a figure wavering under the highest rung is not. The episode ends
with a "back to normal" notice once the criterion has been normal for
``HEALTH_NORMAL_AFTER`` (a figure hovering at a threshold does not ring every few
minutes); the shop's state ends as soon as A01 says it is open again.

Announcements go through the SLA alerts' channels: an in-app notification, an e-mail
and the marketplace's webhook, each an :class:`~sla.models.AlertDelivery` (unique per
episode, event, channel and recipient) with its outbox entry (:mod:`sla.outbox`).
Recipients: the marketplace's account managers (alert settings), else every account
manager.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.locks import AdvisoryLock, advisory_xact_lock
from core.models import MarketplaceConnection
from core.outbox.engine import outbox_enqueue_many
from core.outbox.kinds import OutboxKind
from core.roles import Role
from core.scoping import users_seeing
from mirakl.constants import ShopState
from sla.health.banner import SUSPENSION_LABELS, shop_state_label
from sla.health.figures import CriterionHealth, MarketplaceHealth, marketplaces_health
from sla.health.rules import Level
from sla.models import AlertDelivery, AlertSettings, Notification
from sla.models.health import HealthEpisode

__all__ = [
    "WatchResult",
    "health_recipients",
    "health_watch",
]

logger = logging.getLogger(__name__)

Event = HealthEpisode.Event
Channel = AlertDelivery.Channel

_EVENT_OF_LEVEL = {
    Level.PROJECTED_ALERT: Event.PROJECTED_ALERT,
    Level.ALERT: Event.ALERT,
    Level.PROJECTED_LIMIT: Event.PROJECTED_LIMIT,
    Level.LIMIT: Event.LIMIT,
}
_EVENT_OF_STATE = {
    ShopState.SUSPENDED: Event.SUSPENDED,
    ShopState.CLOSE: Event.SHOP_CLOSED,
    ShopState.TERMINATED: Event.TERMINATED,
}


@dataclass(slots=True)
class WatchResult:
    """What one run announced: ``(marketplace code, subject, event)`` triples."""

    events: list[tuple[str, str, str]] = field(default_factory=list)
    notifications: int = 0
    emails: int = 0
    webhooks: int = 0


def _date(moment: datetime | None) -> str:
    return "—" if moment is None else timezone.localtime(moment).strftime("%d/%m/%Y")


def _criterion_message(
    health: MarketplaceHealth, item: CriterionHealth, event: str
) -> tuple[str, str, str]:
    """(message, figure, threshold) of a criterion's announcement."""
    name = health.connection.name
    label = item.criterion.label.lower()
    figure = item.fmt(item.judged)
    limit, alert = item.limit_text, item.alert_text
    crossing = item.crossing
    days = crossing[1] if crossing else 7
    values = {"marketplace": name, "criterion": label, "figure": figure, "days": days}
    if event == Event.LIMIT:
        text = _(
            "%(marketplace)s: the %(criterion)s (%(figure)s) has reached the automatic "
            "suspension limit (%(threshold)s). Resolve what weighs on it and write to the "
            "marketplace's account manager."
        )
        threshold = limit
    elif event == Event.ALERT:
        text = _(
            "%(marketplace)s: the %(criterion)s (%(figure)s) has reached the alert threshold "
            "(%(threshold)s); the limit that suspends the shop is %(limit)s."
        )
        threshold = alert
    elif event == Event.PROJECTED_LIMIT:
        text = _(
            "%(marketplace)s: if nothing changes, the %(criterion)s (%(figure)s now) will reach "
            "the automatic suspension limit (%(threshold)s) in %(days)d days."
        )
        threshold = limit
    else:
        text = _(
            "%(marketplace)s: if nothing changes, the %(criterion)s (%(figure)s now) will reach "
            "the alert threshold (%(threshold)s) in %(days)d days."
        )
        threshold = alert
    values.update(threshold=threshold, limit=limit)
    return text % values, figure, threshold


def _normal_message(health: MarketplaceHealth, episode: HealthEpisode) -> str:
    name = health.connection.name
    if episode.subject == HealthEpisode.SHOP_STATE:
        return _("%(marketplace)s: the shop is open again according to Mirakl.") % {
            "marketplace": name
        }
    item = health.criterion(episode.subject)
    return _("%(marketplace)s: the %(criterion)s is back to normal (%(figure)s).") % {
        "marketplace": name,
        "criterion": item.criterion.label.lower(),
        "figure": item.fmt(item.judged),
    }


def _state_message(health: MarketplaceHealth, state: str) -> str:
    account = health.account
    name = health.connection.name
    if state == ShopState.SUSPENDED:
        kind = SUSPENSION_LABELS.get(account.suspension_type if account else "")
        return _(
            "%(marketplace)s has suspended the shop%(kind)s. To have it reactivated, resolve "
            "all incidents and write to the marketplace's account manager."
        ) % {"marketplace": name, "kind": f" ({kind})" if kind else ""}
    if state == ShopState.CLOSE:
        return _(
            "The shop on %(marketplace)s is closed (holidays) from %(start)s to %(end)s. "
            "Messages must still be answered within 24 hours."
        ) % {
            "marketplace": name,
            "start": _date(account.closed_from if account else None),
            "end": _date(account.closed_to if account else None),
        }
    return _(
        "%(marketplace)s says the shop is %(state)s. Write to the marketplace's account manager."
    ) % {"marketplace": name, "state": shop_state_label(state)}


def health_recipients(connection: MarketplaceConnection) -> list:
    """The marketplace's account managers (its alert settings), else every account
    manager who sees it (scoped to it, or not scoped: :mod:`core.scoping`); active
    users only."""
    users = get_user_model().objects.filter(is_active=True)
    chosen = users.filter(
        pk__in=AlertSettings.account_managers.through.objects.filter(
            alertsettings__connection=connection
        ).values("user_id")
    )
    if chosen.exists():
        return list(chosen.order_by("pk"))
    managers = users.filter(groups__name=Role.ACCOUNT_MANAGER).distinct()
    return list(users_seeing(managers, connection.pk).order_by("pk"))


def _watch_criteria(
    health: MarketplaceHealth,
    episodes: dict[str, HealthEpisode],
    now: datetime,
    events: list[tuple[HealthEpisode, str]],
) -> None:
    connection = health.connection
    for item in health.criteria:
        level = item.level
        episode = episodes.get(item.key)
        if level > Level.OK:
            event = _EVENT_OF_LEVEL[level]
            if episode is None:
                episode = HealthEpisode(connection=connection, subject=item.key, opened_at=now)
            episode.current_level = level
            episode.last_seen_at = now
            episode.normal_since = None
            if level > episode.level:
                message, figure, threshold = _criterion_message(health, item, event)
                episode.level = level
                episode.value, episode.threshold = figure[:40], threshold[:40]
                episode.messages = {**episode.messages, event: message}
                episode.save()
                events.append((episode, event))
            else:
                episode.save()
        elif episode is not None:
            episode.current_level = Level.OK
            episode.last_seen_at = now
            if episode.normal_since is None:
                episode.normal_since = now
            if now - episode.normal_since >= settings.HEALTH_NORMAL_AFTER:
                episode.closed_at = now
                episode.messages = {
                    **episode.messages,
                    Event.NORMAL: _normal_message(health, episode),
                }
                events.append((episode, Event.NORMAL))
            episode.save()


def _watch_state(
    health: MarketplaceHealth,
    episodes: dict[str, HealthEpisode],
    now: datetime,
    events: list[tuple[HealthEpisode, str]],
) -> None:
    state = health.shop_state
    episode = episodes.get(HealthEpisode.SHOP_STATE)
    event = _EVENT_OF_STATE.get(state)  # type: ignore[call-overload]
    if event is not None:
        if episode is None:
            episode = HealthEpisode(
                connection=health.connection, subject=HealthEpisode.SHOP_STATE, opened_at=now
            )
        changed = episode.shop_state != state
        episode.last_seen_at = now
        episode.current_level = episode.level = Level.LIMIT
        if changed:
            episode.shop_state = state
            episode.messages = {**episode.messages, event: _state_message(health, state)}
            events.append((episode, event))
        episode.save()
    elif state == ShopState.OPEN and episode is not None:
        episode.closed_at = episode.last_seen_at = now
        episode.messages = {**episode.messages, Event.NORMAL: _normal_message(health, episode)}
        episode.save()
        events.append((episode, Event.NORMAL))


def _announce(
    events: Sequence[tuple[HealthEpisode, str]], now: datetime, result: WatchResult
) -> None:
    """Notifications, e-mails and webhooks of the events (once each: unique deliveries)."""
    connection_ids = {episode.connection_id for episode, _ in events}
    hooks = dict(
        AlertSettings.objects.filter(connection_id__in=connection_ids)
        .exclude(webhook_url="")
        .values_list("connection_id", "webhook_url")
    )
    done = set(
        AlertDelivery.objects.filter(health_episode_id__in=[e.pk for e, _ in events]).values_list(
            "health_episode_id", "state", "channel", "user_id"
        )
    )
    recipients: dict[int, list] = {}
    deliveries: list[AlertDelivery] = []
    notifications: list[Notification] = []
    for episode, event in events:
        connection = episode.connection
        if connection.pk not in recipients:
            recipients[connection.pk] = health_recipients(connection)
        message = episode.messages.get(event, "")
        kind = (
            Notification.Kind.HEALTH_NORMAL if event == Event.NORMAL else Notification.Kind.HEALTH
        )
        for user in recipients[connection.pk]:
            if (episode.pk, event, Channel.IN_APP, user.pk) not in done:
                notifications.append(
                    Notification(
                        user=user, kind=kind, connection=connection, message=message, created_at=now
                    )
                )
                deliveries.append(
                    AlertDelivery(
                        health_episode=episode,
                        state=event,
                        channel=Channel.IN_APP,
                        user=user,
                        sent_at=now,
                    )
                )
            if user.email and (episode.pk, event, Channel.EMAIL, user.pk) not in done:
                deliveries.append(
                    AlertDelivery(
                        health_episode=episode,
                        state=event,
                        channel=Channel.EMAIL,
                        user=user,
                        target=user.email,
                    )
                )
        url = hooks.get(connection.pk)
        if url and (episode.pk, event, Channel.WEBHOOK, None) not in done:
            deliveries.append(
                AlertDelivery(
                    health_episode=episode, state=event, channel=Channel.WEBHOOK, target=url
                )
            )
    for channel, outbox_kind in (
        (Channel.EMAIL, OutboxKind.SLA_EMAIL),
        (Channel.WEBHOOK, OutboxKind.SLA_WEBHOOK),
    ):
        sent_by_outbox = [d for d in deliveries if d.channel == channel]
        entries = outbox_enqueue_many(
            kind=outbox_kind, group_keys=[""] * len(sent_by_outbox), now=now
        )
        for delivery, entry in zip(sent_by_outbox, entries, strict=True):
            delivery.delivery = entry
    AlertDelivery.objects.bulk_create(deliveries)
    Notification.objects.bulk_create(notifications)
    result.notifications += len(notifications)
    result.emails += sum(1 for d in deliveries if d.channel == Channel.EMAIL)
    result.webhooks += sum(1 for d in deliveries if d.channel == Channel.WEBHOOK)


def health_watch(
    *,
    connections: Sequence[MarketplaceConnection] | None = None,
    now: datetime | None = None,
) -> WatchResult:
    """Look at every active marketplace's health now and announce what crossed.

    Under an advisory lock, so two runs never announce the same crossing twice (the
    deliveries are unique too). Idempotent: a second run at the same instant announces
    nothing.
    """
    now = now or timezone.now()
    result = WatchResult()
    with translation.override(settings.LANGUAGE_CODE):
        healths = marketplaces_health(connections=connections, now=now)
        with transaction.atomic():
            advisory_xact_lock(AdvisoryLock.SHOP_HEALTH)
            episodes: dict[int, dict[str, HealthEpisode]] = {}
            for episode in HealthEpisode.objects.filter(
                closed_at__isnull=True, connection__in=[h.connection for h in healths]
            ).select_related("connection"):
                episodes.setdefault(episode.connection_id, {})[episode.subject] = episode
            events: list[tuple[HealthEpisode, str]] = []
            for health in healths:
                open_episodes = episodes.get(health.connection.pk, {})
                _watch_criteria(health, open_episodes, now, events)
                _watch_state(health, open_episodes, now, events)
            if events:
                _announce(events, now, result)
    result.events = [(e.connection.code, e.subject, event) for e, event in events]
    for code, subject, event in result.events:
        logger.warning("Shop health of %s: %s %s", code, subject, event)
    return result
