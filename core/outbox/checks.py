"""System check: every outbox kind has its adapter (as Sentry checks its categories)."""

from __future__ import annotations

from typing import Any

from django.core import checks

from core.outbox.adapters import registered_kinds
from core.outbox.kinds import OutboxKind

__all__ = ["outbox_adapters_check"]


@checks.register()
def outbox_adapters_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A kind without an adapter would stay queued for ever: refuse to start."""
    missing = sorted(set(OutboxKind) - registered_kinds())
    return [
        checks.Error(
            f"Outbox kind {kind.slug} ({kind.value}) has no adapter.",
            hint="Register one with core.outbox.adapters.register in its app's ready().",
            id="core.E001",
        )
        for kind in missing
    ]
