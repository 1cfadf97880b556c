"""Mirakl's codes in words: the states of orders and lines, who writes, the topic types.

Mirakl speaks in enums (``SHIPPED``, ``INCIDENT_OPEN``, ``CUSTOMER``); the desk shows
them translated, never raw. Every enum Incidesk shows is here, next to its label (the
labels are in ``locale/*/django.po`` with the rest of the interface), and
:data:`RAW_CODES` is the list the browser walk test looks for on every page
(``tests/browser/test_walk.py``): a code on screen is a label missing here.

A code Mirakl adds later is shown as sent, in a readable case (``NEW_STATE`` → "New
state"), rather than hidden.
"""

from __future__ import annotations

import re
from typing import Final

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

__all__ = [
    "LINE_STATES",
    "ORDER_STATES",
    "PARTY_TYPES",
    "RAW_CODES",
    "RAW_CODE_PATTERNS",
    "REFUND_STATES",
    "TOPIC_TYPES",
    "mirakl_label",
    "parties_in_words",
    "party_name",
]

#: OR11 ``order_state`` (MIRAKL_API.md: "Order states").
ORDER_STATES: Final[dict[str, Promise]] = {
    "STAGING": _("Being checked for fraud"),
    "WAITING_ACCEPTANCE": _("Awaiting acceptance"),
    "WAITING_DEBIT": _("Awaiting debit"),
    "WAITING_DEBIT_PAYMENT": _("Awaiting payment"),
    "SHIPPING": _("To ship"),
    "SHIPPED": _("Shipped"),
    "TO_COLLECT": _("Ready for collection"),
    "RECEIVED": _("Received"),
    # "Closed" alone is an incident's state ("Cerrada"); an order is "Cerrado".
    "CLOSED": pgettext_lazy("Mirakl order state", "Closed"),
    "REFUSED": _("Refused"),
    "CANCELED": _("Cancelled"),
}

#: OR11 ``order_line_state``: the order's states, plus the incident and refund ones.
LINE_STATES: Final[dict[str, Promise]] = {
    **ORDER_STATES,
    "INCIDENT_OPEN": _("Incident open"),
    "INCIDENT_CLOSED": _("Incident closed"),
    "WAITING_REFUND": _("Awaiting refund"),
    "WAITING_REFUND_PAYMENT": _("Refund being paid"),
    "REFUNDED": _("Refunded"),
}

#: A refund's ``refund_state`` (the refunds app shows its own choices; listed here so
#: the walk test looks for them too).
REFUND_STATES: Final[dict[str, Promise]] = {
    "WAITING_REFUND": _("Awaiting refund"),
    "WAITING_REFUND_PAYMENT": _("Refund being paid"),
    "WAITING_REFUND_TAX_CONFIRMATION": _("Waiting for tax confirmation"),
    "REFUNDED": _("Refunded"),
    "REFUSED": _("Refused"),
}

#: Who writes a message, or who it goes to (M11 ``from.type``, ``to[].type``).
PARTY_TYPES: Final[dict[str, Promise]] = {
    "CUSTOMER": _("Customer"),
    "OPERATOR": _("Operator"),
    "SHOP": _("Shop"),
    "SHOP_USER": _("Shop"),
}

#: A thread's ``topic.type``.
TOPIC_TYPES: Final[dict[str, Promise]] = {
    "REASON_CODE": _("Marketplace reason"),
    "FREE_TEXT": _("Free text"),
}

_ALL: Final[dict[str, Promise]] = {
    **LINE_STATES,
    **REFUND_STATES,
    **PARTY_TYPES,
    **TOPIC_TYPES,
}

#: Every raw code the desk must never show as such (the walk test's list).
RAW_CODES: Final[tuple[str, ...]] = tuple(sorted(_ALL))

#: Families of codes not listed one by one: RE01 resolution codes (``INC_SOLVED_…``,
#: ``INC_CLOSED_…``), A01's suspension types, outbox and sync internals.
RAW_CODE_PATTERNS: Final[tuple[re.Pattern[str], ...]] = (
    re.compile(r"\bINC_(?:SOLVED|CLOSED)_[A-Z_]+\b"),
    re.compile(r"\b[A-Z]+_SUSPENSION\b"),
)


def mirakl_label(code: str | None) -> str:
    """``SHIPPED`` → "Shipped" (translated); empty for none; an unknown code readable."""
    if not code:
        return ""
    label = _ALL.get(code)
    if label is not None:
        return str(label)
    return code.replace("_", " ").capitalize()


_PARTY_LIST = re.compile(r"→ ((?:CUSTOMER|OPERATOR|SHOP)(?:, (?:CUSTOMER|OPERATOR|SHOP))*)")


def parties_in_words(text: str) -> str:
    """``"Asunto → CUSTOMER, OPERATOR: …"`` → ``"Asunto → Cliente, Operador: …"``.

    The audit log's reply entries were written with Mirakl's party codes; their history
    is shown in words whatever year they were written."""
    return _PARTY_LIST.sub(
        lambda m: "→ " + ", ".join(mirakl_label(code) for code in m.group(1).split(", ")),
        text,
    )


#: Display names that only repeat the party (Mirakl names the operator "Operator").
_GENERIC_NAMES: Final[frozenset[str]] = frozenset(
    {"operator", "operador", "customer", "cliente", "shop", "tienda", "seller", "vendedor"}
)


def party_name(display_name: str | None) -> str:
    """A participant's name worth showing next to its party: empty when it only says the
    party again in English or Spanish ("Operador (Operator)" reads "Operador")."""
    name = (display_name or "").strip()
    return "" if name.casefold() in _GENERIC_NAMES else name
