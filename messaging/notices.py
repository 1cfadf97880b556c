"""The marketplace's automatic notice of an incident opening, recognised in a thread.

When the operator opens an incident, the marketplace posts a message to the shop alone
("Se ha abierto una incidencia en el pedido …"). It is the operator who writes, but the
claim is the customer's: the shop owes the customer an answer (SLA clock rule T6,
``sla.clock``), and the reply box offers the customer first.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

__all__ = ["OPENING_NOTICE_WINDOW", "is_opening_notice"]

#: How close to an incident's opening the marketplace's notice is.
OPENING_NOTICE_WINDOW = timedelta(minutes=2)

_OPERATOR = "OPERATOR"
_SHOP = "SHOP"


def is_opening_notice(
    *, author: str, recipients: Iterable[str], at: datetime, incident_openings: Iterable[datetime]
) -> bool:
    """Whether a message is that notice: the operator's, to the shop alone (or to no one
    recorded), within :data:`OPENING_NOTICE_WINDOW` of an incident's opening on the order."""
    if author != _OPERATOR or frozenset(recipients) - {_SHOP}:
        return False
    return any(abs(at - opened) <= OPENING_NOTICE_WINDOW for opened in incident_openings)
