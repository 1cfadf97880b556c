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

from core.addresses import reverse_ids
from core.mirakl_codes import mirakl_label, party_name

__all__ = [
    "address",
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
        return reverse_ids(name, incident.pk, *args)
    app, _sep, view = name.partition(":")
    return reverse_ids(f"{app}:order_{view}", context["order"].pk, *args)


@register.simple_tag(takes_context=True)
def page_href(context: template.Context) -> str:
    """The address of the page being drawn: the incident's, or else the order's."""
    incident = context.get("incident")
    if incident:
        return reverse_ids("desk:incident", incident.pk)
    return reverse_ids("desk:order", context["order"].pk)


@register.simple_tag
def address(name: str, *args: Any) -> str:
    """``{% url name args %}`` (``as`` too), from the name's address reversed once
    when the arguments are ids (:func:`core.addresses.reverse_ids`): the pages' panels
    link their actions under the incident or the order."""
    return reverse_ids(name, *args)


#: The top bar's template: ``{% topbar %}`` writes what it draws, in Python.
TOPBAR_TEMPLATE = "core/partials/_topbar.html"


@register.simple_tag(takes_context=True)
def topbar(context: template.Context) -> str:
    """The top bar of every page (``TOPBAR_TEMPLATE``): the menu the user's permissions
    open, the language switch, the bell, their name and "Log out".

    Written in Python, byte for byte what the template gives
    (``tests/core/test_topbar.py`` compares them): its forty tags (nine addresses, five
    permission checks) cost every page about a millisecond.
    """
    from django.conf import settings
    from django.utils.html import conditional_escape as esc
    from django.utils.safestring import mark_safe
    from django.utils.translation import get_language, get_language_info

    user = context.get("user")
    if user is None or not user.is_authenticated:
        return ""
    token = context.get("csrf_token")
    csrf = (
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{esc(token)}">'
        if token and token != "NOTPROVIDED"  # noqa: S105 - the csrf tag's marker, no secret
        else ""
    )
    urls = _topbar_urls()
    nav = [f'<a href="{urls["overview"]}">{_("Overview")}</a>']
    queue = refunds = sla = staff = ""
    if user.has_perm("incidents.view_incident"):
        queue = f'<a href="{urls["inbox"]}">{_("Queue")}</a>'
    if user.has_perm("incidents.refund_incident"):
        refunds = f'<a href="{urls["approvals"]}">{_("Refund approvals")}</a>'
    if user.has_perm("incidents.review_sla"):
        sla = (
            f'<a href="{urls["review"]}">{_("SLA")}</a>\n'
            f'      <a href="{urls["health"]}">{_("Shop health")}</a>'
        )
    if user.is_staff:
        staff = f'<a href="{urls["admin"]}">{_("Administration")}</a>'
    current = get_language()
    switches = "".join(
        f'\n    <button class="link-button" name="language" value="{esc(code)}" '
        f'lang="{esc(code)}" title="{esc(get_language_info(code)["name_local"])}">'
        f"{esc(code.upper())}</button>\n  "
        for code, _name in settings.LANGUAGES
        if code != current
    )
    request = context.get("request")
    path = esc(request.get_full_path()) if request is not None else ""
    name = esc(user.get_full_name() or user.username)
    bell = _("Notifications")
    return mark_safe(  # noqa: S308 - every value above is escaped or ours
        f'\n  <header class="topbar">\n'
        f'    <a class="brand" href="{urls["overview"]}">Incidesk</a>\n'
        f"    <nav>\n"
        f"      {nav[0]}\n"
        f"      {queue}\n"
        f"      {refunds}\n"
        f"      {sla}\n"
        f"      {staff}\n"
        f"    </nav>\n"
        f'    <div class="user">\n'
        f'      \n<form class="language-switch" action="{urls["set_language"]}" method="post">'
        f"{csrf}\n"
        f'  <input name="next" type="hidden" value="{path}">\n'
        f"  {switches}\n"
        f"</form>\n\n"
        f'      <a class="bell" href="{urls["notifications"]}" hx-get="{urls["bell"]}" '
        f'hx-trigger="load, every 60s" hx-swap="innerHTML" title="{bell}" '
        f'aria-label="{bell}">{_bell_icon()}</a>\n'
        f"      <span>{name}</span>\n"
        f'      <form action="{urls["logout"]}" method="post">{csrf}\n'
        f'        <button class="link-button">{_("Log out")}</button>\n'
        f"      </form>\n"
        f"    </div>\n"
        f"  </header>\n  "
    )


_TOPBAR_ROUTES = {
    "overview": "desk:overview",
    "inbox": "desk:inbox",
    "approvals": "refunds:approvals",
    "review": "sla:review",
    "health": "sla:health",
    "admin": "admin:index",
    "set_language": "set_language",
    "notifications": "notifications:list",
    "bell": "notifications:bell",
    "logout": "logout",
}


def _topbar_urls() -> dict[str, str]:
    """The top bar's addresses, reversed once per URLconf and prefix (no arguments)."""
    from django.urls import get_script_prefix, get_urlconf
    from django.utils.html import escape

    urlconf = (get_urlconf(), get_script_prefix())
    urls = _TOPBAR_URLS.get(urlconf)
    if urls is None:
        urls = _TOPBAR_URLS[urlconf] = {
            key: escape(reverse(name)) for key, name in _TOPBAR_ROUTES.items()
        }
    return urls


_TOPBAR_URLS: dict[Any, dict[str, str]] = {}


def _bell_icon() -> str:
    """``sla/partials/_bell_icon.html`` (a constant icon), read once."""
    global _BELL_ICON  # noqa: PLW0603 - a constant read once
    if _BELL_ICON is None:
        from django.template.loader import render_to_string

        _BELL_ICON = render_to_string("sla/partials/_bell_icon.html")
    return _BELL_ICON


_BELL_ICON: str | None = None
