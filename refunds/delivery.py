"""What follows a refund's delivery: requests confirmed once Mirakl's orders show them.

OR28 answers with the refunds it created; the order sync (OR11) then shows them on the
lines, and :func:`refund_requests_confirm` marks ``confirmed`` the requests whose
refunds it now holds. Sending itself is the outbox's (:mod:`refunds.outbox`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core.models import MarketplaceConnection
from incidents.audit import audit_entry
from incidents.models import AuditEntry
from refunds.models import Refund, RefundRequest, RefundRequestLine
from refunds.rules import money_text, refund_request_data

__all__ = [
    "refund_ids_awaited",
    "refund_requests_confirm",
    "refund_requests_confirm_synced",
]

State = RefundRequest.State
Action = AuditEntry.Action
Source = AuditEntry.Source


def _confirm(requests: QuerySet[RefundRequest], *, now: datetime) -> int:
    """Mark ``confirmed`` the sent requests among ``requests``, with one audit entry each."""
    found = list(requests.filter(state=State.SENT).select_related("order", "incident").distinct())
    if not found:
        return 0
    RefundRequest.objects.filter(pk__in=[r.pk for r in found]).update(
        state=State.CONFIRMED, confirmed_at=now
    )
    AuditEntry.objects.bulk_create(
        audit_entry(
            action=Action.REFUND_CONFIRMED,
            source=Source.SYNC,
            incident=request.incident,
            order=request.order,
            detail=_("%(total)s EUR") % {"total": money_text(request.total)},
            data=refund_request_data(request),
            at=now,
        )
        for request in found
    )
    return len(found)


def _already_synced(requests: QuerySet[RefundRequest]) -> QuerySet[RefundRequest]:
    """The requests with a line whose Mirakl refund is already among the synced refunds."""
    synced = Refund.objects.filter(
        line_id=OuterRef("line_id"), mirakl_id=OuterRef("mirakl_refund_id")
    )
    lines = (
        RefundRequestLine.objects.filter(request_id=OuterRef("pk"))
        .exclude(mirakl_refund_id="")
        .filter(Exists(synced))
    )
    return requests.filter(Exists(lines))


def refund_ids_awaited(*, connection: MarketplaceConnection) -> frozenset[str]:
    """The Mirakl refund ids of the connection's sent requests: those whose arrival in an
    OR11 page confirms a request (nearly always none)."""
    return frozenset(
        RefundRequestLine.objects.filter(request__connection=connection, request__state=State.SENT)
        .exclude(mirakl_refund_id="")
        .values_list("mirakl_refund_id", flat=True)
    )


def refund_requests_confirm(
    *,
    connection: MarketplaceConnection,
    mirakl_refund_ids: Iterable[str],
    now: datetime | None = None,
) -> int:
    """Mark ``confirmed`` the sent requests whose refunds the sync now holds; returns how many.

    Called once per OR11 page with the refund ids of that page: one ``EXISTS`` query when
    none of them is ours. OR28 creates all refunds of a request at once and OR11 returns every
    line of an order, so one refund seen means the request's refunds are all there.
    """
    ids = {str(i) for i in mirakl_refund_ids if i}
    if not ids:
        return 0
    requests = RefundRequest.objects.filter(connection=connection, lines__mirakl_refund_id__in=ids)
    # Nearly every page has none: a bare EXISTS costs less to build and to run.
    if not requests.filter(state=State.SENT).exists():
        return 0
    return _confirm(requests, now=now or timezone.now())


def refund_requests_confirm_synced(
    *, now: datetime | None = None, requests: QuerySet[RefundRequest] | None = None
) -> int:
    """Confirm the sent requests (of ``requests``, default all) whose refunds were synced
    before their ids were stored.

    A sync can read the order between Mirakl's answer and the moment the ids are saved
    (or an in-doubt request is found later): the sync then had nothing to match.
    """
    if requests is None:
        requests = RefundRequest.objects.all()
    return _confirm(_already_synced(requests), now=now or timezone.now())
