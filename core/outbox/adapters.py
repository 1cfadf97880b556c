"""What one kind of write must tell the engine: how to send it, find it, and record it.

Each domain app writes one small :class:`Adapter` per kind, next to its models, and
registers it from its ``AppConfig.ready`` with :func:`register`. The engine
(:mod:`core.outbox.engine`) does the rest the same way for every kind: claim, order
within a group, retries, the check before resending, the hand-over to the next row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from core.outbox.kinds import OutboxKind

if TYPE_CHECKING:
    from core.outbox.engine import Attempt
    from core.outbox.models import OutboxEntry
    from mirakl.client import MiraklClient

__all__ = [
    "Adapter",
    "Check",
    "DeliveryRefused",
    "DeliveryTransient",
    "adapter_for",
    "register",
    "registered_kinds",
]


class DeliveryRefused(Exception):
    """The other end said no: sending the same thing again will not help."""

    def __init__(self, message: str, *, call: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.call = call
        self.status = status


class DeliveryTransient(Exception):
    """Not delivered for now (rate limit, 5xx, timeout, network): try again later.

    ``outcome_unknown``: the write may have arrived all the same; the next attempt
    looks for it before sending. ``retry_after``: seconds the other end asked to wait.
    """

    def __init__(
        self,
        message: str,
        *,
        call: str = "",
        status: int | None = None,
        outcome_unknown: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.call = call
        self.status = status
        self.outcome_unknown = outcome_unknown
        self.retry_after = retry_after


@dataclass(slots=True)
class Check:
    """What an adapter's :meth:`Adapter.find` saw in Mirakl.

    ``result``: the write as Mirakl has it (what :meth:`Adapter.send` would have
    returned), or ``None`` when it is not there. ``evidence``: what was looked at,
    stored on the outbox row and shown while the row is in doubt: ``call``, and
    either ``found`` (Mirakl's id) and ``found_text``, or ``seen`` (how many candidates
    were compared), ``unit`` (``messages`` / ``refunds``) and ``since``, or
    ``line_state``.
    """

    result: Any = None
    evidence: dict[str, Any] = field(default_factory=dict)


class Adapter:
    """One kind of write. Subclasses set ``kind`` and ``call`` and implement the methods.

    Only :meth:`send` and :meth:`find` talk to the outside, never inside a
    transaction; the ``on_*`` hooks run inside the engine's transaction, with the
    outbox row, and update the domain row (its state, ids, audit entries).
    """

    kind: ClassVar[OutboxKind]
    #: The call it makes, for errors and logs (``M12``, ``OR28``, ``webhook``…).
    call: ClassVar[str]
    #: Attempts before the row is given up as failed; ``None``: never give up.
    max_attempts: ClassVar[int | None] = None
    #: Whether :meth:`find` can look the write up; without it an unknown outcome is
    #: sent again (at least once: webhooks, e-mails).
    can_check: ClassVar[bool] = True

    # ------------------------------------------------------------------ reading

    def load(self, entry: OutboxEntry) -> Any | None:
        """The domain row of ``entry`` with what sending needs, or ``None`` if gone."""
        raise NotImplementedError

    def moot(self, row: Any) -> bool:
        """True when there is nothing to send any more (e.g. undone meanwhile)."""
        return False

    def connection(self, row: Any) -> Any | None:
        """The marketplace connection a Mirakl client is built for (None: no client)."""
        return None

    def client(self, connection: Any) -> MiraklClient:
        """A Mirakl client for ``connection``, when the caller did not bring one."""
        raise NotImplementedError(f"{type(self).__name__} does not talk to Mirakl")

    # ------------------------------------------------------------------ talking

    def send(self, attempt: Attempt) -> Any:
        """Send the write once; returns what the domain row needs from the answer.

        Raises :class:`DeliveryRefused` / :class:`DeliveryTransient` (or the Mirakl
        client's own errors, which the engine maps the same way).
        """
        raise NotImplementedError

    def find(self, attempt: Attempt) -> Check:
        """Look the write up in Mirakl after an attempt whose outcome is unknown.

        Matches only what this row sent (text, recipients, files, amounts, time
        window…), never somebody else's write that looks alike.
        """
        return Check()

    # ------------------------------------------------------------------ recording

    def on_claimed(self, row: Any, entry: OutboxEntry, now: datetime) -> None:
        """An attempt starts (committed before the call)."""

    def on_sent(self, row: Any, entry: OutboxEntry, result: Any, *, found: bool) -> None:
        """Delivered now (``found`` False) or found delivered by an earlier attempt."""

    def on_retry(self, row: Any, entry: OutboxEntry, error: DeliveryTransient) -> None:
        """Not delivered for now; ``entry.in_doubt`` says whether it may have been."""

    def on_refused(self, row: Any, entry: OutboxEntry, error: DeliveryRefused) -> None:
        """Refused by the other end."""

    def on_failed(self, row: Any, entry: OutboxEntry, error: DeliveryTransient) -> None:
        """Given up after ``max_attempts`` transient failures."""

    def on_skipped(self, row: Any, entry: OutboxEntry) -> None:
        """Nothing was sent: :meth:`moot` said there is nothing to send any more."""

    # ------------------------------------------------------------------ sweeping

    def before_sweep(self, now: datetime) -> None:
        """The kind's own housekeeping, run by each sweep before it delivers due rows."""


_registry: dict[OutboxKind, Adapter] = {}


def register(adapter: type[Adapter]) -> type[Adapter]:
    """Register the adapter class of its ``kind`` (a class decorator; once per kind)."""
    kind = OutboxKind(adapter.kind)
    current = _registry.get(kind)
    if current is not None and type(current) is not adapter:
        raise ValueError(f"outbox kind {kind.slug} already has {type(current).__name__}")
    _registry[kind] = adapter()
    return adapter


def adapter_for(kind: int) -> Adapter:
    """The registered adapter of ``kind``; ``LookupError`` when its app did not register one."""
    try:
        return _registry[OutboxKind(kind)]
    except (KeyError, ValueError):
        raise LookupError(f"no outbox adapter is registered for kind {kind}") from None


def registered_kinds() -> set[OutboxKind]:
    return set(_registry)
