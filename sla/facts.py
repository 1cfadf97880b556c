"""Building the clock's facts (``sla.clock``) from the database, in bulk.

One query for a batch of incidents (with their first shop message since opening as
a subquery); for a batch of threads, one for the threads, then one each for their
messages, their marks and their orders' incident openings.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple

from django.db.models import Min, OuterRef, Q, QuerySet, Subquery, TextField
from django.db.models.functions import Cast

from core.expressions import id_in
from incidents.models import Incident
from messaging.models import Message, Party, Thread, ThreadNoReply
from messaging.notices import is_opening_notice
from sla.clock import IncidentClockFacts, MessageFact, ThreadClockFacts

__all__ = [
    "IncidentRow",
    "ThreadRow",
    "customer_visible",
    "incident_rows",
    "max_changed",
    "thread_rows",
]


class IncidentRow(NamedTuple):
    """An incident's ids, change mark and clock facts."""

    id: int
    connection_id: int
    changed_at: datetime
    facts: IncidentClockFacts


class ThreadRow(NamedTuple):
    """A thread's ids, change mark and clock facts."""

    id: int
    connection_id: int
    changed_at: datetime
    facts: ThreadClockFacts


def customer_visible(prefix: str = "") -> Q:
    """Messages whose recipients include the customer, or record none (rule I2).

    Index lookups rather than JSON containment, which SQLite (the embedded default)
    lacks; a message has at most three recipients (customer, operator, shop).
    """
    field = f"{prefix}recipients"
    return (
        Q(**{field: []})
        | Q(**{f"{field}__0__type": Party.CUSTOMER})
        | Q(**{f"{field}__1__type": Party.CUSTOMER})
        | Q(**{f"{field}__2__type": Party.CUSTOMER})
    )


def _first_shop_message() -> Subquery:
    """The first shop message the customer can see on the order since the opening."""
    return Subquery(
        Message.objects.filter(
            customer_visible(),
            thread__order_id=OuterRef("order_id"),
            author_type=Party.SHOP,
            date_created__gte=OuterRef("opened_at"),
        )
        .order_by()
        .values("thread__order_id")
        .annotate(first=Min("date_created"))
        .values("first")
    )


def incident_rows(incidents: QuerySet[Incident]) -> list[IncidentRow]:
    """Facts of these incidents (one query)."""
    rows = incidents.order_by().annotate(first_shop=_first_shop_message())
    return [
        IncidentRow(
            id=pk,
            connection_id=connection_id,
            changed_at=updated_at,
            facts=IncidentClockFacts(
                opened_at=opened_at,
                closed_at=closed_at,
                shop_messages=(first_shop,) if first_shop is not None else (),
            ),
        )
        for pk, connection_id, updated_at, opened_at, closed_at, first_shop in rows.values_list(
            "pk", "connection_id", "updated_at", "opened_at", "closed_at", "first_shop"
        )
    ]


def _recipient_types(recipients: object) -> frozenset[str]:
    if not isinstance(recipients, list):
        return frozenset()
    return frozenset(r["type"] for r in recipients if isinstance(r, dict) and r.get("type"))


@lru_cache(maxsize=4096)
def _recipient_types_of(text: str | None) -> frozenset[str]:
    """:func:`_recipient_types` of a JSON text: a batch holds a handful of distinct
    recipient lists, decoded once each rather than once per message."""
    return _recipient_types(json.loads(text)) if text else frozenset()


@lru_cache(maxsize=4096)
def _mark_dates_of(text: str | None) -> tuple[datetime, ...]:
    """:func:`_mark_dates` of a JSON text (most threads carry none, or the same)."""
    return _mark_dates(json.loads(text)) if text else ()


def _mark_dates(marks: object) -> tuple[datetime, ...]:
    """Dates of Mirakl's ``no_store_reply_needed`` entries; unreadable ones are skipped."""
    if not isinstance(marks, list):
        return ()
    dates = []
    for mark in marks:
        value = mark.get("date") if isinstance(mark, dict) else None
        if not isinstance(value, str):
            continue
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            continue
        dates.append(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
    return tuple(sorted(dates))


def thread_rows(threads: QuerySet[Thread]) -> list[ThreadRow]:
    """Facts of these threads, with their messages and marks in order (four queries).

    The threads are read first: their messages, marks and orders' openings are then
    asked for by the ids read, as one array each, rather than with the threads' query
    as a subquery joined again in each.
    """
    found = list(
        threads.order_by()
        .annotate(marks_text=Cast("no_store_reply_needed", TextField()))
        .values_list(
            "pk",
            "connection_id",
            "synced_at",
            "shop_reply_needed_since",
            "marks_text",
            "last_sender_type",
            "order_id",
        )
        .iterator(chunk_size=5000)
    )
    if not found:
        return []
    thread_ids = [row[0] for row in found]
    order_of = {row[0]: row[6] for row in found}
    order_ids = sorted({order_id for order_id in order_of.values() if order_id is not None})
    openings: dict[int, list[datetime]] = defaultdict(list)
    if order_ids:
        for order_id, opened_at in Incident.objects.filter(
            order_id__in=id_in(order_ids)
        ).values_list("order_id", "opened_at"):
            openings[order_id].append(opened_at)
    messages: dict[int, list[MessageFact]] = defaultdict(list)
    for thread_id, at, author, recipients in (
        Message.objects.filter(thread_id__in=id_in(thread_ids))
        .annotate(recipients_text=Cast("recipients", TextField()))
        .order_by("thread_id", "date_created", "pk")
        .values_list("thread_id", "date_created", "author_type", "recipients_text")
    ):
        to = _recipient_types_of(recipients)
        notice = author == Party.OPERATOR and is_opening_notice(
            author=author,
            recipients=to,
            at=at,
            incident_openings=openings.get(order_of[thread_id], ()),
        )
        messages[thread_id].append(MessageFact(at, author, to, notice))
    # "No reply required" marks made here: Mirakl's API cannot set its own flag, so a
    # later sync would not carry ours in ``no_store_reply_needed``.
    ours: dict[int, list[datetime]] = defaultdict(list)
    for thread_id, at in ThreadNoReply.objects.filter(thread_id__in=id_in(thread_ids)).values_list(
        "thread_id", "at"
    ):
        ours[thread_id].append(at)
    return [
        ThreadRow(
            id=pk,
            connection_id=connection_id,
            changed_at=synced_at,
            facts=ThreadClockFacts(
                messages=tuple(messages.get(pk, ())),
                shop_reply_needed_since=needed_since,
                no_reply_marks=tuple(sorted({*_mark_dates_of(marks), *ours.get(pk, ())})),
                last_sender=last_sender or "",
            ),
        )
        for pk, connection_id, synced_at, needed_since, marks, last_sender, _order in found
    ]


def max_changed(rows: Iterable[IncidentRow | ThreadRow]) -> datetime | None:
    """The latest change mark among ``rows``."""
    return max((row.changed_at for row in rows), default=None)
