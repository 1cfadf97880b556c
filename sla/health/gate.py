"""The one place A01 and A21 are called: at most once a day each, per connection and channel.

Mirakl documents both calls with "Maximum usage: once per day". Every call here first
claims its :class:`~sla.models.health.DailyCall` row under a row lock, in its own
transaction: refused until 24 hours after the previous call, and recorded as made before
the request leaves, so a crash or a timeout still counts. Only a request that never
left (the connection was refused or could not be opened) gives its claim back. The
client is built without automatic retries: one claim, one request.

Nothing else in the project calls ``MiraklClient.get_account`` or ``get_statistics``
(``tests/sla/test_health_gate.py`` checks the sources), so the beat task, the admin's
"refresh now" and anything added later go through :func:`daily_call_claim`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.clients import client_for
from core.models import MarketplaceConnection
from mirakl.errors import MiraklError, MiraklTransientError
from mirakl.schemas import ShopAccount, ShopStatistics
from sla.models.health import DailyCall

__all__ = [
    "MIN_INTERVAL",
    "Claim",
    "Fetched",
    "account_fetch",
    "daily_call_claim",
    "daily_call_next_allowed",
    "statistics_fetch",
]

logger = logging.getLogger(__name__)

#: Mirakl's "Maximum usage: once per day", read as 24 hours between two calls.
MIN_INTERVAL = timedelta(days=1)

T = TypeVar("T")
Call = DailyCall.Call


@dataclass(frozen=True, slots=True)
class Claim:
    """The answer of :func:`daily_call_claim`: allowed (the call is recorded as made), or
    refused with when the next call is allowed."""

    allowed: bool
    next_allowed_at: datetime | None
    previous_call_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Fetched(Generic[T]):
    """What one gated call gave: the answer, or why there is none."""

    value: T | None = None
    refused: bool = False
    next_allowed_at: datetime | None = None
    error: MiraklError | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None


def daily_call_next_allowed(last_called_at: datetime | None) -> datetime | None:
    """When the next call is allowed after one made at ``last_called_at`` (None: now)."""
    return None if last_called_at is None else last_called_at + MIN_INTERVAL


def _row(connection: MarketplaceConnection, call: str, channel: str) -> DailyCall:
    """The call's row, locked (created first if missing; a concurrent creation wins)."""
    rows = DailyCall.objects.select_for_update()
    row = rows.filter(connection=connection, call=call, channel=channel).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            DailyCall.objects.create(connection=connection, call=call, channel=channel)
    except IntegrityError:
        pass  # created meanwhile by another claim
    return rows.get(connection=connection, call=call, channel=channel)


def daily_call_claim(
    *, connection: MarketplaceConnection, call: str, channel: str = "", now: datetime
) -> Claim:
    """Record a call as made now if the previous one is at least :data:`MIN_INTERVAL` old.

    Commits at once (its own transaction), so the claim holds whatever happens next.
    """
    with transaction.atomic():
        row = _row(connection, call, channel)
        next_allowed = daily_call_next_allowed(row.last_called_at)
        if next_allowed is not None and now < next_allowed:
            return Claim(allowed=False, next_allowed_at=next_allowed)
        previous = row.last_called_at
        row.last_called_at = now
        row.save(update_fields=["last_called_at"])
    return Claim(allowed=True, next_allowed_at=now + MIN_INTERVAL, previous_call_at=previous)


def _give_back(
    connection: MarketplaceConnection, call: str, channel: str, claim: Claim, now: datetime
) -> None:
    """The request never left: the claim is undone (unless another call came since)."""
    DailyCall.objects.filter(
        connection=connection, call=call, channel=channel, last_called_at=now
    ).update(last_called_at=claim.previous_call_at)


def _record(
    connection: MarketplaceConnection,
    call: str,
    channel: str,
    *,
    now: datetime,
    error: str = "",
) -> None:
    fields: dict[str, object] = (
        {"last_error": error[:2000], "last_error_at": now}
        if error
        else {"last_success_at": now, "last_error": ""}
    )
    DailyCall.objects.filter(connection=connection, call=call, channel=channel).update(**fields)


def _client(connection: MarketplaceConnection) -> Any:
    client = client_for(connection)
    client.max_retries = 0  # one claim, one request
    return client


def _gated(
    connection: MarketplaceConnection,
    call: str,
    channel: str,
    now: datetime,
    send: Callable[[Any], T],
) -> Fetched[T]:
    claim = daily_call_claim(connection=connection, call=call, channel=channel, now=now)
    if not claim.allowed:
        return Fetched(refused=True, next_allowed_at=claim.next_allowed_at)
    client = _client(connection)
    try:
        value = send(client)
    except MiraklError as exc:
        if isinstance(exc, MiraklTransientError) and not exc.sent:
            _give_back(connection, call, channel, claim, now)
            next_allowed = None
        else:
            next_allowed = claim.next_allowed_at
        _record(connection, call, channel, now=now, error=str(exc))
        logger.warning("%s of %s (%s) failed: %s", call, connection.code, channel or "*", exc)
        return Fetched(error=exc, next_allowed_at=next_allowed)
    finally:
        client.close()
    _record(connection, call, channel, now=now)
    return Fetched(value=value, next_allowed_at=claim.next_allowed_at)


def account_fetch(
    *, connection: MarketplaceConnection, now: datetime | None = None
) -> Fetched[ShopAccount]:
    """A01 for the connection, if a day has passed since the last time."""
    return _gated(
        connection, Call.ACCOUNT, "", now or timezone.now(), lambda client: client.get_account()
    )


def statistics_fetch(
    *, connection: MarketplaceConnection, channel: str = "", now: datetime | None = None
) -> Fetched[ShopStatistics]:
    """A21 for the connection, overall (``channel`` empty) or for one channel, if a day has
    passed since the last time for that channel."""
    return _gated(
        connection,
        Call.STATISTICS,
        channel,
        now or timezone.now(),
        lambda client: client.get_statistics(channel_code=channel or None),
    )
