"""Template filters of the desk: money in EUR, parties, addresses, safe links."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from django import template
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.mirakl_codes import mirakl_label, party_name

__all__ = [
    "address_lines",
    "eur",
    "http_url",
    "mirakl",
    "participant",
    "page_href",
    "page_url",
    "party",
    "parties",
]

register = template.Library()


@register.filter
def http_url(value: Any) -> str:
    """``value`` when it is an http(s) URL with a host, else "": a link made from Mirakl
    data (a carrier's tracking URL) must never run ``javascript:`` or open ``data:``.

    Browsers drop tabs and line breaks inside a scheme (``java\tscript:``): a URL with
    any control character or space is refused whole rather than cleaned."""
    text = str(value or "")
    if not text or any(ch <= " " or ch == "\x7f" for ch in text):
        return ""
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return text


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


#: Party labels, translated when shown (one lookup per label, not three).
_PARTY_LABELS = {
    "CUSTOMER": gettext_noop("Customer"),
    "OPERATOR": gettext_noop("Operator"),
    "SHOP": gettext_noop("Shop"),
}


def _party_label(kind: str) -> str:
    msgid = _PARTY_LABELS.get(kind)
    return _(msgid) if msgid else kind.title()


@register.filter
def party(kind: str | None) -> str:
    """``CUSTOMER`` → "Customer" (translated)."""
    return _party_label(kind or "")


@register.filter
def parties(kinds: list[str] | None) -> str:
    """``["CUSTOMER", "OPERATOR"]`` → "Customer, Operator"."""
    return ", ".join(_party_label(k) for k in kinds or [])


@register.filter
def mirakl(code: str | None) -> str:
    """A Mirakl code in words (``SHIPPED`` → "Enviado"), see :mod:`core.mirakl_codes`."""
    return mirakl_label(code)


@register.filter
def participant(display_name: str | None) -> str:
    """A participant's name, empty when it only repeats its party ("Operator")."""
    return party_name(display_name)


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


@register.simple_tag(takes_context=True)
def page_url(context: template.Context, name: str, *args: Any) -> str:
    """The address of a panel's action on the page being drawn: under the incident on an
    incident's page (``name``), under the order on the order page (``app:order_<name>``).

    Reads ``incident`` and ``order`` from the context (see :mod:`incidents.subject`).
    """
    incident = context.get("incident")
    if incident:
        return reverse(name, args=[incident.pk, *args])
    app, _sep, view = name.partition(":")
    return reverse(f"{app}:order_{view}", args=[context["order"].pk, *args])


@register.simple_tag(takes_context=True)
def page_href(context: template.Context) -> str:
    """The address of the page being drawn: the incident's, or else the order's."""
    incident = context.get("incident")
    if incident:
        return reverse("desk:incident", args=[incident.pk])
    return reverse("desk:order", args=[context["order"].pk])
