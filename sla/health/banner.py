"""The banner every page of a marketplace shows while A01 says its shop is not open.

The last A01 answer of each connection decides; the list is kept in the cache (every
page reads it) and forgotten when an A01 answer is stored. The advice is the guides':
PcComponentes reactivates a shop once it has resolved all its incidents and written to
its account manager; a shop closed for holidays still answers within 24 hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext_lazy as _

from core.cache_ahead import cache_get
from core.choices import Badge, BadgeChoices
from core.models import MarketplaceConnection
from core.shop_account import ShopAccountSnapshot
from mirakl.constants import ShopState

__all__ = [
    "SUSPENSION_LABELS",
    "ShopStateChoices",
    "ShopStateBanner",
    "shop_state_banners",
    "shop_state_banners_forget",
    "shop_state_label",
]

CACHE_KEY = "sla:health:shop-state-banners"
CACHE_SECONDS = 300

SUSPENSION_LABELS = {
    "AUTOMATIC_SUSPENSION": _("automatic suspension by the marketplace's quality control"),
    "MANUAL": _("suspended by the operator"),
    "PENDING_APPROVAL": _("awaiting the operator's approval"),
    "INCOMPLETE_PROFILE": _("mandatory fields missing from the shop's profile"),
}


class ShopStateChoices(BadgeChoices):
    """Mirakl's shop states (A01 ``shop_state``, :class:`mirakl.constants.ShopState`) as
    the desk shows them."""

    OPEN = "OPEN", _("open"), Badge.OK
    CLOSE = "CLOSE", _("closed for a while (holidays)"), Badge.WARN
    SUSPENDED = "SUSPENDED", _("suspended"), Badge.BAD
    TERMINATED = "TERMINATED", _("terminated"), Badge.BAD


def shop_state_label(state: str) -> str:
    """The shop state in words (never Mirakl's code)."""
    if state in ShopStateChoices.values:
        return str(ShopStateChoices(state).label)
    return str(_("unknown"))


@dataclass(frozen=True, slots=True)
class ShopStateBanner:
    """One marketplace whose shop is not open, as its banner shows it."""

    connection_id: int
    code: str
    name: str
    state: str
    suspension_type: str
    seen_at: datetime
    closed_from: datetime | None
    closed_to: datetime | None

    @property
    def is_suspended(self) -> bool:
        return self.state == ShopState.SUSPENDED

    @property
    def is_closed(self) -> bool:
        return self.state == ShopState.CLOSE

    @property
    def state_label(self) -> str:
        return shop_state_label(self.state)

    @property
    def suspension_label(self) -> str:
        label = SUSPENSION_LABELS.get(self.suspension_type)
        return str(label) if label is not None else ""


def _load() -> list[ShopStateBanner]:
    latest = ShopAccountSnapshot.objects.filter(connection=OuterRef("pk")).order_by(
        "-fetched_at", "-pk"
    )
    rows = (
        MarketplaceConnection.objects.filter(is_active=True)
        .annotate(snapshot_id=Subquery(latest.values("pk")[:1]))
        .exclude(snapshot_id=None)
        .values_list("snapshot_id", flat=True)
    )
    banners = []
    for snap in (
        ShopAccountSnapshot.objects.filter(pk__in=list(rows))
        .exclude(shop_state__in=("", ShopState.OPEN))
        .select_related("connection")
        .order_by("connection__name")
    ):
        banners.append(
            ShopStateBanner(
                connection_id=snap.connection_id,
                code=snap.connection.code,
                name=snap.connection.name,
                state=snap.shop_state,
                suspension_type=snap.suspension_type,
                seen_at=snap.fetched_at,
                closed_from=snap.closed_from,
                closed_to=snap.closed_to,
            )
        )
    return banners


def shop_state_banners() -> list[ShopStateBanner]:
    """Every active marketplace whose shop A01 last said is not open (cached)."""
    banners = cache_get(CACHE_KEY)
    if banners is None:
        banners = _load()
        cache.set(CACHE_KEY, banners, CACHE_SECONDS)
    return banners


def shop_state_banners_forget() -> None:
    """Forget the cached list (a new A01 answer was stored)."""
    cache.delete(CACHE_KEY)
