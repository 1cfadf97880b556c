"""Template filters of the desk: money in EUR, parties, addresses, badges."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.urls import reverse
from django.utils.dateformat import format as date_format
from django.utils.formats import localize, number_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince, timeuntil
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

__all__ = [
    "address_lines",
    "badge_class",
    "eur",
    "inbox_cells",
    "inbox_filters_version",
    "party",
    "parties",
]

register = template.Library()

#: Badge colour (CSS class) of every incident, SLA and delivery state: one mapping.
BADGE_CLASSES: dict[str, str] = {
    "new": "new",
    "in_progress": "info",
    "contested": "bad",
    "resolved": "ok",
    "closed": "",
    "on_time": "ok",
    "nearing": "warn",
    "breached": "bad",
    "queued": "warn",
    "sending": "warn",
    "sent": "ok",
    "failed": "bad",
}


@register.filter
def eur(value: Any) -> str:
    """An amount in euros with exactly two decimals, formatted for the active language.

    Spanish: ``1\u00a0234,50\u00a0€`` (Django's locale groups thousands with a no-break
    space, as the RAE recommends); the sign never wraps away from the amount.
    """
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    number = number_format(amount, decimal_pos=2, use_l10n=True, force_grouping=True)
    return f"{number}\u00a0€"


@register.filter
def badge_class(state: str | None) -> str:
    """The CSS class of a state's badge."""
    return BADGE_CLASSES.get(state or "", "")


def _party_label(kind: str) -> str:
    labels = {"CUSTOMER": _("Customer"), "OPERATOR": _("Operator"), "SHOP": _("Shop")}
    return labels.get(kind, kind.title())


@register.filter
def party(kind: str | None) -> str:
    """``CUSTOMER`` → "Customer" (translated)."""
    return _party_label(kind or "")


@register.filter
def parties(kinds: list[str] | None) -> str:
    """``["CUSTOMER", "OPERATOR"]`` → "Customer, Operator"."""
    return ", ".join(_party_label(k) for k in kinds or [])


@register.filter
def address_lines(address: dict[str, Any] | None) -> list[str]:
    """A Mirakl address as the lines of a postal address (missing parts left out)."""
    if not address:
        return []
    name = " ".join(p for p in (address.get("firstname"), address.get("lastname")) if p)
    city = " ".join(p for p in (address.get("zip_code"), address.get("city")) if p)
    lines = [
        address.get("company"),
        name,
        address.get("street_1"),
        address.get("street_2"),
        city,
        address.get("state"),
        address.get("country"),
        address.get("phone"),
    ]
    return [str(line) for line in lines if line]


@register.simple_tag
def inbox_cells(record: Any) -> str:
    """The nine cells of an inbox row, in ``IncidentTable.Meta.sequence`` order.

    The same HTML as the column templates (``incidents/columns/``, the badges), built in
    Python: 25 rows × 9 cells of included templates were the inbox's biggest CPU cost.
    """
    opened = localtime(record.opened_at)
    assignee = getattr(getattr(record, "assignment", None), "assignee", None)
    unread = record.unread_count
    return format_html(
        '<td>{}</td><td><a href="{}" class="order-link">{}</a></td><td>{}</td><td>{}</td>'
        '<td><time datetime="{}">{}</time></td><td>{}</td><td>{}</td>'
        '<td class="num">{}</td><td>{}</td>',
        record.connection.name,
        reverse("incidents:detail", args=[record.pk]),
        record.order.mirakl_id,
        record.order.customer_name,
        record.reason_label,
        date_format(opened, "c"),
        date_format(opened, "d/m/Y H:i"),
        format_html(
            '<span class="badge {}" data-state="{}">{}</span>',
            badge_class(record.state),
            record.state,
            record.get_state_display(),
        ),
        _sla_badge(record.sla_due_at, record.sla_state),
        format_html('<span class="badge new" title="{0}">{0}</span>', localize(unread))
        if unread
        else mark_safe('<span class="muted">0</span>'),  # noqa: S308 - a constant
        (assignee.get_full_name() or assignee.username)
        if assignee
        else mark_safe('<span class="muted">—</span>'),  # noqa: S308 - a constant
    )


def _sla_badge(due: Any, state: str | None) -> str:
    """``incidents/partials/_sla_badge.html`` in Python."""
    if not due:
        return mark_safe('<span class="muted">—</span>')  # noqa: S308 - a constant
    if state == "breached":
        text = _("late by %(ago)s") % {"ago": timesince(due)}
    else:
        text = _("%(left)s left") % {"left": timeuntil(due)}
    return format_html(
        '<span class="badge {}" data-sla="{}" title="{}">{}</span>',
        badge_class(state),
        state,
        date_format(localtime(due), "d/m/Y H:i"),
        text,
    )


@register.simple_tag
def inbox_filters_version() -> int:
    """The version of the inbox filter form's choices (:mod:`incidents.freshness`)."""
    from incidents.freshness import inbox_filters_version as version

    return version()
