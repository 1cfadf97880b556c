"""Refunds against the shop's payable balance: the check before sending, and Mirakl's
refusal for lack of balance, both with the guide's advice.

PcComponentes' guide: "Si no tenéis saldo pagadero suficiente, el sistema no os dejará
realizar el abono. En ese caso, consultad con vuestro Account Manager." Mirakl stays the
judge: the check compares the refund with the last payable balance A01 gave (it is
asked once a day, so the page shows its age), less the refunds asked through Incidesk
since then, and only warns; the agent may send it anyway. Refunds made in Mirakl's back
office since that answer are not known here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from core.models import MarketplaceConnection
from core.shop_account import shop_account_last
from core.sync.health import data_age_text
from refunds.models import RefundRequest

__all__ = [
    "BalanceCheck",
    "is_balance_refusal",
    "refund_balance_check",
    "refusal_text",
]

#: How Mirakl words a refusal for lack of balance (OR28; third-party reports, the
#: sandbox). Any wording mentioning an insufficient or payable balance counts.
_BALANCE_REFUSAL = re.compile(
    r"(payable\s+balance|insufficient\s+balance|sufficient\s+balance|not\s+enough\s+balance"
    r"|saldo\s+(pagadero|insuficiente))",
    re.IGNORECASE,
)


def is_balance_refusal(message: str | None) -> bool:
    """Whether Mirakl's refusal message says the payable balance is too low."""
    return bool(message and _BALANCE_REFUSAL.search(message))


def refusal_text(message: str | None) -> str:
    """A refusal as the desk shows it: Mirakl's lack of balance translated, with the
    guide's advice; any other refusal quoted as Mirakl wrote it."""
    if is_balance_refusal(message):
        return _(
            "Mirakl did not accept the refund: the shop does not have enough payable balance. "
            "Check with your account manager at the marketplace."
        )
    return _("Mirakl refused the refund: %(message)s") % {"message": message or "—"}


def _money(value: Decimal) -> str:
    from core.templatetags.incidesk import eur

    return eur(value)


@dataclass(frozen=True, slots=True)
class BalanceCheck:
    """A refund's total against the last known payable balance.

    ``available`` is that balance less the refunds asked through Incidesk since it was
    read (not refused or rejected); ``None`` when Mirakl has not been asked yet.
    """

    total: Decimal
    payable: Decimal | None = None
    as_of: datetime | None = None
    asked_since: Decimal = Decimal(0)
    now: datetime | None = None

    @property
    def known(self) -> bool:
        return self.payable is not None and self.as_of is not None

    @property
    def available(self) -> Decimal | None:
        return None if self.payable is None else self.payable - self.asked_since

    @property
    def exceeds(self) -> bool:
        available = self.available
        return available is not None and self.total > available

    @property
    def age_text(self) -> str:
        if self.as_of is None:
            return data_age_text(None)
        return data_age_text((self.now or timezone.now()) - self.as_of)

    @property
    def warning(self) -> str:
        """The warning shown before sending (empty when the refund fits or nothing is known)."""
        if not self.exceeds:
            return ""
        assert self.payable is not None  # noqa: S101 - exceeds implies known
        values = {
            "total": _money(self.total),
            "balance": _money(self.payable),
            "age": self.age_text,
        }
        if self.asked_since:
            values["since"] = _money(self.asked_since)
            text = _(
                "This refund (%(total)s) is above the last known payable balance "
                "(%(balance)s, %(age)s, less %(since)s already asked to refund since then)."
            )
        else:
            text = _(
                "This refund (%(total)s) is above the last known payable balance "
                "(%(balance)s, %(age)s)."
            )
        return (
            (text % values)
            + " "
            + _(
                "Without enough payable balance Mirakl will not let the refund through: check "
                "with your account manager at the marketplace. You may still send it; Mirakl "
                "decides."
            )
        )


def refund_balance_check(
    *,
    connection: MarketplaceConnection,
    total: Decimal,
    now: datetime | None = None,
    exclude: RefundRequest | None = None,
) -> BalanceCheck:
    """Compare a refund's total with the connection's last known payable balance
    (``exclude``: the request being checked, when it is already stored)."""
    now = now or timezone.now()
    account = shop_account_last(connection=connection)
    if account is None or account.payable_balance is None:
        return BalanceCheck(total=total, now=now)
    since = RefundRequest.objects.filter(
        connection=connection, created_at__gt=account.fetched_at
    ).exclude(state__in=RefundRequest.VOID_STATES)
    if exclude is not None:
        since = since.exclude(pk=exclude.pk)
    asked = since.aggregate(total=Sum("total"))["total"] or Decimal(0)
    return BalanceCheck(
        total=total,
        payable=account.payable_balance,
        as_of=account.fetched_at,
        asked_since=asked,
        now=now,
    )
