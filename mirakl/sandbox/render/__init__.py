"""Render sandbox records as Mirakl JSON, with per-record caches.

Orders and thread headers are serialised once and cached as UTF-8 JSON (dropped on change),
messages once for good (they never change). A page is then a join of byte strings, with
nothing to encode, which keeps a 100-item OR11 or M11 page well under a millisecond once
its records were rendered (``SandboxState.warm`` renders them all in the background).

Two renderings of each record live here: ``*_dict`` builds the payload as Python data (the
readable reference, and what tests compare against), ``*_json`` writes the same JSON text
directly (``dumps(x_dict(r)) == x_json(r)``, byte for byte) about four times faster, which
is what a first read of a record costs: a page of 100 orders nobody read yet.
"""

from __future__ import annotations

from mirakl.sandbox.render.orders import OrderRenderer
from mirakl.sandbox.render.threads import ThreadRenderer
from mirakl.sandbox.render.values import (
    IVA_CODE,
    IVA_RATE,
    dumps,
    legacy_refund_state,
    money,
    q2,
    vat_included,
)

__all__ = [
    "IVA_CODE",
    "IVA_RATE",
    "Renderer",
    "dumps",
    "legacy_refund_state",
    "money",
    "q2",
    "vat_included",
]


class Renderer(OrderRenderer, ThreadRenderer):
    """Renders the sandbox's records: orders (``orders``), threads and messages
    (``threads``); knows the shop for participants and senders."""
