"""The summary an account manager copies into their message to the marketplace's account
manager when the shop is suspended: open incidents, missed deadlines of the period, the
actions taken, and the quality figures against the thresholds (plain text, Spanish
when Spanish is active, dates in Madrid)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.models import MarketplaceConnection
from incidents.models import AuditEntry, Incident
from refunds.models import RefundRequest
from sla.health.banner import SUSPENSION_LABELS, shop_state_label
from sla.health.figures import marketplace_health
from sla.models import SlaBreach

__all__ = ["PERIOD_DAYS", "suspension_summary"]

PERIOD_DAYS = 30
#: How many open incidents the summary lists one by one.
LISTED = 25


def _date(moment: datetime | None, *, time: bool = True) -> str:
    if moment is None:
        return "—"
    return timezone.localtime(moment).strftime("%d/%m/%Y %H:%M" if time else "%d/%m/%Y")


def _eur(amount) -> str:
    from core.templatetags.incidesk import eur

    return eur(amount)


def suspension_summary(*, connection: MarketplaceConnection, now: datetime | None = None) -> str:
    """The text to copy, for ``connection`` as things stand ``now``."""
    now = now or timezone.now()
    since = now - timedelta(days=PERIOD_DAYS)
    health = marketplace_health(connection=connection, now=now)
    account = health.account
    lines: list[str] = []

    shop = (account.payload or {}).get("shop_name") if account else None
    lines.append(
        _("Shop %(shop)s on %(marketplace)s")
        % {"shop": shop or "—", "marketplace": connection.name}
    )
    if account is not None:
        state = shop_state_label(account.shop_state)
        kind = SUSPENSION_LABELS.get(account.suspension_type)
        lines.append(
            _("State according to Mirakl on %(date)s: %(state)s%(kind)s.")
            % {
                "date": _date(account.fetched_at),
                "state": state,
                "kind": f" ({kind})" if kind else "",
            }
        )
    lines.append("")

    incidents = Incident.objects.filter(connection=connection, closed_at__isnull=True)
    by_state = dict(incidents.values_list("state").annotate(n=Count("pk")).order_by())
    total = sum(by_state.values())
    labels = dict(Incident.State.choices)
    parts = ", ".join(
        f"{labels[state].lower()}: {by_state[state]}" for state in labels if by_state.get(state)
    )
    lines.append(
        _("Open incidents: %(n)d%(parts)s.") % {"n": total, "parts": f" ({parts})" if parts else ""}
    )
    for incident in incidents.select_related("order").order_by("opened_at", "pk")[:LISTED]:
        age = (now - incident.opened_at).days
        lines.append(
            "- "
            + ngettext(
                "order %(order)s: %(state)s, opened on %(date)s (%(days)d day ago)",
                "order %(order)s: %(state)s, opened on %(date)s (%(days)d days ago)",
                age,
            )
            % {
                "order": incident.order.mirakl_id,
                "state": incident.get_state_display().lower(),
                "date": _date(incident.opened_at, time=False),
                "days": age,
            }
        )
    if total > LISTED:
        lines.append("- " + _("and %(n)d more.") % {"n": total - LISTED})
    lines.append("")

    breaches = SlaBreach.objects.filter(connection=connection, due_at__gte=since, due_at__lt=now)
    counts = breaches.aggregate(n=Count("pk"), open=Count("pk", filter=Q(answered_at__isnull=True)))
    lines.append(
        _("Missed reply deadlines in the last %(days)d days: %(n)d (still unanswered: %(open)d).")
        % {"days": PERIOD_DAYS, "n": counts["n"], "open": counts["open"]}
    )

    Action = AuditEntry.Action
    actions = dict(
        AuditEntry.objects.filter(
            connection=connection,
            at__gte=since,
            action__in=(Action.REPLY, Action.NEW_THREAD, Action.RESOLVE_REQUESTED),
        )
        .values_list("action")
        .annotate(n=Count("pk"))
        .order_by()
    )
    refunds = (
        RefundRequest.objects.filter(connection=connection, created_at__gte=since)
        .exclude(state__in=RefundRequest.VOID_STATES)
        .aggregate(n=Count("pk"), total=Sum("total"))
    )
    lines.append(
        _(
            "Actions in the last %(days)d days: %(replies)d replies sent, %(threads)d "
            "conversations started, %(resolved)d incidents marked resolved, %(refunds)d "
            "refunds requested (%(amount)s)."
        )
        % {
            "days": PERIOD_DAYS,
            "replies": actions.get(Action.REPLY, 0),
            "threads": actions.get(Action.NEW_THREAD, 0),
            "resolved": actions.get(Action.RESOLVE_REQUESTED, 0),
            "refunds": refunds["n"],
            "amount": _eur(refunds["total"] or 0),
        }
    )
    lines.append("")

    lines.append(_("Quality figures (Mirakl's when it gives them, else ours):"))
    for item in health.criteria:
        if item.judged is None:
            continue
        limit = item.limit_text
        source = (
            _("Mirakl, %(date)s") % {"date": _date(item.mirakl_at, time=False)}
            if item.mirakl is not None
            else _("Incidesk")
        )
        lines.append(
            f"- {item.criterion.label}: {item.fmt(item.judged)} ({_('limit')} {limit}; {source})"
        )
    return "\n".join(lines).strip() + "\n"
