"""Reads of the messaging app: an order's conversations as the incident page shows them.

Synced messages and the outbox meet here. A message sent from Incidesk appears at once
(from the outbox, with its delivery state); once the sync brings it back from Mirakl,
the synced message with the same Mirakl id replaces it, so it is never shown twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar, overload

from django.core.cache import cache
from django.db import router
from django.db.models import BooleanField, CharField, ExpressionWrapper, F, Func, Q, QuerySet
from django.utils.translation import gettext as _

from core.annotations import Annotations
from core.cache_ahead import cache_get
from core.expressions import in_ids, in_subquery
from core.precompiled import PrecompiledQuery
from core.reasons import reason_label
from incidents.lifecycle import Testimony, Witnessed
from incidents.models import Incident
from messaging.constants import MESSAGING_REASON_TYPE, TOPIC_REASON_CODE, RecipientChoice
from messaging.models import (
    CannedReply,
    Message,
    OutboundAttachment,
    OutboundMessage,
    Party,
    Thread,
    ThreadNoReply,
)
from messaging.notices import OPENING_NOTICE_WINDOW, is_opening_notice

__all__ = [
    "incident_documents",
    "message_row_digest",
    "messages_complete",
    "messages_witnessed",
    "thread_annotations",
    "waiting_thread_refusal",
    "ConversationItem",
    "ThreadView",
    "canned_replies_active",
    "canned_replies_cached",
    "canned_replies_forget",
    "order_conversations",
    "thread_last_message",
    "thread_no_reply_current",
    "thread_no_reply_dates",
    "thread_subject",
]

INBOUND = (Party.CUSTOMER, Party.OPERATOR)
T = TypeVar("T")
CANNED_REPLIES_CACHE_KEY = "messaging:canned-replies:v1"
#: A safety net only: saving or deleting a canned reply empties the cache at once.
CANNED_REPLIES_CACHE_SECONDS = 600


class _FromMessage(Generic[T]):
    """An attribute of a :class:`ConversationItem` given when it is made, or else read
    from its synced message when first asked for (then kept, in the slot of the same
    name with a leading underscore); without a message, ``empty()``."""

    __slots__ = ("empty", "read", "slot")

    def __init__(self, read: Callable[[Message], T], empty: Callable[[], T]) -> None:
        self.read = read
        self.empty = empty
        self.slot = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    @overload
    def __get__(self, item: None, owner: type | None = None) -> _FromMessage[T]: ...

    @overload
    def __get__(self, item: ConversationItem, owner: type | None = None) -> T: ...

    def __get__(
        self, item: ConversationItem | None, owner: type | None = None
    ) -> T | _FromMessage[T]:
        if item is None:
            return self
        value = getattr(item, self.slot)
        if value is None:
            message = item.message
            value = self.read(message) if message is not None else self.empty()
            setattr(item, self.slot, value)
        return value

    def __set__(self, item: ConversationItem, value: T) -> None:
        setattr(item, self.slot, value)


class ConversationItem:
    """One entry of a conversation: a synced message, or an outbound one not synced yet.

    A synced message's author name, recipients, text and files are its message's, read
    from it when first asked for: a long conversation's messages are read without them
    (:func:`order_conversations`), and only a page that draws them anew (its drawn HTML
    not kept) completes them, all at once (:func:`messages_complete`).
    """

    __slots__ = (
        "_attachments",
        "_author_name",
        "_body",
        "_recipients",
        "at",
        "author_type",
        "digest",
        "message",
        "outbound",
    )

    def __init__(
        self,
        *,
        at: datetime,
        author_type: str,
        author_name: str | None = None,
        recipients: list[str] | None = None,
        body: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
        message: Message | None = None,
        outbound: OutboundMessage | None = None,
        digest: str = "",
    ) -> None:
        self.at = at
        self.author_type = author_type
        self._author_name = author_name
        self._recipients = recipients
        self._body = body
        self._attachments = attachments
        self.message = message
        #: The outbox row: its delivery state while pending, or who wrote it once synced.
        self.outbound = outbound
        #: A synced message's row as read, digested by Postgres (``message_row_digest``);
        #: empty when it was not read so.
        self.digest = digest

    def __repr__(self) -> str:
        return f"<ConversationItem {self.author_type} {self.at.isoformat()}>"

    author_name = _FromMessage(lambda message: message.author_name, str)
    recipients: _FromMessage[list[str]] = _FromMessage(
        lambda message: _recipient_types(message.recipients), list
    )
    body = _FromMessage(lambda message: message.body, str)
    attachments = _FromMessage(lambda message: list(message.attachments), list)

    @property
    def is_inbound(self) -> bool:
        return self.author_type in INBOUND

    @property
    def pending(self) -> bool:
        """Shown from the outbox (not yet back from the sync)."""
        return self.message is None


@dataclass(frozen=True, slots=True)
class _ItemsRead:
    """What the thread's properties need of its items, found in one pass over them."""

    last_message: Message | None
    last_inbound: Message | None
    #: The newest synced message from the shop, when one was.
    last_shop_at: datetime | None
    operator_involved: bool
    #: Written here, not synced yet, not failed (``answered_here`` compares their dates).
    outbound_waiting: tuple[OutboundMessage, ...]

    @classmethod
    def of(cls, items: Iterable[ConversationItem]) -> _ItemsRead:
        last_message = last_inbound = None
        last_shop_at: datetime | None = None
        operator_involved = False
        waiting = []
        failed = OutboundMessage.State.FAILED
        for item in items:
            author, message = item.author_type, item.message
            if author == Party.OPERATOR:
                operator_involved = True
            if message is None:
                if item.outbound is not None and item.outbound.state != failed:
                    waiting.append(item.outbound)
                continue
            last_message = message
            if author in INBOUND:
                last_inbound = message
            elif author == Party.SHOP and (
                last_shop_at is None or message.date_created > last_shop_at
            ):
                last_shop_at = message.date_created
        return cls(last_message, last_inbound, last_shop_at, operator_involved, tuple(waiting))


@dataclass(slots=True)
class ThreadView:
    """A thread with its merged items and what the reply box needs.

    Its items are read once, when a property first needs them (:class:`_ItemsRead`):
    the page asks a long conversation's view for its last message, whether it was
    answered here and the like a dozen times. They are not changed after.
    """

    thread: Thread | None
    items: list[ConversationItem]
    topic: str
    no_reply_marks: list[ThreadNoReply] = field(default_factory=list)
    #: Outbox row of a conversation started here and not synced yet.
    pending_outbound: OutboundMessage | None = None
    #: When the order's incidents opened (the marketplace's notice is near one).
    incident_openings: tuple[datetime, ...] = ()
    _read: _ItemsRead | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def _items_read(self) -> _ItemsRead:
        read = self._read
        if read is None:
            read = self._read = _ItemsRead.of(self.items)
        return read

    @property
    def key(self) -> str:
        if self.thread is not None:
            return str(self.thread.pk)
        return f"new-{self.pending_outbound.pk if self.pending_outbound else 0}"

    @property
    def last_message(self) -> Message | None:
        """The last synced message (what "a new message arrived" is compared with)."""
        return self._items_read.last_message

    @property
    def last_inbound(self) -> Message | None:
        return self._items_read.last_inbound

    @property
    def customer_participant(self) -> bool:
        if self.thread is None:
            return False
        return any(p.get("type") == Party.CUSTOMER for p in self.thread.authorized_participants)

    @property
    def owed_party(self) -> str | None:
        """Who the shop owes a reply on this thread: the party of its oldest open wait
        (``CUSTOMER`` or ``OPERATOR``), None when nothing waits.

        The SLA sweep's waits (``sla_owed_audience``, added by the SLA app); when it
        shows none (it has not seen the latest message yet), the first inbound message
        after the shop's last one, unless "no reply required" covers it (the
        marketplace's notice of an incident opening owes the customer).
        """
        thread = self.thread
        if thread is None:
            return None
        audience = getattr(thread, "sla_owed_audience", None)
        if audience in INBOUND:
            return str(audience)
        if audience:  # known only from Mirakl's date: its last sender, else the customer
            sender = thread.last_sender_type
            return sender if sender in INBOUND else Party.CUSTOMER
        if self.unanswered_since is None or self.marked_no_reply is not None:
            return None
        messages = [i.message for i in self.items if i.message is not None]
        shop = [m.date_created for m in messages if m.author_type == Party.SHOP]
        first = next(
            m
            for m in messages
            if m.author_type in INBOUND and (not shop or m.date_created > max(shop))
        )
        if first.author_type == Party.OPERATOR and self.opening_notice(first):
            return Party.CUSTOMER
        return first.author_type

    @property
    def owed_due_at(self) -> datetime | None:
        """When the reply :attr:`owed_party` waits for is due (SLA sweep), if known."""
        return getattr(self.thread, "sla_owed_due_at", None) if self.thread else None

    def opening_notice(self, message: Message) -> bool:
        """Whether ``message`` is the marketplace's notice of an incident opening."""
        return is_opening_notice(
            author=message.author_type,
            recipients=_recipient_types(message.recipients),
            at=message.date_created,
            incident_openings=self.incident_openings,
        )

    @property
    def default_choice(self) -> str:
        """The party the shop owes a reply (:attr:`owed_party`): the issue's "default
        recipient = who is owed"; the customer when nobody is owed, the operator when
        the customer cannot be written to on this thread."""
        if not self.customer_participant:
            return RecipientChoice.OPERATOR
        if self.owed_party == Party.OPERATOR:
            return RecipientChoice.OPERATOR
        return RecipientChoice.CUSTOMER

    @property
    def operator_involved(self) -> bool:
        """The operator wrote in this thread: copying it may be needed."""
        return self._items_read.operator_involved

    @property
    def marked_no_reply(self) -> ThreadNoReply | None:
        """Our mark, if no message arrived after it."""
        last = self.last_message
        for mark in reversed(self.no_reply_marks):
            if (
                last is None
                or mark.last_message_at is None
                or last.date_created <= (mark.last_message_at)
            ):
                return mark
        return None

    @property
    def answered_here(self) -> bool:
        """We wrote (or are sending) a message after the last inbound one."""
        last_inbound = self.last_inbound
        return any(
            last_inbound is None or outbound.created_at >= last_inbound.date_created
            for outbound in self._items_read.outbound_waiting
        )

    @property
    def unanswered_since(self) -> datetime | None:
        """The newest synced customer or operator message no shop message followed (the
        inbox's unread count counts such messages), None when there is none."""
        last_inbound = self.last_inbound
        if last_inbound is None:
            return None
        last_shop_at = self._items_read.last_shop_at
        if last_shop_at is not None and last_shop_at > last_inbound.date_created:
            return None
        return last_inbound.date_created

    @property
    def needs_reply(self) -> bool:
        """Mirakl says the shop owes an answer, and nobody answered or marked it here."""
        if self.thread is None or self.thread.shop_reply_needed_since is None:
            return False
        return self.marked_no_reply is None and not self.answered_here

    @property
    def can_mark_no_reply(self) -> bool:
        last = self.last_message
        return (
            last is not None
            and last.author_type in INBOUND
            and self.marked_no_reply is None
            and not self.answered_here
        )

    @property
    def mirakl_no_reply_marks(self) -> list[dict[str, Any]]:
        """Mirakl's own marks (set in the back office), without the copies of ours."""
        if self.thread is None:
            return []
        ours = {mark.at.isoformat() for mark in self.no_reply_marks}
        return [m for m in self.thread.no_store_reply_needed if m.get("date") not in ours]


def thread_last_message(thread: Thread) -> Message | None:
    """The thread's last synced message."""
    return thread.messages.order_by("-date_created", "-pk").first()


def thread_no_reply_current(*, thread: Thread) -> ThreadNoReply | None:
    """Our newest "no reply required" mark on ``thread``, if no message came after it
    (the same rule as :attr:`ThreadView.marked_no_reply`)."""
    marks = thread.no_reply_marks.select_related("marked_by").order_by("-at", "-pk")
    last = thread_last_message(thread)
    if last is not None:
        marks = marks.filter(
            Q(last_message_at__isnull=True) | Q(last_message_at__gte=last.date_created)
        )
    return marks.first()


def _recipient_types(recipients: Iterable[Any]) -> list[str]:
    return [r.get("type", "") for r in recipients if isinstance(r, dict)]


#: The conversations show what apps above add to a thread (the SLA app: the due time
#: and state of its open wait, ``sla_due_at`` and ``sla_state``).
thread_annotations = Annotations("order conversations")


def _order_threads(*, order_id: int) -> QuerySet[Thread]:
    return thread_annotations.apply(Thread.objects.filter(order_id=order_id)).order_by(
        "-date_updated", "-pk"
    )


def _order_thread_ids(order_id: int) -> QuerySet[Thread, Any]:
    return Thread.objects.filter(order_id=order_id).values("pk")


class _RowDigest(Func):
    """Every column of a message, as one SHA-256 (hex) computed by Postgres. SQLite (the
    embedded default) gives no digest: the drawn HTML is then kept under what each
    message shows, as for a message not read so."""

    template = "encode(sha256(convert_to((ROW(%(expressions)s))::text, 'UTF8')), 'hex')"
    output_field = CharField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, list]:
        return "''", []


def message_row_digest() -> Func:
    """A digest of every column of a message as the database holds it: what its drawn
    HTML is kept under (:func:`messaging.templatetags.conversation.messages_html`),
    worked out where the row is, so that a page need not go through each of a long
    conversation's messages to key them."""
    return _RowDigest(*(F(f.attname) for f in Message._meta.concrete_fields))


#: What a message shows and the page's reads do not need: read only for a message drawn
#: anew (:func:`messages_complete`), as its drawn HTML is kept (under its row's digest).
#: Its files and recipients are read (the documents panel lists the files, the reply
#: box tells the marketplace's notice by its recipients).
_DRAWN_ONLY = ("author_role", "author_name", "body")


def _order_messages(*, order_id: int) -> QuerySet[Message]:
    return (
        Message.objects.filter(in_subquery("thread_id", _order_thread_ids(order_id)))
        .defer(*_DRAWN_ONLY)
        .annotate(row_digest=message_row_digest())
        .order_by("date_created", "pk")
    )


def _partly_read(message: Message) -> bool:
    return any(name not in message.__dict__ for name in _DRAWN_ONLY)


def messages_complete(messages: Iterable[Message]) -> None:
    """Read what :func:`order_conversations` left out of ``messages`` (author name and
    role, text), in one query, with the other messages read with them for the page (the
    order's other threads, drawn next); those read whole are left as they are."""
    unread = {m.pk: m for m in messages if _partly_read(m)}
    if not unread:
        return
    together: dict[int, list[Message]] = {}
    for message in unread.values():
        thread = message._state.fields_cache.get("thread")
        read_with = getattr(thread, "_messages_read_with", None)
        if read_with is not None:
            together[id(read_with)] = read_with
    for read_with in together.values():
        unread.update((m.pk, m) for m in read_with if m.pk not in unread and _partly_read(m))
    rows = Message.objects.filter(pk__in=list(unread)).values_list("pk", *_DRAWN_ONLY)
    for pk, *values in rows:
        message = unread.pop(pk)
        for name, value in zip(_DRAWN_ONLY, values, strict=True):
            message.__dict__.setdefault(name, value)
    for message in unread.values():  # deleted since (a sync): shown empty, not a 500
        for name in _DRAWN_ONLY:  # texts, blank by default
            message.__dict__.setdefault(name, "")


def _order_no_reply_marks(*, order_id: int) -> QuerySet[ThreadNoReply]:
    return (
        ThreadNoReply.objects.filter(in_subquery("thread_id", _order_thread_ids(order_id)))
        .select_related("marked_by")
        .order_by("at", "pk")
    )


def _order_outbound(*, order_id: int) -> QuerySet[OutboundMessage]:
    return (
        OutboundMessage.objects.filter(order_id=order_id)
        .select_related("created_by", "delivery")
        .order_by("created_at", "pk")
    )


def _order_outbound_attachments(*, order_id: int) -> QuerySet[OutboundAttachment]:
    return (
        OutboundAttachment.objects.filter(message__order_id=order_id)
        .defer("content")
        .order_by("message_id", "pk")
    )


def _order_openings(*, order_id: int) -> QuerySet[Incident, tuple[datetime]]:
    return Incident.objects.filter(order_id=order_id).values_list("opened_at")


#: The conversations' reads, written once per process: every order and incident page
#: (and its poll) reads them, and compiling them (the SLA app's subqueries on the
#: threads, the prefetches) cost several times what Postgres takes to answer.
_THREADS = PrecompiledQuery(_order_threads, order_id=-1_999_999_061)
_MESSAGES = PrecompiledQuery(_order_messages, order_id=-1_999_999_062)
_NO_REPLY_MARKS = PrecompiledQuery(_order_no_reply_marks, order_id=-1_999_999_063)
_OUTBOUND = PrecompiledQuery(_order_outbound, order_id=-1_999_999_064)
_OUTBOUND_ATTACHMENTS = PrecompiledQuery(_order_outbound_attachments, order_id=-1_999_999_065)
_OPENINGS = PrecompiledQuery(_order_openings, order_id=-1_999_999_066)


def _message_item(message: Message, outbound: OutboundMessage | None) -> ConversationItem:
    return ConversationItem(
        at=message.date_created,
        author_type=message.author_type,
        message=message,
        outbound=outbound,
        digest=getattr(message, "row_digest", ""),
    )


def _outbound_item(
    outbound: OutboundMessage, attachments: Sequence[OutboundAttachment]
) -> ConversationItem:
    author = outbound.created_by
    return ConversationItem(
        at=outbound.sent_at or outbound.created_at,
        author_type=Party.SHOP,
        author_name=(author.get_full_name() or author.get_username()) if author else "",
        recipients=list(outbound.recipients),
        body=outbound.body,
        attachments=[{"name": a.name, "size": a.size} for a in attachments],
        outbound=outbound,
    )


def _by_thread(rows: Iterable[Any], threads: dict[int, Thread]) -> dict[int, list[Any]]:
    """``rows`` (messages or marks) by thread, each with its thread as a prefetch sets it."""
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        thread = threads.get(row.thread_id)
        if thread is not None:
            row._state.fields_cache["thread"] = thread
            grouped[row.thread_id].append(row)
    return grouped


def order_conversations(
    *, order_id: int, incident_openings: Iterable[datetime] | None = None
) -> list[ThreadView]:
    """Every thread of the order with its messages merged with the outbox, newest first.

    Five queries whatever the number of threads and messages (the threads, their
    messages and "no reply required" marks, the outbox and its files), four with
    ``incident_openings`` (when the order's incidents opened) already read by the page;
    fewer when the order has no thread or nothing in the outbox.
    """
    using = router.db_for_read(Thread)
    threads: list[Thread] = _THREADS.instances(using, order_id=order_id)
    by_pk = {thread.pk: thread for thread in threads}
    messages: dict[int, list[Message]] = {}
    marks: dict[int, list[ThreadNoReply]] = {}
    if threads:
        read: list[Message] = _MESSAGES.instances(using, order_id=order_id)
        for thread in threads:  # what messages_complete reads at once, when it must
            thread._messages_read_with = read  # type: ignore[attr-defined]
        messages = _by_thread(read, by_pk)
        marks = _by_thread(_NO_REPLY_MARKS.instances(using, order_id=order_id), by_pk)
    outbound: list[OutboundMessage] = _OUTBOUND.instances(using, order_id=order_id)
    files: dict[int, list[OutboundAttachment]] = defaultdict(list)
    if outbound:
        for attachment in _OUTBOUND_ATTACHMENTS.instances(using, order_id=order_id):
            files[attachment.message_id].append(attachment)
    by_mirakl_id = {o.mirakl_message_id: o for o in outbound if o.mirakl_message_id}
    replies: dict[int, list[OutboundMessage]] = defaultdict(list)
    new_threads: list[OutboundMessage] = []
    for o in outbound:
        if o.kind == OutboundMessage.Kind.REPLY and o.thread_id is not None:
            replies[o.thread_id].append(o)
        else:
            new_threads.append(o)

    if incident_openings is None:
        openings = tuple(row[0] for row in _OPENINGS.rows(using, order_id=order_id))
    else:
        openings = tuple(incident_openings)
    views: list[ThreadView] = []
    synced_thread_ids = {t.mirakl_id for t in threads}
    for thread in threads:
        thread_messages = messages.get(thread.pk, [])
        synced_ids = {m.mirakl_id for m in thread_messages}
        items = [_message_item(m, by_mirakl_id.get(m.mirakl_id)) for m in thread_messages]
        items += [
            _outbound_item(o, files.get(o.pk, ()))
            for o in replies.get(thread.pk, [])
            if o.mirakl_message_id not in synced_ids
        ]
        # A conversation started here: its first message is in this synced thread.
        items += [
            _outbound_item(o, files.get(o.pk, ()))
            for o in new_threads
            if o.mirakl_thread_id == thread.mirakl_id and o.mirakl_message_id not in synced_ids
        ]
        items.sort(key=lambda item: item.at)
        views.append(
            ThreadView(
                thread=thread,
                items=items,
                topic=thread_subject(
                    connection_id=thread.connection_id,
                    topic_type=thread.topic_type,
                    topic_value=thread.topic_value,
                )
                or thread.mirakl_id,
                no_reply_marks=marks.get(thread.pk, []),
                incident_openings=openings,
            )
        )
    pending = [
        ThreadView(
            thread=None,
            items=[_outbound_item(o, files.get(o.pk, ()))],
            topic=thread_subject(
                connection_id=o.connection_id, topic_type=o.topic_type, topic_value=o.topic_value
            ),
            pending_outbound=o,
        )
        for o in new_threads
        if not o.mirakl_thread_id or o.mirakl_thread_id not in synced_thread_ids
    ]
    return pending[::-1] + views


def thread_subject(*, connection_id: int | None, topic_type: str, topic_value: str) -> str:
    """A conversation's subject as a person reads it: a ``REASON_CODE`` topic is the
    reason's label (``22`` → "Informar de un problema con el artículo recibido")."""
    if topic_type == TOPIC_REASON_CODE:
        return reason_label(
            connection_id=connection_id, code=topic_value, reason_type=MESSAGING_REASON_TYPE
        )
    return topic_value


def canned_replies_active() -> QuerySet[CannedReply]:
    """The canned replies offered in the reply box."""
    return CannedReply.objects.filter(is_active=True).order_by("position", "title")


def canned_replies_cached() -> list[CannedReply]:
    """:func:`canned_replies_active` from Django's cache: every incident page shows them,
    they change seldom. Forgotten when one is saved or deleted (``messaging.apps``)."""
    canned = cache_get(CANNED_REPLIES_CACHE_KEY)
    if canned is None:
        canned = list(canned_replies_active())
        cache.set(CANNED_REPLIES_CACHE_KEY, canned, CANNED_REPLIES_CACHE_SECONDS)
    return canned


def canned_replies_forget() -> None:
    """Empty the cache of :func:`canned_replies_cached`."""
    cache.delete(CANNED_REPLIES_CACHE_KEY)


def thread_no_reply_dates(thread_ids: Iterable[int]) -> dict[int, tuple[datetime, ...]]:
    """Dates of our "no reply required" marks by thread, for the SLA clock (rule T5)."""
    dates: dict[int, list[datetime]] = defaultdict(list)
    for thread_id, at in (
        ThreadNoReply.objects.filter(thread_id__in=list(thread_ids))
        .order_by("thread_id", "at")
        .values_list("thread_id", "at")
    ):
        dates[thread_id].append(at)
    return {pk: tuple(values) for pk, values in dates.items()}


def incident_documents(
    *, order_id: int, messages: Iterable[Any] | None = None
) -> list[dict[str, Any]]:
    """Attachments of every message of the order: id, name, size, when and from whom.

    ``messages``: the order's synced messages when already read (the incident page's
    conversations), in any order.
    """
    if messages is None:
        rows: Iterable[tuple[Any, str, Any]] = (
            Message.objects.filter(thread__order_id=order_id)
            .exclude(attachments=[])
            .order_by("date_created", "pk")
            .values_list("date_created", "author_type", "attachments")
        )
    else:
        with_files = [m for m in messages if m.attachments]
        rows = [
            (m.date_created, m.author_type, m.attachments)
            for m in sorted(with_files, key=lambda m: (m.date_created, m.pk))
        ]
    documents: list[dict[str, Any]] = []
    for date_created, author_type, attachments in rows:
        for attachment in attachments or []:
            if isinstance(attachment, dict) and attachment.get("id"):
                documents.append(
                    {
                        "id": str(attachment["id"]),
                        "name": attachment.get("name") or str(attachment["id"]),
                        "size": attachment.get("size"),
                        "at": date_created,
                        "author_type": author_type,
                    }
                )
    return documents


def messages_witnessed(incidents: Sequence[Incident]) -> Testimony:
    """What the order's messages tell of each incident (a witness of
    :mod:`incidents.lifecycle`), read in one query over the orders' messages:

    - the shop's first message since the incident opened;
    - the operator's and the customer's first since the shop marked it resolved;
    - the marketplace's notice of an opening the sync did not see: the earliest operator
      message to the shop alone at or before the line's last update (``opened_at``
      until dated), which it may follow by a moment (within
      :data:`~messaging.notices.OPENING_NOTICE_WINDOW`);
    - the operator contesting a resolution the shop made in Mirakl's back office: its
      message to the shop is dated within the window of the line's last update
      (contesting changes the line, as opening does: the evidence clock rule T6
      reads), later than a shop message since the opening, and past the window after
      the opening, so that the clock does not take it for the notice.

    Whom a message is addressed to is read in the database: decoding every message's
    recipients in Python cost more than the rest.
    """
    by_order: dict[int, list[tuple[str, datetime, bool, bool]]] = defaultdict(list)
    rows = (
        Message.objects.filter(in_ids(Message, "thread__order_id", {i.order_id for i in incidents}))
        .annotate(
            alone=ExpressionWrapper(_TO_THE_SHOP_ALONE, output_field=BooleanField()),
            to_shop=ExpressionWrapper(_TO_THE_SHOP, output_field=BooleanField()),
        )
        .order_by("date_created", "pk")
        .values_list("thread__order_id", "author_type", "date_created", "alone", "to_shop")
    )
    for order_id, *message in rows:
        by_order[order_id].append(tuple(message))

    def witnessed(incident: Incident) -> Witnessed | None:
        messages = by_order.get(incident.order_id)
        return _witnessed_in(incident, messages) if messages else None

    return witnessed


def _witnessed_in(
    incident: Incident, messages: list[tuple[str, datetime, bool, bool]]
) -> Witnessed:
    """:func:`messages_witnessed` for one incident, over its order's messages by date."""
    opened, resolved = incident.opened_at, incident.resolved_at
    line_updated: datetime | None = getattr(incident, "line_updated_at", None)
    witnessed = Witnessed()
    for author, at, alone, to_shop in messages:
        if author == Party.SHOP:
            if witnessed.shop_acted_at is None and at >= opened:
                witnessed.shop_acted_at = at
        elif author == Party.CUSTOMER:
            if witnessed.customer_wrote_at is None and resolved and at > resolved:
                witnessed.customer_wrote_at = at
        elif author == Party.OPERATOR:
            if witnessed.operator_objected_at is None and resolved and at > resolved:
                witnessed.operator_objected_at = at
            if (
                witnessed.opening_notice_at is None
                and at <= opened + OPENING_NOTICE_WINDOW
                and alone
            ):
                witnessed.opening_notice_at = at
            if (
                witnessed.back_office_contest_at is None
                and line_updated is not None
                and witnessed.shop_acted_at is not None
                and witnessed.shop_acted_at < at
                and at > opened + OPENING_NOTICE_WINDOW
                and abs(at - line_updated) <= OPENING_NOTICE_WINDOW
                and to_shop
            ):
                witnessed.back_office_contest_at = at
    return witnessed


#: Messages to the shop alone, or to no one recorded (the marketplace's notice:
#: :func:`messaging.notices.is_opening_notice`). Index lookups rather than JSON
#: containment, which SQLite (the embedded default) lacks.
_TO_THE_SHOP_ALONE = Q(recipients=[]) | Q(
    recipients__0__type=Party.SHOP, recipients__1__isnull=True
)
#: Messages addressed to the shop, or to no one recorded (clock rule T1); a message has
#: at most three recipients.
_TO_THE_SHOP = (
    Q(recipients=[])
    | Q(recipients__0__type=Party.SHOP)
    | Q(recipients__1__type=Party.SHOP)
    | Q(recipients__2__type=Party.SHOP)
)


def waiting_thread_refusal(incident: Any) -> str | None:
    """Why the incident may not be marked resolved yet: a conversation of its order is
    still owed an answer by the shop (registered with :mod:`incidents.resolution`).

    Mirakl's ``shop_reply_needed_since`` says so, unless it was answered here (a
    message queued or sent after the last inbound one) or marked "no reply required"
    here after it: the same rule as the conversation panel.
    """
    for view in order_conversations(order_id=incident.order_id):
        if view.needs_reply:
            return str(
                _(
                    "The conversation “%(thread)s” is waiting for a reply from the shop: "
                    "answer it or mark it “no reply required” before marking the incident "
                    "resolved."
                )
                % {"thread": view.topic}
            )
    return None
