"""What the sync engine runs, as the apps registered it from their ``AppConfig.ready``.

The engine (:mod:`core.sync.runner`) knows cursors, runs, locks and skipped records;
it does not know what a thread or an incident is. Each app that owns a resource
registers it here, and each app that keeps something of an OR11 order page (the
incidents of its lines, the refunds on them) registers a handler of that page:

- a :class:`Resource`: how its pages are read from Mirakl, what of a page can be
  prepared ahead of its write, how one page is stored, how a page is cut into single
  records when Postgres refuses it whole;
- an :class:`OrderPageHandler`: called with every OR11 page after the orders and
  lines are written, in the page's transaction;
- an after-run hook: work done once per run rather than per page;
- a run scope: a context entered around each run of each resource (what an app reads
  once per run rather than once per page, say).

Registration happens at start-up, before any sync runs; the lists are never changed
afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from core.models import MarketplaceConnection
    from core.sync.models import SyncCursor
    from core.sync.results import PageResult, Skipped
    from mirakl.client import MiraklClient
    from mirakl.schemas import OrderLineRecord as MiraklLine
    from mirakl.schemas import OrderRecord as MiraklOrder

__all__ = [
    "OrderPageHandler",
    "Page",
    "Resource",
    "StoredOrder",
    "after_run_hooks",
    "order_page_handlers",
    "register_after_run",
    "register_order_page_handler",
    "register_resource",
    "register_run_scope",
    "resources",
    "run_scopes",
]


@dataclass(frozen=True, slots=True)
class Page:
    """One page read from Mirakl and the position after it (offset or page token), with
    what the resource prepared of it ahead of its write (``None`` if nothing)."""

    payload: Any
    offset: int = 0
    page_token: str = ""
    prepared: Any = None


#: (kind of record, Mirakl id, a one-record page, the record) for one-by-one writes.
RecordSplit = Iterator[tuple[str, str, Any, Any]]


@dataclass(frozen=True, slots=True)
class Resource:
    """A resource the sync reads from Mirakl and keeps a cursor of.

    :param name: the cursor's ``resource`` (``orders``, ``threads``...); never renamed.
    :param position: runs go in increasing position (reasons before orders before
        threads: a thread links to an order that is already there).
    :param pages: the pages to read, from where the cursor stands.
    :param store: writes one page (inside the caller's transaction), given what
        ``prepare`` made of it, or ``None`` (not prepared: its records one by one).
    :param prepare: the share of a page's work that needs neither the database nor the
        pages before it (rows built and made storable), given the connection's key and
        the page. The engine runs it in the thread that reads the pages, ahead of the
        writes, so that it overlaps the statements of the page before.
    :param records: the page cut into single records, for one-by-one writes.
    :param max_age: an incremental run skips the resource while its last success is
        younger than this (lists that change rarely).
    """

    name: str
    position: int
    pages: Callable[[MiraklClient, SyncCursor], Iterator[Page]]
    store: Callable[[MarketplaceConnection, MiraklClient, Any, bool, Any], PageResult]
    records: Callable[[Any], RecordSplit]
    max_age: timedelta | None = None
    prepare: Callable[[int, Any], Any] | None = None


@dataclass(slots=True)
class StoredOrder:
    """An order of an OR11 page as written: its Mirakl record, its key, its lines' keys,
    and what each handler prepared for it (by handler name)."""

    order: MiraklOrder
    pk: int
    lines: list[tuple[MiraklLine, int]]
    prepared: dict[str, Any] = field(default_factory=dict)


class OrderPageHandler(Protocol):
    """Something an app keeps of each OR11 page (incidents, refunds...).

    ``prepare`` runs on every order before anything is written, in the thread that reads
    the pages (it must not touch the database); raising
    :class:`~core.sync.storable.Unstorable` skips the whole order, as a malformed
    order field would. ``store`` runs once per page after the orders and lines.
    """

    name: str

    def prepare(self, order: MiraklOrder, skipped: list[Skipped]) -> Any: ...

    def store(
        self,
        *,
        connection: MarketplaceConnection,
        orders: list[StoredOrder],
        known: set[str],
        now: datetime,
    ) -> None: ...


AfterRun = Callable[["MarketplaceConnection", str, set[int], bool], None]

#: ``scope(connection, resource)``: a context manager entered before a run's first page
#: and left after its after-run hooks, whether the run succeeds or fails.
RunScope = Callable[["MarketplaceConnection", str], AbstractContextManager[None]]

_resources: dict[str, Resource] = {}
_run_scopes: list[RunScope] = []
_order_page_handlers: list[OrderPageHandler] = []
_after_run: list[tuple[int, AfterRun]] = []


def register_resource(resource: Resource) -> None:
    """Add a resource to every connection's sync (once per name)."""
    _resources[resource.name] = resource


def register_order_page_handler(handler: OrderPageHandler) -> None:
    """Have ``handler`` see every OR11 page (once per name)."""
    if all(existing.name != handler.name for existing in _order_page_handlers):
        _order_page_handlers.append(handler)


def register_after_run(hook: AfterRun, *, position: int = 100) -> None:
    """Call ``hook(connection, resource, touched_order_ids, resumed)`` after each run of
    each resource; hooks go in increasing ``position``."""
    if all(existing is not hook for _, existing in _after_run):
        _after_run.append((position, hook))
        _after_run.sort(key=lambda entry: entry[0])


def register_run_scope(scope: RunScope) -> None:
    """Enter ``scope(connection, resource)`` around each run of each resource."""
    if all(existing is not scope for existing in _run_scopes):
        _run_scopes.append(scope)


def resources() -> list[Resource]:
    """The registered resources in the order a sync runs them."""
    return sorted(_resources.values(), key=lambda resource: resource.position)


def order_page_handlers() -> list[OrderPageHandler]:
    return list(_order_page_handlers)


def run_scopes() -> list[RunScope]:
    return list(_run_scopes)


def after_run_hooks() -> list[AfterRun]:
    return [hook for _, hook in _after_run]
