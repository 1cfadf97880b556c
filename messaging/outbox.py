"""The outbox adapters of the messaging app: replies (M12) and new conversations (OR43).

The engine (:mod:`core.outbox.engine`) claims, retries and orders the rows; these
adapters post one message, look for it in Mirakl when an attempt's outcome is unknown,
and keep :class:`~messaging.models.OutboundMessage` in step. Replies of one thread go
out in the order they were written (group ``thread:<pk>``), new conversations of one
order too (group ``order:<pk>``).

A message is "ours" in Mirakl only if it is a shop message with our text, to our
recipients, with our files (names and sizes), dated after we wrote it (less the clock
skew) and not already claimed by another outbound row: a colleague's message typed in
the back office meanwhile is never taken for ours.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from core.clients import MiraklAdapter
from core.outbox.adapters import Check, DeliveryRefused, DeliveryTransient, register
from core.outbox.engine import Attempt
from core.outbox.kinds import OutboxKind
from core.outbox.models import OutboxEntry
from messaging.constants import DELIVERY_MAX_ATTEMPTS
from messaging.models import OutboundMessage, Party, Thread
from mirakl.schemas import Message as MiraklMessage
from mirakl.schemas import MessageCreated, Recipient, Topic
from mirakl.schemas import Thread as MiraklThread

__all__ = ["NewThreadAdapter", "ReplyAdapter", "customer_participant", "group_key"]

State = OutboundMessage.State


def group_key(outbound: OutboundMessage) -> str:
    """The outbox group of a message: its thread (a reply) or its order (OR43)."""
    if outbound.kind == OutboundMessage.Kind.REPLY:
        return f"thread:{outbound.thread_id}"
    return f"order:{outbound.order_id}"


def customer_participant(thread: Thread) -> dict[str, Any] | None:
    return next(
        (p for p in thread.authorized_participants if p.get("type") == Party.CUSTOMER), None
    )


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def _files(outbound: OutboundMessage) -> list[tuple[str, bytes, str]]:
    return [
        (file.name, bytes(file.content), file.content_type) for file in outbound.attachments.all()
    ]


class _Matcher:
    """Tells one outbound message from the shop messages of its threads in Mirakl."""

    def __init__(self, outbound: OutboundMessage, since: datetime) -> None:
        self.outbound = outbound
        self.since = since
        self.recipients = set(outbound.recipients)
        self.files = [
            (name.lower(), size) for name, size in outbound.attachments.values_list("name", "size")
        ]
        # Mirakl ids other rows already own (two identical texts are two messages).
        self.taken = set(
            OutboundMessage.objects.filter(connection_id=outbound.connection_id)
            .exclude(pk=outbound.pk)
            .exclude(mirakl_message_id="")
            .filter(created_at__gte=since)
            .values_list("mirakl_message_id", flat=True)
        )
        self.seen = 0

    def _same_files(self, message: MiraklMessage) -> bool:
        theirs = [((a.name or "").lower(), a.size) for a in message.attachments]
        if Counter(name for name, _size in theirs) != Counter(name for name, _ in self.files):
            return False
        if all(size is not None for _name, size in theirs):
            return Counter(theirs) == Counter(self.files)
        return True  # sizes are compared only where Mirakl gives them

    def ours(self, message: MiraklMessage) -> bool:
        if message.from_.party != Party.SHOP or message.date_created < self.since:
            return False
        self.seen += 1
        if message.id in self.taken or not _same_text(message.body, self.outbound.body):
            return False
        # Recipients are compared where Mirakl lists them.
        sent_to = {participant.type.upper() for participant in message.to}
        if sent_to and sent_to != self.recipients:
            return False
        return self._same_files(message)

    def find(self, thread: MiraklThread) -> MessageCreated | None:
        for message in sorted(thread.messages, key=lambda m: m.date_created):
            if self.ours(message):
                return MessageCreated(message_id=message.id, thread_id=thread.id)
        return None

    def evidence(self, call: str, found: MessageCreated | None) -> dict[str, Any]:
        if found is not None:
            return {
                "call": call,
                "found": str(found.message_id),
                "found_text": _("message %(id)s") % {"id": found.message_id},
            }
        return {
            "call": call,
            "seen": self.seen,
            "unit": "messages",
            "since": self.since.isoformat(),
        }


class _MessageAdapter(MiraklAdapter):
    """What replies and new conversations share: loading, and the row's state."""

    max_attempts = DELIVERY_MAX_ATTEMPTS

    def load(self, entry: OutboxEntry) -> OutboundMessage | None:
        return (
            OutboundMessage.objects.select_related("connection", "thread", "order")
            .filter(delivery=entry)
            .first()
        )

    @staticmethod
    def _save(outbound: OutboundMessage, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(outbound, name, value)
        outbound.save(update_fields=list(fields))

    def on_claimed(self, row: OutboundMessage, entry: OutboxEntry, now: datetime) -> None:
        self._save(row, state=State.SENDING)

    def on_sent(
        self, row: OutboundMessage, entry: OutboxEntry, result: MessageCreated, *, found: bool
    ) -> None:
        self._save(
            row,
            state=State.SENT,
            mirakl_message_id=str(result.message_id),
            mirakl_thread_id=str(result.thread_id),
            sent_at=entry.done_at,
        )

    def on_retry(self, row: OutboundMessage, entry: OutboxEntry, error: DeliveryTransient) -> None:
        self._save(row, state=State.QUEUED)

    def on_refused(self, row: OutboundMessage, entry: OutboxEntry, error: DeliveryRefused) -> None:
        self._save(row, state=State.FAILED)

    def on_failed(self, row: OutboundMessage, entry: OutboxEntry, error: DeliveryTransient) -> None:
        self._save(row, state=State.FAILED)


@register
class ReplyAdapter(_MessageAdapter):
    """A reply in a synced thread (M12), looked up with M10 when in doubt."""

    kind = OutboxKind.REPLY
    call = "M12"

    def send(self, attempt: Attempt) -> MessageCreated:
        outbound: OutboundMessage = attempt.row
        thread = outbound.thread
        assert thread is not None  # noqa: S101 - the row's target constraint
        recipients: list[Recipient] = []
        for party in outbound.recipients:
            if party == Party.CUSTOMER:
                customer = customer_participant(thread)
                if customer is None:
                    raise DeliveryRefused(
                        _("The customer is not a participant of this conversation."), call="M12"
                    )
                recipients.append(Recipient(type=Party.CUSTOMER, id=customer.get("id")))
            else:
                # MIRAKL_API.md section 6: the operator is addressed without an id.
                recipients.append(Recipient(type=party))
        return attempt.client.reply_to_thread(
            thread.mirakl_id, body=outbound.body, to=recipients, files=_files(outbound)
        )

    def find(self, attempt: Attempt) -> Check:
        outbound: OutboundMessage = attempt.row
        assert outbound.thread is not None  # noqa: S101 - the row's target constraint
        matcher = _Matcher(outbound, attempt.since)
        found = matcher.find(attempt.client.get_thread(outbound.thread.mirakl_id))
        return Check(found, matcher.evidence("M10", found))


@register
class NewThreadAdapter(_MessageAdapter):
    """A new conversation on an order (OR43), looked up with M11 when in doubt: a
    thread of the order with our topic, started after we wrote it, whose messages
    include ours."""

    kind = OutboxKind.NEW_THREAD
    call = "OR43"

    def send(self, attempt: Attempt) -> MessageCreated:
        outbound: OutboundMessage = attempt.row
        assert outbound.order is not None  # noqa: S101 - the row's target constraint
        return attempt.client.create_order_thread(
            outbound.order.mirakl_id,
            body=outbound.body,
            to=list(outbound.recipients),
            topic=Topic(type=outbound.topic_type, value=outbound.topic_value),
            files=_files(outbound),
        )

    def find(self, attempt: Attempt) -> Check:
        outbound: OutboundMessage = attempt.row
        assert outbound.order is not None  # noqa: S101 - the row's target constraint
        matcher = _Matcher(outbound, attempt.since)
        found = None
        for page in attempt.client.iter_thread_pages(
            entity_type="MMP_ORDER", entity_ids=[outbound.order.mirakl_id], with_messages=True
        ):
            for thread in page.data:
                if thread.date_created < matcher.since or not self._same_topic(thread, outbound):
                    continue
                found = matcher.find(thread)
                if found is not None:
                    return Check(found, matcher.evidence("M11", found))
        return Check(found, matcher.evidence("M11", found))

    @staticmethod
    def _same_topic(thread: MiraklThread, outbound: OutboundMessage) -> bool:
        """Our topic, where Mirakl gives one (a code, or the subject we wrote)."""
        if thread.topic is None:
            return True
        return thread.topic.type == outbound.topic_type and _same_text(
            thread.topic.value, outbound.topic_value
        )
