"""Writes of the messaging app: the outbox of messages, "no reply required" marks, canned replies.

Messages are stored first and delivered by the outbox (:mod:`core.outbox`):
:func:`outbound_reply_queue` / :func:`outbound_thread_queue` store the message and its
outbox entry in the request's transaction (the same idempotency key finds the same row);
the outbox posts it after commit (:mod:`messaging.outbox`: M12 or OR43), never twice,
in the order of its thread, and the agent can queue a failed one again
(:func:`outbound_message_retry`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.models import Order
from core.outbox.engine import outbox_enqueue, outbox_requeue
from core.outbox.kinds import OutboxKind
from core.reasons import order_reasons, reason_label
from incidents.audit import audit_log
from incidents.models import AuditEntry, Incident
from messaging.constants import (
    MESSAGING_REASON_TYPE,
    RECIPIENT_PARTIES,
    TOPIC_FREE_TEXT,
    TOPIC_REASON_CODE,
)
from messaging.models import (
    CannedReply,
    OutboundAttachment,
    OutboundMessage,
    Party,
    Thread,
    ThreadNoReply,
)
from messaging.outbox import customer_participant, group_key
from messaging.selectors import thread_last_message

__all__ = [
    "UNRESOLVED_INCIDENT",
    "AttachmentUpload",
    "NoReplyNeedsConfirmation",
    "no_reply_confirmation",
    "canned_reply_render",
    "outbound_message_retry",
    "outbound_reply_queue",
    "outbound_thread_queue",
    "thread_no_reply_mark",
]

State = OutboundMessage.State
_KINDS: dict[str, OutboxKind] = {
    OutboundMessage.Kind.REPLY: OutboxKind.REPLY,
    OutboundMessage.Kind.NEW_THREAD: OutboxKind.NEW_THREAD,
}


@dataclass(frozen=True, slots=True)
class AttachmentUpload:
    """A validated file to send: name, content type and bytes."""

    name: str
    content_type: str
    content: bytes


# --------------------------------------------------------------------------- queueing


def _existing(idempotency_key: Any) -> OutboundMessage | None:
    return OutboundMessage.objects.filter(idempotency_key=idempotency_key).first()


def _create(
    fields: dict[str, Any], attachments: Sequence[AttachmentUpload]
) -> tuple[OutboundMessage, bool]:
    """Insert the row, its files and its outbox entry, or return the row of the same
    idempotency key."""
    try:
        with transaction.atomic():
            outbound = OutboundMessage(**fields)
            outbound.delivery = outbox_enqueue(
                kind=_KINDS[outbound.kind], group_key=group_key(outbound), now=outbound.created_at
            )
            outbound.save(force_insert=True)
            OutboundAttachment.objects.bulk_create(
                OutboundAttachment(
                    message=outbound,
                    name=file.name,
                    content_type=file.content_type,
                    size=len(file.content),
                    content=file.content,
                )
                for file in attachments
            )
    except IntegrityError:
        # The same form posted twice at the same time: the other request won.
        existing = _existing(fields["idempotency_key"])
        if existing is None:
            raise
        return existing, False
    return outbound, True


def _record_action(
    incident: Incident | None,
    kind: str,
    actor: Any,
    detail: str,
    at: datetime,
    *,
    order: Order | None = None,
    data: dict[str, Any] | None = None,
    source: str = AuditEntry.Source.USER,
) -> None:
    """The audit entry of a desk action on a conversation (the incident's history)."""
    if incident is not None or order is not None:
        audit_log(
            action=kind,
            source=source,
            actor=actor,
            incident=incident,
            order=order if incident is None else None,
            detail=detail,
            data=data,
            at=at,
        )


def _excerpt(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@transaction.atomic
def outbound_reply_queue(
    *,
    thread: Thread,
    body: str,
    choice: str,
    user: Any,
    idempotency_key: Any,
    attachments: Sequence[AttachmentUpload] = (),
    incident: Incident | None = None,
    now: datetime | None = None,
    source: str = AuditEntry.Source.USER,
) -> tuple[OutboundMessage, bool]:
    """Store a reply to ``thread`` and deliver it after commit (M12).

    Returns the message and whether it was created: a resubmitted form (same
    ``idempotency_key``) gets the row it created the first time and queues nothing.
    Raises ``ValidationError`` when the choice names a party that is not in the thread.
    """
    existing = _existing(idempotency_key)
    if existing is not None:
        return existing, False
    parties = RECIPIENT_PARTIES[choice]
    if Party.CUSTOMER in parties and customer_participant(thread) is None:
        raise ValidationError(_("The customer is not a participant of this conversation."))
    now = now or timezone.now()
    outbound, created = _create(
        {
            "connection_id": thread.connection_id,
            "order_id": thread.order_id,
            "thread": thread,
            "incident": incident,
            "kind": OutboundMessage.Kind.REPLY,
            "recipients": list(parties),
            "body": body,
            "idempotency_key": idempotency_key,
            "created_by": user,
            "created_at": now,
        },
        attachments,
    )
    if created:
        _record_action(
            incident,
            AuditEntry.Action.REPLY,
            user,
            f"{thread} → {', '.join(parties)}: {_excerpt(body)}",
            now,
            order=thread.order,
            data={"outbound": outbound.pk, "thread": thread.mirakl_id},
            source=source,
        )
    return outbound, created


def _topic_text(order: Order, topic_type: str, topic_value: str) -> str:
    """The subject as the history shows it: a reason code as its label."""
    if topic_type != TOPIC_REASON_CODE:
        return topic_value
    return reason_label(
        connection_id=order.connection_id, code=topic_value, reason_type=MESSAGING_REASON_TYPE
    )


def _check_topic(order: Order, topic_type: str, topic_value: str) -> None:
    """Refuse an OR43 topic that is neither a usable ORDER_MESSAGING code nor a subject."""
    if topic_type == TOPIC_FREE_TEXT:
        if not (topic_value or "").strip():
            raise ValidationError(_("Choose a subject or write one."), code="topic")
        return
    codes = {
        code
        for code, _label in order_reasons(
            connection_id=order.connection_id, reason_type=MESSAGING_REASON_TYPE
        )
    }
    if topic_type != TOPIC_REASON_CODE or topic_value not in codes:
        raise ValidationError(_("Choose a subject from the marketplace's list."), code="topic")


@transaction.atomic
def outbound_thread_queue(
    *,
    order: Order,
    topic_type: str,
    topic_value: str,
    body: str,
    choice: str,
    user: Any,
    idempotency_key: Any,
    attachments: Sequence[AttachmentUpload] = (),
    incident: Incident | None = None,
    now: datetime | None = None,
    source: str = AuditEntry.Source.USER,
) -> tuple[OutboundMessage, bool]:
    """Store a new conversation on ``order`` (OR43) and deliver it after commit.

    ``topic_type`` ``REASON_CODE`` takes a code of the marketplace's ORDER_MESSAGING
    reasons the shop may use (RE01, as synced); ``FREE_TEXT`` a subject written here.
    Raises ``ValidationError`` (nothing stored, nothing queued) for any other topic: a
    code Mirakl does not offer the shop would only come back as OR43's refusal, after
    the agent has moved on.
    """
    existing = _existing(idempotency_key)
    if existing is not None:
        return existing, False
    _check_topic(order, topic_type, topic_value)
    parties = RECIPIENT_PARTIES[choice]
    now = now or timezone.now()
    outbound, created = _create(
        {
            "connection_id": order.connection_id,
            "order": order,
            "incident": incident,
            "kind": OutboundMessage.Kind.NEW_THREAD,
            "recipients": list(parties),
            "topic_type": topic_type,
            "topic_value": topic_value,
            "body": body,
            "idempotency_key": idempotency_key,
            "created_by": user,
            "created_at": now,
        },
        attachments,
    )
    if created:
        _record_action(
            incident,
            AuditEntry.Action.NEW_THREAD,
            user,
            f"{_topic_text(order, topic_type, topic_value)} → {', '.join(parties)}: "
            f"{_excerpt(body)}",
            now,
            order=order,
            data={"outbound": outbound.pk},
            source=source,
        )
    return outbound, created


@transaction.atomic
def outbound_message_retry(
    *, outbound: OutboundMessage, user: Any, now: datetime | None = None
) -> bool:
    """Queue a failed message again (the retry button). False if it is not failed.

    If the failed attempt may have reached Mirakl (``delivery.in_doubt``), the next one
    looks for it there before posting.
    """
    now = now or timezone.now()
    if outbox_requeue(entry_id=outbound.delivery_id, now=now) is None:
        return False
    OutboundMessage.objects.filter(pk=outbound.pk).update(state=State.QUEUED)
    outbound.state = State.QUEUED
    _record_action(
        outbound.incident,
        AuditEntry.Action.RETRY,
        user,
        outbound.body[:200],
        now,
        order=outbound.order,
        data={"outbound": outbound.pk},
    )
    return True


# --------------------------------------------------------------------------- no reply


#: The code of :class:`NoReplyNeedsConfirmation` (API answers carry it).
UNRESOLVED_INCIDENT = "unresolved_incident"


class NoReplyNeedsConfirmation(ValidationError):
    """ "No reply required" on an order whose incident is not resolved: allowed, but only
    once the agent confirms (clock rule N1)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=UNRESOLVED_INCIDENT)


def no_reply_confirmation(*, thread: Thread) -> str:
    """Why marking ``thread`` "no reply required" needs a confirmation, or "" (rule N1):
    its order has an open incident that is not resolved, and the guides allow the mark
    only when the case is already solved and the customer just says thanks or goodbye."""
    if thread.order_id is None:
        return ""
    unresolved = Incident.objects.filter(order_id=thread.order_id, closed_at__isnull=True).exclude(
        state=Incident.State.RESOLVED
    )
    if not unresolved.exists():
        return ""
    return str(
        _(
            "The incident on this order is not resolved. The marketplaces allow “no reply "
            "required” only when the case is already solved and the customer just says thanks "
            "or goodbye: confirm that this message needs no answer."
        )
    )


@transaction.atomic
def thread_no_reply_mark(
    *,
    thread: Thread,
    user: Any,
    reason: str,
    incident: Incident | None = None,
    now: datetime | None = None,
    source: str = AuditEntry.Source.USER,
    confirmed: bool = False,
) -> ThreadNoReply:
    """Record that ``thread`` needs no answer (the customer only said thanks).

    Only a thread whose last message is inbound can be marked. On an order whose
    incident is not resolved, only ``confirmed`` (rule N1; otherwise
    :class:`NoReplyNeedsConfirmation` says why). The mark is also added
    to the thread's ``no_store_reply_needed`` (the list the SLA clock reads, rule T5)
    and the thread's ``synced_at`` is moved, so the next SLA sweep stops the clock at
    once instead of waiting for Mirakl: its API cannot set this flag. A later sync of
    the thread from Mirakl replaces that list with Mirakl's own marks; the
    :class:`ThreadNoReply` row stays the record of who marked it and why.
    """

    last = thread_last_message(thread)
    if last is None or last.author_type == Party.SHOP:
        raise ValidationError(_("Only a conversation whose last message is inbound can be marked."))
    if not confirmed:
        why = no_reply_confirmation(thread=thread)
        if why:
            raise NoReplyNeedsConfirmation(why)
    now = now or timezone.now()
    mark = ThreadNoReply.objects.create(
        thread=thread,
        incident=incident,
        marked_by=user,
        reason=reason,
        last_message_at=last.date_created,
        at=now,
    )
    marks = [*thread.no_store_reply_needed, {"date": now.isoformat(), "user_type": "SHOP"}]
    Thread.objects.filter(pk=thread.pk).update(no_store_reply_needed=marks, synced_at=now)
    thread.no_store_reply_needed = marks
    _record_action(
        incident,
        AuditEntry.Action.NO_REPLY,
        user,
        f"{thread}: {reason}",
        now,
        order=thread.order,
        data={"thread": thread.mirakl_id},
        source=source,
    )
    return mark


# --------------------------------------------------------------------------- canned


class _Blanks(dict):
    """Leaves unknown ``{fields}`` as they are, for the linter to flag."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def canned_reply_render(*, canned: CannedReply, order: Order) -> str:
    """The canned text with the order's customer name, number, carrier and tracking."""
    values = _Blanks()
    if order.customer_first_name or order.customer_last_name:
        values["customer_name"] = order.customer_first_name or order.customer_name
    if order.commercial_id or order.mirakl_id:
        values["order_number"] = order.mirakl_id
    if order.shipping_company:
        values["carrier"] = order.shipping_company
    if order.shipping_tracking:
        values["tracking"] = order.shipping_tracking
    try:
        return canned.body.format_map(values)
    except (ValueError, IndexError):
        # A stray brace in an admin-edited text: offer it as written.
        return canned.body
