"""Reads of the incidents app: one incident, its history, notes and assignees."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import router
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable

from core.annotations import RowAdditions
from core.cache_ahead import cache_get
from core.expressions import in_subquery
from core.models import Order
from core.precompiled import PrecompiledQuery
from incidents.models import AuditEntry, Incident, IncidentNote, IncidentSeen

__all__ = [
    "HistoryEntry",
    "assignable_user_choices",
    "assignable_users",
    "assignable_users_forget",
    "incident_detail",
    "incident_history",
    "incident_notes",
    "incident_page_additions",
    "order_history",
    "order_incidents",
    "orders_held_by_open_incidents",
]


#: The incident page's header shows what apps above add to it (the SLA app: the due
#: time and state of the open wait, ``sla_due_at``, ``sla_warn_at`` and ``sla_state``),
#: set on the incident after it is read.
incident_page_additions = RowAdditions("incident page")


def _incident_page_rows(*, pk: int, viewer_id: int | None = None) -> QuerySet[Incident]:
    queryset = Incident.objects.all()
    if viewer_id is not None:
        seen = IncidentSeen.objects.filter(incident=OuterRef("pk"), user_id=viewer_id)
        queryset = queryset.annotate(viewer_seen_at=Subquery(seen.values("seen_at")[:1]))
    return (
        queryset.select_related(
            "connection",
            "order__connection",
            "line",
            "resolved_by",
            "assignment__assignee",
            "assignment__assigned_by",
        )
        # The shop's API key is for the sync and the outbox: no page decrypts it.
        .defer("connection__api_key", "order__connection__api_key")
        .filter(order_id=Subquery(Incident.objects.filter(pk=pk).values("order_id")[:1]))
        .order_by("line__index", "line__mirakl_id", "pk")
    )


#: Written once per process: compiling the read (six joins, two subqueries) cost the
#: page more CPU than Postgres takes to answer it.
_PAGE_ROWS = PrecompiledQuery(_incident_page_rows, pk=-1_999_999_021)
_PAGE_ROWS_SEEN_BY = PrecompiledQuery(
    _incident_page_rows, pk=-1_999_999_022, viewer_id=-1_999_999_023
)


def incident_detail(*, pk: int, viewer: Any = None) -> Incident:
    """One incident with what its page header needs, in one query, and what the apps
    above add to it (:data:`incident_page_additions`: the SLA wait, one query).

    The same query brings the order's other incidents: the open ones (the resolution panel
    offers them too) in ``order_open_incidents``, by line, the incident itself excluded;
    when each of them opened in ``order_incident_openings`` (the conversations tell the
    marketplace's notice of an opening by it). With a ``viewer``, ``viewer_seen_at`` is
    when they last saw it (None: never).
    """
    using = router.db_for_read(Incident)
    rows: list[Any] = (
        _PAGE_ROWS.instances(using, pk=pk)
        if viewer is None
        else _PAGE_ROWS_SEEN_BY.instances(using, pk=pk, viewer_id=viewer.pk)
    )
    incident = next((row for row in rows if row.pk == pk), None)
    if incident is None:
        raise Incident.DoesNotExist(f"Incident {pk} does not exist.")
    incident_page_additions.apply([incident])
    incident.order_open_incidents = [row for row in rows if row.pk != pk and row.closed_at is None]
    incident.order_incident_openings = tuple(row.opened_at for row in rows)
    return incident


def _order_incident_rows(*, order_id: int) -> QuerySet[Incident]:
    return (
        Incident.objects.filter(order_id=order_id)
        .select_related("line")
        .order_by("-opened_at", "-pk")
    )


#: Written once per process: compiling it cost the order page more CPU than the rest
#: of its panels' reads together.
_ORDER_INCIDENTS = PrecompiledQuery(_order_incident_rows, order_id=-1_999_999_024)


def order_incidents(*, order: Order) -> list[Incident]:
    """The order's incidents with their lines, newest first (one query): the order
    page's header. Each has ``order`` set to ``order``, as ``order.incidents`` gives."""
    rows: list[Incident] = _ORDER_INCIDENTS.instances(
        router.db_for_read(Incident), order_id=order.pk
    )
    for row in rows:
        row._state.fields_cache["order"] = order
    return rows


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A line of the history panel: who did what, when and why, from which source."""

    at: datetime
    label: str
    actor: Any
    source: str
    detail: str = ""
    actor_name: str = ""
    action: str = ""
    from_state: str = ""
    to_state: str = ""
    from_label: str = ""
    to_label: str = ""
    incident_id: int | None = None


def _incident_entries(*, incident_id: int) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(incident_id=incident_id)


def _order_entries(*, order_id: int, order_id_again: int) -> QuerySet[AuditEntry]:
    # Not ``incident__order``: with that join in the OR, Postgres read the whole audit
    # log and every incident (50-100 ms); the incidents' ids as an array use the indexes.
    incidents = Incident.objects.filter(order_id=order_id_again).values("pk")
    return AuditEntry.objects.filter(Q(order_id=order_id) | in_subquery("incident_id", incidents))


def _entries_read(entries: QuerySet[AuditEntry]) -> QuerySet[AuditEntry]:
    return entries.select_related("actor").order_by("at", "pk")


#: The history panels' reads, written once per process (every incident and order page).
_INCIDENT_ENTRIES = PrecompiledQuery(
    lambda incident_id: _entries_read(_incident_entries(incident_id=incident_id)),
    incident_id=-1_999_999_041,
)
_ORDER_ENTRIES = PrecompiledQuery(
    lambda order_id, order_id_again: _entries_read(
        _order_entries(order_id=order_id, order_id_again=order_id_again)
    ),
    order_id=-1_999_999_042,
    order_id_again=-1_999_999_043,
)


def incident_history(*, incident: Incident) -> list[HistoryEntry]:
    """The incident's audit entries, oldest first (one query)."""
    entries = _INCIDENT_ENTRIES.instances(router.db_for_read(AuditEntry), incident_id=incident.pk)
    return [e for e in _history_entries(entries) if e.incident_id == incident.pk]


def order_history(*, order: Order) -> list[HistoryEntry]:
    """Everything the audit log says of the order and its incidents, oldest first
    (one query): the order page's history."""
    entries = _ORDER_ENTRIES.instances(
        router.db_for_read(AuditEntry), order_id=order.pk, order_id_again=order.pk
    )
    return list(_history_entries(entries))


@functools.cache
def _choices(field_name: str) -> dict[Any, Any]:
    """An audit field's choices by value, as ``get_<field>_display`` reads them (the
    labels lazy: each read in the language active when shown)."""
    field: Any = AuditEntry._meta.get_field(field_name)
    return dict(make_hashable(field.flatchoices))


def _shown(entry: AuditEntry, field_name: str) -> str:
    """``entry.get_<field>_display()``, without making the field's choices into a dict
    on every call (four per line of the history panel)."""
    value = getattr(entry, field_name)
    return str(force_str(_choices(field_name).get(make_hashable(value), value), strings_only=True))


def _history_entries(entries: Iterable[AuditEntry]) -> Iterable[HistoryEntry]:
    for entry in entries:
        yield HistoryEntry(
            at=entry.at,
            label=_shown(entry, "action"),
            actor=entry.actor,
            source=_shown(entry, "source"),
            detail=entry.detail,
            actor_name=entry.actor_name,
            action=entry.action,
            from_state=entry.from_state,
            to_state=entry.to_state,
            from_label=_shown(entry, "from_state") if entry.from_state else "",
            to_label=_shown(entry, "to_state") if entry.to_state else "",
            incident_id=entry.incident_id,
        )


def _notes(*, incident_id: int) -> QuerySet[IncidentNote]:
    return (
        IncidentNote.objects.filter(incident_id=incident_id)
        .select_related("author")
        .order_by("-created_at", "-pk")
    )


#: Written once per process (every incident page shows the notes).
_NOTES = PrecompiledQuery(_notes, incident_id=-1_999_999_051)


def incident_notes(*, incident: Incident) -> list[IncidentNote]:
    """Internal notes, newest first (one query)."""
    notes: list[IncidentNote] = _NOTES.instances(
        router.db_for_read(IncidentNote), incident_id=incident.pk
    )
    for note in notes:
        note.incident = incident  # as the incident's related manager gives them
    return notes


def assignable_users() -> QuerySet:
    """Active users who may be given an incident (those who can reply)."""
    users = get_user_model().objects.filter(is_active=True)
    can_reply = (
        Q(is_superuser=True)
        | Q(
            groups__permissions__codename="reply_incident",
            groups__permissions__content_type__app_label="incidents",
        )
        | Q(
            user_permissions__codename="reply_incident",
            user_permissions__content_type__app_label="incidents",
        )
    )
    return users.filter(can_reply).distinct().order_by("first_name", "username")


def _assignable_user_names() -> QuerySet:
    return assignable_users().values_list("pk", "first_name", "last_name", "username")


#: Written once per process (the permission joins cost more to compile than to run).
_ASSIGNABLE_NAMES = PrecompiledQuery(_assignable_user_names)


#: The assignment select's choices, kept in Django's cache: every incident page shows
#: them, they change when a user, a group or a permission does (``incidents.apps``).
ASSIGNABLE_CACHE_KEY = "incidents:assignable-users:v1"
ASSIGNABLE_CACHE_SECONDS = 300


def assignable_user_choices() -> list[tuple[int, str]]:
    """:func:`assignable_users` as (id, name) pairs, in the same order: what the
    assignment select shows (the full name, else the username). From the cache, else
    one plain query."""
    choices = cache_get(ASSIGNABLE_CACHE_KEY)
    if choices is None:
        rows = _ASSIGNABLE_NAMES.rows(router.db_for_read(get_user_model()))
        choices = [(pk, f"{first} {last}".strip() or name) for pk, first, last, name in rows]
        cache.set(ASSIGNABLE_CACHE_KEY, choices, ASSIGNABLE_CACHE_SECONDS)
    return choices


def assignable_users_forget(**_signal: Any) -> None:
    """Empty the cache of :func:`assignable_user_choices` (a signal receiver too)."""
    cache.delete(ASSIGNABLE_CACHE_KEY)


def orders_held_by_open_incidents(
    *, connection_ids: Iterable[int]
) -> dict[int, tuple[int, Decimal]]:
    """Per connection, the orders with at least one open incident and their total value
    (MediaMarkt: "no recibirás el pago de un pedido si este tiene una incidencia en
    curso"). One query; each order counted once however many incidents it has."""
    open_incident = Incident.objects.filter(order=OuterRef("pk"), closed_at__isnull=True)
    rows = (
        Order.objects.filter(connection__in=list(connection_ids))
        .filter(Exists(open_incident))
        .values("connection")
        .annotate(n=Count("pk"), value=Sum("total_price"))
        .order_by()
    )
    return {row["connection"]: (row["n"], row["value"] or Decimal(0)) for row in rows}
