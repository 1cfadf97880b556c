"""Sync health of each marketplace connection, per resource: how old the data is, what
went wrong last (in words an admin can act on), how many records were skipped.

Everything here is computed from the connection's :class:`~core.sync.models.SyncCursor`
rows, which the overview, the admin and the API read anyway: no query of its own
beyond :func:`connections_health`'s one. The SLA app alerts on it
(``sla.sync_alerts.sync_alerts_dispatch``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.choices import Badge, BadgeChoices
from core.constants import (
    SYNC_RESOURCE_ORDERS,
    SYNC_RESOURCE_REASONS,
    SYNC_RESOURCE_THREADS,
)
from core.models import MarketplaceConnection
from core.sync.locks import SyncLockLost
from core.sync.models import SyncCursor
from mirakl.errors import (
    MiraklAuthError,
    MiraklBadRequest,
    MiraklNotFound,
    MiraklPayloadError,
    MiraklRateLimited,
    MiraklTransientError,
)

__all__ = [
    "CORE_RESOURCES",
    "RESOURCE_LABELS",
    "ConnectionHealth",
    "HealthState",
    "ResourceHealth",
    "connection_health",
    "connections_health",
    "data_age_text",
    "sync_error_kind",
]

#: What the connection's freshness is made of. Reasons are re-read once an hour only.
CORE_RESOURCES = (SYNC_RESOURCE_ORDERS, SYNC_RESOURCE_THREADS)
RESOURCES = (SYNC_RESOURCE_ORDERS, SYNC_RESOURCE_THREADS, SYNC_RESOURCE_REASONS)
RESOURCE_LABELS = {
    SYNC_RESOURCE_ORDERS: _("Orders"),
    SYNC_RESOURCE_THREADS: _("Messages"),
    SYNC_RESOURCE_REASONS: _("Reasons"),
}
#: The reasons sync re-reads the lists this often (``core.sync.runner.REASONS_MAX_AGE``).
REASONS_AGE = timedelta(hours=1)


class HealthState(BadgeChoices):
    """How a resource (or a connection, its worst resource) is doing."""

    OK = "ok", _("Up to date"), Badge.OK
    NEVER = "never", _("Not synced yet"), Badge.INFO
    LATE = "late", _("Behind"), Badge.WARN
    FAILING = "failing", _("Failing"), Badge.BAD


_SEVERITY = [HealthState.OK, HealthState.NEVER, HealthState.LATE, HealthState.FAILING]


def sync_error_kind(exc: BaseException) -> str:
    """The :class:`~core.sync.models.SyncCursor.ErrorKind` of an error that stopped a sync."""
    Kind = SyncCursor.ErrorKind
    for types, kind in (
        (MiraklAuthError, Kind.AUTH),
        (MiraklNotFound, Kind.NOT_FOUND),
        (MiraklBadRequest, Kind.BAD_REQUEST),
        (MiraklRateLimited, Kind.RATE_LIMITED),
        (MiraklTransientError, Kind.UNAVAILABLE),
        (MiraklPayloadError, Kind.UNREADABLE),
        (SyncLockLost, Kind.LOCK_LOST),
        (DatabaseError, Kind.DATABASE),
    ):
        if isinstance(exc, types):
            return kind
    return Kind.UNKNOWN


def data_age_text(age: timedelta | None) -> str:
    """ "data from 3 min ago", in the active language (the overview's words)."""
    if age is None:
        return str(_("no data yet"))
    minutes = max(int(age.total_seconds() // 60), 0)
    if minutes < 1:
        return str(_("data from less than a minute ago"))
    if minutes < 120:
        return ngettext("data from %(n)d min ago", "data from %(n)d min ago", minutes) % {
            "n": minutes
        }
    hours = minutes // 60
    if hours < 48:
        return ngettext("data from %(n)d hour ago", "data from %(n)d hours ago", hours) % {
            "n": hours
        }
    days = hours // 24
    return ngettext("data from %(n)d day ago", "data from %(n)d days ago", days) % {"n": days}


@dataclass(frozen=True, slots=True)
class ResourceHealth:
    """One resource of one connection."""

    resource: str
    state: HealthState
    last_success_at: datetime | None
    #: Time since the last successful run ended (None: never).
    age: timedelta | None
    last_error_at: datetime | None
    #: A :class:`~core.sync.models.SyncCursor.ErrorKind`, set while the last run failed.
    error_kind: str
    #: Records skipped and not stored since.
    skipped: int

    @property
    def label(self) -> str:
        return str(RESOURCE_LABELS.get(self.resource, self.resource))

    @property
    def age_minutes(self) -> int | None:
        return None if self.age is None else int(self.age.total_seconds() // 60)

    @property
    def data_age(self) -> str:
        """How fresh the data is. The reasons are re-read once an hour by design: their
        age ("12 min ago" while orders sync every minute) would read as a late sync, so
        they say when they were read and how often."""
        if self.resource == SYNC_RESOURCE_REASONS and self.last_success_at is not None:
            at = timezone.localtime(self.last_success_at)
            return str(_("list read at %(time)s (every hour)")) % {"time": f"{at:%H:%M}"}
        return data_age_text(self.age)

    @property
    def error(self) -> str:
        """The last error, in words for an admin (empty while the last run succeeded)."""
        if not self.error_kind:
            return ""
        return str(SyncCursor.ErrorKind(self.error_kind).label)


@dataclass(frozen=True, slots=True)
class ConnectionHealth:
    """A connection's resources, and what they add up to."""

    connection: MarketplaceConnection
    resources: list[ResourceHealth]
    state: HealthState
    #: The oldest last success of the resources the data is made of (orders, threads).
    last_success_at: datetime | None
    age: timedelta | None
    #: Not synced successfully for longer than ``SYNC_STALE_ALERT`` (what alerts).
    stale: bool

    @property
    def data_age(self) -> str:
        return data_age_text(self.age)

    @property
    def age_minutes(self) -> int | None:
        return None if self.age is None else int(self.age.total_seconds() // 60)

    @property
    def skipped(self) -> int:
        return sum(r.skipped for r in self.resources)

    @property
    def errors(self) -> list[ResourceHealth]:
        return [r for r in self.resources if r.error]

    def resource(self, name: str) -> ResourceHealth | None:
        return next((r for r in self.resources if r.resource == name), None)


def _resource_health(resource: str, cursor: SyncCursor | None, now: datetime) -> ResourceHealth:
    success = cursor.last_success_at if cursor else None
    error_at = cursor.last_error_at if cursor else None
    failing = bool(cursor and cursor.last_error and error_at)
    failing = failing and (success is None or error_at > success)  # type: ignore[operator]
    age = now - success if success else None
    allowed = settings.SYNC_STALE_ALERT
    if resource == SYNC_RESOURCE_REASONS:
        allowed += REASONS_AGE
    if failing:
        state = HealthState.FAILING
    elif success is None:
        state = HealthState.NEVER
    elif age is not None and age > allowed:
        state = HealthState.LATE
    else:
        state = HealthState.OK
    kind = ""
    if failing and cursor is not None:
        kind = cursor.last_error_kind or SyncCursor.ErrorKind.UNKNOWN
    return ResourceHealth(
        resource=resource,
        state=state,
        last_success_at=success,
        age=age,
        last_error_at=error_at if failing else None,
        error_kind=kind,
        skipped=cursor.skipped_open if cursor else 0,
    )


def connection_health(
    connection: MarketplaceConnection,
    cursors: Iterable[SyncCursor],
    *,
    now: datetime | None = None,
) -> ConnectionHealth:
    """The health of ``connection`` from its cursors (already read: no query)."""
    now = now or timezone.now()
    by_resource = {c.resource: c for c in cursors}
    resources = [_resource_health(r, by_resource.get(r), now) for r in RESOURCES]
    core = [r for r in resources if r.resource in CORE_RESOURCES]
    successes = [r.last_success_at for r in core]
    last_success = None if None in successes else min(successes)  # type: ignore[type-var]
    age = now - last_success if last_success else None
    # Never synced: late once the connection is older than the alert's delay.
    since = age if age is not None else now - connection.created_at
    state = max((r.state for r in resources), key=_SEVERITY.index)
    return ConnectionHealth(
        connection=connection,
        resources=resources,
        state=HealthState(state),
        last_success_at=last_success,
        age=age,
        stale=connection.is_active and since > settings.SYNC_STALE_ALERT,
    )


def connections_health(
    *,
    connections: Sequence[MarketplaceConnection] | None = None,
    now: datetime | None = None,
) -> list[ConnectionHealth]:
    """The health of these connections (every active one by default), in one query."""
    if connections is None:
        connections = list(MarketplaceConnection.objects.filter(is_active=True).order_by("name"))
    cursors: dict[int, list[SyncCursor]] = {c.pk: [] for c in connections}
    for cursor in SyncCursor.objects.filter(connection__in=list(cursors)):
        cursors[cursor.connection_id].append(cursor)
    return [connection_health(c, cursors[c.pk], now=now) for c in connections]
