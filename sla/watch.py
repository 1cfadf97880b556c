"""The watch after resolving: when a resolved incident should close, and what happens
when it does not.

An incident the shop marked resolved waits for the operator to close it. Each policy
says how long that takes after the last activity (``SlaPolicy.close_after_days``:
PcComponentes 5 working days, its English guide; editable in the admin). The SLA sweep
keeps that date on the incident (``Incident.close_expected_at``, "cierre previsto el …")
for the incidents it looks at, and flags, once, each resolved incident past it: back in
the queue as "awaiting close too long", with an in-app alert to its assignee (or to
the agents who see its marketplace). A message from the customer or the operator after
the resolution puts it back in the queue at once (:mod:`incidents.lifecycle`).

The last activity is the later of the resolution and the order's last message (any
party, any thread): a conversation still going on keeps the operator from closing it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from django.db.models import Max, OuterRef, Q, Subquery

from core.bulk import update_rows
from core.expressions import id_in
from core.freshness import inbox_changed
from incidents.audit import audit_entry
from incidents.models import AuditEntry, Incident
from messaging.models import Message
from sla.policies import DeadlineRule

__all__ = ["close_expected_refresh", "close_overdue_flag", "last_activity"]

State = Incident.State
Watch = Incident.Watch
_BATCH = 10_000


def _last_message() -> Subquery:
    return Subquery(
        Message.objects.filter(thread__order_id=OuterRef("order_id"))
        .order_by()
        .values("thread__order_id")
        .annotate(last=Max("date_created"))
        .values("last")
    )


def last_activity(resolved_at: datetime, last_message_at: datetime | None) -> datetime:
    """The later of the resolution and the order's last message."""
    if last_message_at is not None and last_message_at > resolved_at:
        return last_message_at
    return resolved_at


def close_expected_refresh(
    *, incident_ids: Sequence[int], rule_of: Callable[[int], DeadlineRule]
) -> int:
    """Set ``close_expected_at`` of these incidents: the policy's expected close after
    the last activity for those awaiting close, None for the others. Writes only what
    changed; returns how many changed.

    The incidents that may need it (awaiting close, or holding an expected close) are
    found on their indexes first, so a sweep over a shop with few resolved incidents
    costs one small query whatever it recomputed.

    :param rule_of: the deadline rule of a connection id.
    """
    if not incident_ids:
        return 0
    watched = Q(state=State.RESOLVED, closed_at__isnull=True) | Q(close_expected_at__isnull=False)
    candidates = sorted(
        set(Incident.objects.filter(watched).values_list("pk", flat=True)) & set(incident_ids)
    )
    changed: list[dict[str, object]] = []
    for start in range(0, len(candidates), _BATCH):
        rows = (
            Incident.objects.filter(pk__in=id_in(candidates[start : start + _BATCH]))
            .annotate(last_message_at=_last_message())
            .order_by()
            .values_list(
                "pk",
                "connection_id",
                "state",
                "closed_at",
                "resolved_at",
                "last_message_at",
                "close_expected_at",
            )
        )
        for pk, connection_id, state, closed_at, resolved_at, last_message_at, current in rows:
            expected = None
            if state == State.RESOLVED and closed_at is None and resolved_at is not None:
                activity = last_activity(resolved_at, last_message_at)
                expected = rule_of(connection_id).expected_close(activity)
            if expected != current:
                changed.append({"id": pk, "close_expected_at": expected})
    update_rows(Incident, changed, fields=["close_expected_at"])
    return len(changed)


def close_overdue_flag(*, now: datetime) -> list[Incident]:
    """Put back in the queue, once, the resolved incidents past their expected close
    that nothing else put back: ``watch`` becomes "awaiting close too long" (since the
    expected close) with an audit entry. Returns them (for the alerts).
    """
    overdue = list(
        Incident.objects.filter(
            closed_at__isnull=True,
            state=State.RESOLVED,
            watch="",
            close_expected_at__lt=now,
        )
        .select_for_update(of=("self",), skip_locked=True)
        .order_by("pk")
    )
    if not overdue:
        return []
    entries = []
    for incident in overdue:
        incident.watch = Watch.CLOSE_OVERDUE
        incident.watch_at = incident.close_expected_at
        entries.append(
            audit_entry(
                action=AuditEntry.Action.BACK_IN_QUEUE,
                source=AuditEntry.Source.SYSTEM,
                incident=incident,
                detail=str(Watch.CLOSE_OVERDUE.label),
                data={
                    "watch": Watch.CLOSE_OVERDUE,
                    "close_expected_at": incident.close_expected_at,
                },
                at=now,
            )
        )
    update_rows(
        Incident,
        [{"id": i.pk, "watch": i.watch, "watch_at": i.watch_at} for i in overdue],
        fields=["watch", "watch_at"],
    )
    AuditEntry.objects.bulk_create(entries)
    inbox_changed()
    return overdue
