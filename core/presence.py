"""Who else is on an incident page right now, so two agents do not answer one customer twice.

The incident page and its live refresh (every 10 s) record "this user is here now"
(:func:`presence_touch`) and show the others seen in the last :data:`PRESENCE_SECONDS`
(:func:`presence_others`). It is state of the moment, never worth a database row: it
lives in Django's cache (Redis in production and tests, a file cache in the embedded
demo), with two kinds of keys:

* one entry per (incident, user): name and last-seen time, written only by that user's
  own requests, so concurrent writers never touch the same key;
* a per-incident index of the user ids, rewritten only when a user joins (and then
  pruned of those gone). Two agents joining in the same millisecond may lose one id
  there: the next touch of the one lost finds itself missing and adds itself back, so
  the index heals within one refresh.

The entry's timestamp, not the cache's expiry, decides who is still here (expiries only
collect the garbage). The cache being down never breaks the page: nothing is shown.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, cast

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

__all__ = [
    "presence_context",
    "PRESENCE_SECONDS",
    "Presence",
    "presence_here",
    "presence_others",
    "presence_touch",
]

logger = logging.getLogger(__name__)

#: How long a user counts as being on the incident after their last request (three
#: live refreshes: one late refresh does not make them blink out).
PRESENCE_SECONDS = 30
#: The cache drops entries and indexes left alone this long (garbage collection only).
_ENTRY_TIMEOUT = PRESENCE_SECONDS * 2
_INDEX_TIMEOUT = PRESENCE_SECONDS * 4


@dataclass(frozen=True, slots=True)
class Presence:
    """Another user seen on the incident: their id, display name and last request."""

    user_id: int
    name: str
    seen_at: float


def _index_key(incident_id: int) -> str:
    return f"incidents:presence:{incident_id}"


def _entry_key(incident_id: int, user_id: int) -> str:
    return f"incidents:presence:{incident_id}:{user_id}"


def _fresh(entry: Any, now: float) -> bool:
    return isinstance(entry, dict) and now - entry.get("at", 0) <= PRESENCE_SECONDS


def _display_name(user: Any) -> str:
    return user.get_full_name() or user.get_username()


def presence_touch(*, incident_id: int, user: Any) -> None:
    """Record that ``user`` is on incident ``incident_id`` now (no-op when anonymous)."""
    _touch(incident_id=incident_id, user=user)


def _touch(*, incident_id: int, user: Any) -> list[int] | None:
    """:func:`presence_touch`; the ids of the incident's index as it left them (None
    when anonymous or the cache failed)."""
    if not getattr(user, "is_authenticated", False):
        return None
    now = time.time()
    index_key = _index_key(incident_id)
    try:
        # The entry first: a user joining at the same time then sees it fresh and keeps it.
        index = _set_entry_read_index(
            _entry_key(incident_id, user.pk), {"name": _display_name(user), "at": now}, index_key
        )
        if index is not None and user.pk in index:
            return list(index)
        ids = set(index or ())
        entries = cache.get_many([_entry_key(incident_id, pk) for pk in ids])
        alive = {pk for pk in ids if _fresh(entries.get(_entry_key(incident_id, pk)), now)}
        index = sorted(alive | {user.pk})
        cache.set(index_key, index, timeout=_INDEX_TIMEOUT)
    except Exception:
        logger.warning("Could not record presence on incident %s", incident_id, exc_info=True)
        return None
    return index


def _set_entry_read_index(entry_key: str, entry: dict[str, Any], index_key: str) -> Any:
    """Write a user's entry, then read the incident's index and put its expiry back to
    :data:`_INDEX_TIMEOUT` (a user joining rewrites it just after anyway).

    On Redis the three are one round trip (a pipeline, in this order) rather than
    three: every incident page and its live refresh touch presence.
    """
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        cache.set(entry_key, entry, timeout=_ENTRY_TIMEOUT)
        index = cache.get(index_key)
        if index is not None:
            cache.touch(index_key, _INDEX_TIMEOUT)
        return index
    # Django's Redis cache has no pipeline of its own: its client, key and serializer.
    client = cast(Any, backend)._cache
    entry_key = backend.make_and_validate_key(entry_key)
    index_key = backend.make_and_validate_key(index_key)
    pipeline = client.get_client(entry_key, write=True).pipeline(transaction=False)
    pipeline.set(
        entry_key,
        client._serializer.dumps(entry),
        ex=backend.get_backend_timeout(_ENTRY_TIMEOUT),
    )
    pipeline.get(index_key)
    pipeline.expire(index_key, backend.get_backend_timeout(_INDEX_TIMEOUT))
    _set, index, _expired = pipeline.execute()
    return None if index is None else client._serializer.loads(index)


def presence_others(*, incident_id: int, user: Any) -> list[Presence]:
    """The users other than ``user`` seen on the incident in the last
    :data:`PRESENCE_SECONDS`, by name; empty when the cache cannot say."""
    return _others(incident_id=incident_id, user=user, ids=None)


def _others(*, incident_id: int, user: Any, ids: list[int] | None) -> list[Presence]:
    """:func:`presence_others`, from the index's ``ids`` when just read (None: read it)."""
    now = time.time()
    try:
        if ids is None:
            ids = cache.get(_index_key(incident_id)) or []
        keys = {_entry_key(incident_id, pk): pk for pk in ids if pk != user.pk}
        entries = cache.get_many(list(keys)) if keys else {}
        present = [
            Presence(user_id=keys[key], name=str(entry["name"]), seen_at=float(entry["at"]))
            for key, entry in entries.items()
            if _fresh(entry, now)
        ]
    except Exception:
        logger.warning("Could not read presence on incident %s", incident_id, exc_info=True)
        return []
    return sorted(present, key=lambda p: (p.name.casefold(), p.user_id))


def presence_here(*, incident_id: int, user: Any) -> list[Presence]:
    """:func:`presence_touch` then :func:`presence_others`: what each render of the
    incident page (first load and live refresh) does."""
    # The index as the touch left it, not read a second time.
    ids = _touch(incident_id=incident_id, user=user)
    return _others(incident_id=incident_id, user=user, ids=ids)


def presence_context(request: Any, incident: Any) -> dict[str, Any]:
    """Record the viewer on the incident and name the others there (header and warning
    above the conversations, on the first render and every live refresh)."""
    present = presence_here(incident_id=incident.pk, user=request.user)
    return {"present": present, "present_names": ", ".join(p.name for p in present)}
