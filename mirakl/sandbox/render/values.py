"""Values as Mirakl writes them: amounts, IVA, dates, and JSON text written directly.

The ``json_*`` writers each write exactly what ``json.dumps(value, ensure_ascii=False)``
writes for the value the matching ``*_dict`` code puts in a payload (see
:mod:`mirakl.sandbox.render`).
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from json.encoder import encode_basestring
from typing import Any

from mirakl.sandbox.clock import format_ms

__all__ = [
    "IVA_CODE",
    "IVA_RATE",
    "JSON_IVA",
    "date_or_none",
    "dumps",
    "json_bool",
    "json_date",
    "json_int",
    "json_money",
    "json_str",
    "json_taxes",
    "legacy_refund_state",
    "money",
    "q2",
    "tax_list",
    "vat_included",
]

IVA_CODE = "IVA21"
IVA_RATE = Decimal("21")
_CENT = Decimal("0.01")
_HUNDRED = Decimal("100")
#: A refund carries its state twice, as Mirakl sends it: ``refund_state`` (every state)
#: and the deprecated ``state``, which "will not contain newer states added to refunds".
#: For those it shows the older state that follows (an inference: MIRAKL_API_ACCOUNT.md
#: documents no value for them).
_LEGACY_REFUND_STATES = {"WAITING_REFUND_TAX_CONFIRMATION": "WAITING_REFUND"}


def legacy_refund_state(state: str) -> str:
    """The deprecated ``state`` field of a refund in ``state`` (``refund_state``)."""
    return _LEGACY_REFUND_STATES.get(state, state)


def q2(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def vat_included(gross: Decimal) -> Decimal:
    """The IVA part of a tax-included amount."""
    return q2(gross * IVA_RATE / (_HUNDRED + IVA_RATE))


def money(value: Decimal) -> float:
    """Amounts go out as JSON numbers with (at most) two decimals, like Mirakl's."""
    return float(value)


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def date_or_none(ms: int | None) -> str | None:
    return None if ms is None else format_ms(ms)


def tax_list(entries: list[tuple[str, Decimal]]) -> list[dict[str, Any]]:
    return [{"amount": money(amount), "code": code} for code, amount in entries]


# ---------------------------------------------------- direct JSON text writers
_float_repr = float.__repr__


def json_str(value: str | None) -> str:
    """A string (or null)."""
    return "null" if value is None else encode_basestring(value)


def json_money(value: Decimal) -> str:
    """An amount: ``money(value)`` as JSON."""
    return _float_repr(float(value))


def json_bool(value: bool) -> str:
    return "true" if value else "false"


def json_int(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def json_date(ms: int | None) -> str:
    """A date (or null)."""
    return "null" if ms is None else f'"{format_ms(ms)}"'


def json_taxes(entries: list[tuple[str, Decimal]]) -> str:
    return ",".join(
        f'{{"amount":{json_money(amount)},"code":{json_str(code)}}}' for code, amount in entries
    )


JSON_IVA = encode_basestring(IVA_CODE)
