"""The queue's table: its columns and sort links, its pages, and its rows' cells.

:func:`table_html` writes what this module computes, byte for byte what the template
``desk/partials/_table.html`` draws: going through django-tables2 (bound columns and
rows, attribute dictionaries, a template context per cell) was half the queue's CPU, and
the template's loops most of the rest. The sort (``?sort=``) and the page
(``?page=``) are read as django-tables2 read them, so links and bookmarks keep working.

A row's cells are kept in the cache under a digest of what they show
(:func:`row_cells`): a row that did not change is not written again, whoever asks.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import localize
from django.utils.functional import Promise, cached_property
from django.utils.html import conditional_escape, escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django_tables2.paginators import LazyPaginator
from django_tables2.templatetags.django_tables2 import table_page_range

from core.params import query_int
from desk.selectors import QueueRow
from incidents.models import Incident
from incidents.templatetags.incident_badges import state_badge
from messaging.models import Party
from sla.models import QueueEntry
from sla.templatetags.sla_badges import sla_badge

__all__ = [
    "COUNT_AT_MOST",
    "QUEUE_COLUMNS",
    "TABLE_TEMPLATE",
    "CappedPaginator",
    "QueueColumn",
    "QueueTable",
    "row_cells",
    "table_html",
]


#: The queue counts its rows up to this many ("more than 10,000"): counting a hundred
#: thousand open rows cost more than the rest of the page.
COUNT_AT_MOST = 10_000

#: How long a row's cells stay in the cache (a changed row has another key at once).
ROW_CACHE_SECONDS = 600
#: A deadline's cell is written again each minute (its text counts minutes).
SLA_CACHE_SECONDS = 120
#: Bumped when the cells' markup changes: rows kept with the old one are not shown.
ROW_MARKUP_VERSION = 1

logger = logging.getLogger(__name__)

_DASH = mark_safe('<span class="muted">—</span>')  # noqa: S308 - a constant


class CappedPaginator(Paginator):
    """A paginator whose count stops at :data:`COUNT_AT_MOST` (``capped`` says so); the
    pages past it are not offered."""

    capped = False

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        # Unsorted: the first 10,001 in any order count the same, without sorting them all.
        counted = (
            rows.order_by()[: COUNT_AT_MOST + 1].count()
            if isinstance(rows, QuerySet)
            else len(rows)
        )
        self.capped = counted > COUNT_AT_MOST
        return min(counted, COUNT_AT_MOST)


@dataclass(frozen=True, slots=True)
class QueueColumn:
    """A column of the queue: its header and what it sorts by (None: not sortable)."""

    name: str
    header: Promise
    order_by: tuple[str, ...] | None
    css_class: str = ""


#: The columns, in the order the cells are written (:func:`row_cells`).
QUEUE_COLUMNS: tuple[QueueColumn, ...] = (
    QueueColumn("select", gettext_lazy("Select"), None, "select"),
    QueueColumn("kind", gettext_lazy("Kind"), ("kind", "due_at", "id")),
    QueueColumn("connection", gettext_lazy("Marketplace"), ("connection__name",)),
    QueueColumn("order", gettext_lazy("Order"), ("order_number",)),
    QueueColumn("reason", gettext_lazy("Reason and last message"), ("reason_label",)),
    QueueColumn("opened_at", gettext_lazy("Opened"), ("opened_at",)),
    QueueColumn("state", gettext_lazy("State"), ("incident_state",)),
    QueueColumn("owed", gettext_lazy("Reply owed to"), ("owed_to", "due_at", "id")),
    # Sorted by :meth:`QueueTable._order_sla` (no deadline last, then oldest).
    QueueColumn("sla", gettext_lazy("By when"), ("due_at",)),
    QueueColumn("messages", gettext_lazy("Messages"), ("message_count", "id"), "num"),
    QueueColumn(
        "assignee", gettext_lazy("Assigned to"), ("incident__assignment__assignee__username",)
    ),
)
_BY_NAME = {column.name: column for column in QUEUE_COLUMNS}

SORT_FIELD = "sort"
PAGE_FIELD = "page"


@dataclass(frozen=True, slots=True)
class HeaderCell:
    """A column's header as shown: its classes, its sort link and arrow."""

    column: QueueColumn
    css_class: str
    url: str
    arrow: str


@dataclass(frozen=True, slots=True)
class PageLink:
    """A link of the pagination (``number`` None: a gap, "…")."""

    number: int | None
    url: str
    current: bool


def _query(params: dict[str, list[str]], key: str, value: object) -> str:
    """The current query with ``key`` set to ``value`` (as django-tables2's
    ``querystring_replace`` wrote it, escaped for an attribute)."""
    return escape("?" + urlencode({**params, key: value}, doseq=True))


def _order_by(raw: Sequence[str]) -> tuple[str, ...]:
    """The sortable columns named in ``?sort=`` (``-`` descending; unknown names are
    dropped), in order."""
    aliases = []
    for value in raw:
        for alias in value.split(","):
            column = _BY_NAME.get(alias.removeprefix("-"))
            if column is not None and column.order_by is not None:
                aliases.append(alias)
    return tuple(aliases)


def _apply_order(queryset: QuerySet, aliases: tuple[str, ...]) -> QuerySet:
    """``queryset`` sorted by the columns ``aliases`` name (as django-tables2 did: the
    deadline column has an order of its own, which wins)."""
    if not aliases:
        return queryset
    fields: list[Any] = []
    for alias in aliases:
        descending = alias.startswith("-")
        column = _BY_NAME[alias.removeprefix("-")]
        if column.name == "sla":
            due = F("due_at")
            key = due.desc(nulls_last=True) if descending else due.asc(nulls_last=True)
            return queryset.order_by(key, "opened_at", "id")
        for field in column.order_by or ():
            if descending:
                field = field[1:] if field.startswith("-") else f"-{field}"
            fields.append(field)
    return queryset.order_by(*fields)


class QueueTable:
    """One page of the queue: one row per thing the shop owes, an incident or a
    conversation of an order without incident.

    ``data`` is the narrow, sorted queryset of :func:`desk.selectors.queue_list`;
    ``row_loader(ids)`` returns the :class:`desk.selectors.QueueRow` of one page.
    A text search is paged without counting its matches (``LazyPaginator``: one row more
    than the page tells whether another page follows): its first page comes at once
    however broad the search ("pedido"), but counting every match would read them all.
    """

    columns = QUEUE_COLUMNS
    empty_text = gettext_lazy("Nothing waits for the shop with these filters.")

    def __init__(
        self,
        data: QuerySet,
        *,
        request: HttpRequest,
        row_loader: Callable[[list[int]], list[QueueRow]],
        page_size: int = 25,
    ) -> None:
        self.params = dict(request.GET.lists())
        self.order_by = _order_by(request.GET.getlist(SORT_FIELD))
        self.searching = bool(request.GET.get("q", "").strip())
        ids = _apply_order(data, self.order_by).values_list("pk", flat=True)
        paginator_class = LazyPaginator if self.searching else CappedPaginator
        self.paginator = paginator_class(ids, page_size)
        # The page as typed (``?page=٣``, ``-1``, a huge number) is not trusted: a bad
        # value, or a page past the last, shows the first page.
        number = query_int(request.GET, PAGE_FIELD, default=1) or 1
        try:
            self.page: Page = self.paginator.page(number)
        except (EmptyPage, PageNotAnInteger):
            self.page = self.paginator.page(1)
        shown = len(self.page.object_list)
        # The numbers of the rows shown (Page.start_index would count every match).
        self.shown_from = (self.page.number - 1) * page_size + 1 if shown else 0
        self.shown_to = self.shown_from + shown - 1 if shown else 0
        self.rows = row_loader(list(self.page.object_list))

    @property
    def headers(self) -> list[HeaderCell]:
        """Each column's header: ordered columns say which way, and link to the other."""
        current = {alias.removeprefix("-"): alias for alias in self.order_by}
        cells = []
        for column in self.columns:
            if column.order_by is None:
                cells.append(HeaderCell(column, column.css_class, "", ""))
                continue
            alias = current.get(column.name)
            classes = [column.css_class, "orderable"]
            arrow = ""
            following = column.name
            if alias is not None:
                descending = alias.startswith("-")
                classes.insert(0, "desc" if descending else "asc")
                arrow = "↓" if descending else "↑"
                following = column.name if descending else f"-{column.name}"
            cells.append(
                HeaderCell(
                    column,
                    " ".join(c for c in classes if c),
                    _query(self.params, SORT_FIELD, following),
                    arrow,
                )
            )
        return cells

    @property
    def row_html(self) -> list[SafeString]:
        """The ``<tr>`` of each row of the page."""
        return rows_html(self.rows)

    @property
    def html(self) -> SafeString:
        """The table, its rows and its pagination (:func:`table_html`)."""
        return table_html(self)

    @property
    def page_links(self) -> list[PageLink]:
        """The pagination's links (none for a single page)."""
        if not self.paginator.num_pages or self.paginator.num_pages <= 1:
            return []
        return [
            PageLink(None, "", False)
            if p == "..."
            else PageLink(p, _query(self.params, PAGE_FIELD, p), p == self.page.number)
            for p in table_page_range(self.page, self.paginator)
        ]

    @property
    def previous_url(self) -> str:
        if not self.page.has_previous():
            return ""
        return _query(self.params, PAGE_FIELD, self.page.previous_page_number())

    @property
    def next_url(self) -> str:
        if not self.page.has_next():
            return ""
        return _query(self.params, PAGE_FIELD, self.page.next_page_number())


#: The table as a template: what :func:`table_html` writes, byte for byte (the tests
#: compare them).
TABLE_TEMPLATE = "desk/partials/_table.html"

_HX = 'hx-target="#incident-table" hx-swap="outerHTML" hx-push-url="true"'


def _page_link(url: str, text: str) -> str:
    """A link to another page of the table, loaded in its place (``text`` is HTML)."""
    url = conditional_escape(url)
    return f'<a href="{url}" hx-get="{url}" {_HX}>{text}</a>'


def table_html(table: QueueTable) -> SafeString:
    """The queue's table (:data:`TABLE_TEMPLATE`) written in Python: its eleven headers,
    the rows (:attr:`QueueTable.row_html`) and the pagination took the template about
    0.7 ms a page, its loops and tags, for text a few joins write."""
    out = [
        '\n\n<div class="table-container">\n<table class="inbox-table queue-table">\n'
        "<thead>\n  <tr>\n  "
    ]
    for header in table.headers:
        css = f' class="{conditional_escape(header.css_class)}"' if header.css_class else ""
        out.append(f"\n    <th{css}>\n      ")
        if header.column.name == "select":
            label = conditional_escape(_("Select every row of this page"))
            out.append(f'<input type="checkbox" data-bulk-all aria-label="{label}">\n      ')
        elif header.url:
            arrow = f" {conditional_escape(header.arrow)}" if header.arrow else ""
            text: str = conditional_escape(str(header.column.header))
            out.append(
                f'\n        <a href="{conditional_escape(header.url)}"\n'
                f'           hx-get="{conditional_escape(header.url)}"\n'
                f"           {_HX}>{text}{arrow}</a>\n      "
            )
        else:
            out.append(str(conditional_escape(str(header.column.header))))
        out.append("\n    </th>\n  ")
    out.append("\n  </tr>\n</thead>\n<tbody>\n")
    rows = table.row_html
    for row in rows:
        out.append(f"\n{conditional_escape(row)}\n")
    if not rows:
        out.append(
            f'\n<tr><td colspan="{len(table.columns)}">'
            f"{conditional_escape(table.empty_text)}</td></tr>\n"
        )
    out.append("\n</tbody>\n</table>\n")
    links = table.page_links
    if links:
        out.append(f'\n<nav class="pagination" aria-label="{conditional_escape(_("Pages"))}">\n  ')
        if previous := table.previous_url:
            text = f"‹ {conditional_escape(_('Previous'))}"
            out.append(f"\n    {_page_link(previous, text)}\n  ")
        out.append("\n  ")
        for link in links:
            if link.number is None:
                out.append("\n    <span>…</span>\n    ")
            elif link.current:
                out.append(f'\n    <span class="current">{link.number}</span>\n    ')
            else:
                out.append(f"\n    {_page_link(link.url, str(link.number))}")
            out.append("\n  ")
        out.append("\n  ")
        if following := table.next_url:
            text = f"{conditional_escape(_('Next'))} ›"
            out.append(f"\n    {_page_link(following, text)}\n  ")
        out.append("\n</nav>\n")
    out.append("\n</div>\n")
    return mark_safe("".join(out))  # noqa: S308 - every value escaped above


# --------------------------------------------------------------------------- rows


def _party(author: str) -> str:
    """``CUSTOMER`` → "Customer", translated."""
    member = Party._value2member_map_.get(author)
    return str(member.label) if isinstance(member, Party) else author.title()


def _digest(*parts: object) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


def row_cells(row: QueueRow) -> tuple[str, str]:
    """A row's cells in :data:`QUEUE_COLUMNS` order (first the box that selects it for
    a bulk action), written around the deadline's cell, which changes with time:
    (the cells before it, the cells after it).

    The badges come from the same functions as on the incident page.
    """
    opened = timezone.localtime(row.opened_at)
    if row.incident_id is not None:
        url = reverse("desk:incident", args=[row.incident_id])
        incident = Incident(
            pk=row.incident_id,
            state=row.incident_state,
            watch=row.incident_watch,
            close_expected_at=row.incident_close_expected_at,
            closed_at=row.incident_closed_at,
        )
        state: SafeString = state_badge(incident)
        value = f"incident:{row.incident_id}"
    else:
        url = reverse("desk:order", args=[row.order_id]) + f"#thread-{row.thread_id}"
        state = _DASH
        value = f"thread:{row.thread_id}"
    preview = (
        format_html(
            '<br><span class="preview muted" data-preview title="{}">{}: {}</span>',
            row.last_inbound_preview,
            _party(row.last_inbound_author),
            row.last_inbound_preview,
        )
        if row.last_inbound_preview
        else ""
    )
    before = format_html(
        '<td class="select"><input type="checkbox" name="rows" value="{}" form="bulk-form"'
        ' data-bulk-row aria-label="{}"></td>'
        '<td><span class="badge {}" data-kind="{}">{}</span></td><td>{}</td>'
        '<td><a href="{}" class="order-link">{}</a><br><span class="muted">{}</span></td>'
        '<td class="reason">{}{}</td>'
        '<td><time datetime="{}">{}</time></td><td>{}</td><td data-owed="{}">{}</td>',
        value,
        _("Select order %(order)s") % {"order": row.order_number},
        "info" if row.incident_id is not None else "neutral",
        row.kind,
        QueueEntry.Kind(row.kind).label,
        row.connection_name,
        url,
        row.order_number,
        row.customer_name,
        row.reason_label or _DASH,
        preview,
        opened.isoformat(),
        f"{opened:%d/%m/%Y %H:%M}",
        state,
        row.owed_to,
        QueueEntry.Owed(row.owed_to).label if row.owed_to else _DASH,
    )
    after = format_html(
        '<td class="num">{}{}</td><td>{}</td>',
        localize(row.message_count),
        format_html(' <span class="badge new" title="{0}">{0}</span>', localize(row.unread_count))
        if row.unread_count
        else "",
        row.assignee_name or _DASH,
    )
    return str(before), str(after)


def _sla_cell(due: datetime | None, state: str) -> str:
    return f"<td>{sla_badge(due, state)}</td>"


def rows_html(rows: Sequence[QueueRow], *, now: datetime | None = None) -> list[SafeString]:
    """Each row's ``<tr>``, its cells from the cache when they were written before.

    A row's cells are kept under a digest of every value they show (the language and
    the user's unread count included), so a change shows at once; the deadline's cell
    under its due time, state and the minutes left or late (its text, "vence en 2
    horas"), so it is written once a minute, not once per request.

    The page's rows are kept as well, under a digest of all those keys: a page shown
    again (the refresh of an open queue) is one cache read of one value rather than of
    fifty (a third of a millisecond). Otherwise one more read for the rows' cells, and
    one write for what was missing.
    """
    if not rows:
        return []
    now = now or timezone.now()
    language = get_language()
    row_keys, sla_keys = [], []
    for row in rows:
        row_keys.append(f"queue-row:{_digest(ROW_MARKUP_VERSION, language, row.cache_parts())}")
        if row.due_at is None:
            sla_keys.append("")
            continue
        minutes = int((now - row.due_at).total_seconds() // 60)
        digest = _digest(ROW_MARKUP_VERSION, language, row.due_at, row.sla_state(now), minutes)
        sla_keys.append(f"queue-sla:{digest}")
    page_key = f"queue-page:{_digest(row_keys, sla_keys)}"
    try:
        page = cache.get(page_key)
        if page is not None:
            return [mark_safe(row) for row in page]  # noqa: S308 - kept as written below
        cached = cache.get_many([key for key in (*row_keys, *sla_keys) if key])
    except Exception:  # the cache is down: write every row
        logger.warning("Could not read the queue's rows", exc_info=True)
        cached = {}
    missing: dict[str, Any] = {}
    missing_sla: dict[str, str] = {}
    out = []
    for n, (row, row_key, sla_key) in enumerate(zip(rows, row_keys, sla_keys, strict=True)):
        cells = cached.get(row_key)
        if cells is None:
            cells = missing[row_key] = row_cells(row)
        sla: str | None = f"<td>{_DASH}</td>" if not sla_key else cached.get(sla_key)
        if sla is None:
            sla = missing_sla[sla_key] = _sla_cell(row.due_at, row.sla_state(now))
        out.append(
            mark_safe(  # noqa: S308 - escaped when written (row_cells, sla_badge)
                f'<tr data-incident="{row.incident_id or ""}" data-thread="{row.thread_id or ""}"'
                f' data-kind="{escape(row.kind)}" class="{"odd" if n % 2 else "even"}">'
                f"{cells[0]}{sla}{cells[1]}</tr>"
            )
        )
    try:
        if missing:
            cache.set_many(missing, ROW_CACHE_SECONDS)
        # The page's digest holds its deadlines' minutes: it lasts as long as they do.
        cache.set_many({**missing_sla, page_key: [str(row) for row in out]}, SLA_CACHE_SECONDS)
    except Exception:  # the cache is down: the next request writes them again
        logger.warning("Could not keep the queue's rows", exc_info=True)
    return out
