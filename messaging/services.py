"""Writes of the messaging app: the outbox, "no reply required" marks, canned replies.

The outbox never loses a message and never posts one twice:

1. :func:`outbound_reply_queue` / :func:`outbound_thread_queue` store the message in the
   request's transaction (the same idempotency key finds the same row) and enqueue the
   delivery task once that transaction commits.
2. :func:`outbound_message_deliver` claims the row (``select_for_update(skip_locked)``,
   then ``sending`` with a lease, committed before any HTTP call), posts it with M12 or
   OR43 and records the outcome. Before posting again after an attempt whose outcome is
   unknown (5xx or timeout on the POST, a crash) it looks for the message in Mirakl.
3. Messages of one thread go out in the order they were written: a message waits while
   an older one of its thread is still pending, and each delivered (or failed) message
   hands over to the next. :func:`outbound_messages_deliver_pending` sends whatever is
   left after an outage, oldest first.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.audit import audit_log
from incidents.models import AuditEntry, Incident, Order
from incidents.outbox import ClientFactory, PendingResult, deliver_in_order
from messaging.constants import (
    DELIVERY_CHECK_SKEW,
    MESSAGING_REASON_TYPE,
    RECIPIENT_PARTIES,
    SENDING_LEASE,
)
from messaging.models import (
    CannedReply,
    OutboundAttachment,
    OutboundMessage,
    Party,
    Thread,
    ThreadNoReply,
)
from mirakl.client import MiraklClient
from mirakl.errors import MiraklError, MiraklPayloadError, MiraklTransientError
from mirakl.schemas import MessageCreated, Recipient, Topic
from mirakl.schemas import Thread as MiraklThread

__all__ = [
    "AttachmentUpload",
    "DeliveryResult",
    "canned_reply_render",
    "outbound_message_deliver",
    "outbound_message_retry",
    "outbound_messages_deliver_pending",
    "outbound_reply_queue",
    "outbound_thread_queue",
    "thread_no_reply_mark",
]

logger = logging.getLogger(__name__)

State = OutboundMessage.State

#: OR43 topic types (MIRAKL_API.md section 6).
TOPIC_REASON_CODE = "REASON_CODE"
TOPIC_FREE_TEXT = "FREE_TEXT"


@dataclass(frozen=True, slots=True)
class AttachmentUpload:
    """A validated file to send: name, content type and bytes."""

    name: str
    content_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What one delivery call did.

    ``outcome`` is ``sent`` (posted now), ``found`` (an earlier attempt had reached
    Mirakl), ``already_sent``, ``failed`` (Mirakl refused it, or retries ran out),
    ``busy`` (another worker holds it), ``blocked`` (an older message of the thread
    goes first) or ``missing``.
    """

    outbound_id: int
    outcome: str


# --------------------------------------------------------------------------- queueing


def _enqueue(outbound_id: int) -> None:
    from messaging.tasks import deliver_outbound_message_task

    transaction.on_commit(lambda: deliver_outbound_message_task.delay(outbound_id))


def _existing(idempotency_key: Any) -> OutboundMessage | None:
    return OutboundMessage.objects.filter(idempotency_key=idempotency_key).first()


def _create(
    fields: dict[str, Any], attachments: Sequence[AttachmentUpload]
) -> tuple[OutboundMessage, bool]:
    """Insert the row and its files, or return the row of the same idempotency key."""
    try:
        with transaction.atomic():
            outbound = OutboundMessage.objects.create(**fields)
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


def _customer_participant(thread: Thread) -> dict[str, Any] | None:
    return next(
        (p for p in thread.authorized_participants if p.get("type") == Party.CUSTOMER), None
    )


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
    if Party.CUSTOMER in parties and _customer_participant(thread) is None:
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
        _enqueue(outbound.pk)
    return outbound, created


def _check_topic(order: Order, topic_type: str, topic_value: str) -> None:
    """Refuse an OR43 topic that is neither a usable ORDER_MESSAGING code nor a subject."""
    from incidents.selectors import order_reasons

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
            f"{topic_value} → {', '.join(parties)}: {_excerpt(body)}",
            now,
            order=order,
            data={"outbound": outbound.pk},
            source=source,
        )
        _enqueue(outbound.pk)
    return outbound, created


@transaction.atomic
def outbound_message_retry(
    *, outbound: OutboundMessage, user: Any, now: datetime | None = None
) -> bool:
    """Queue a failed message again (the retry button). False if it is not failed.

    ``in_doubt`` is kept: if the failed attempt may have reached Mirakl, the next one
    checks before posting.
    """
    now = now or timezone.now()
    updated = OutboundMessage.objects.filter(pk=outbound.pk, state=State.FAILED).update(
        state=State.QUEUED
    )
    if not updated:
        return False
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
    _enqueue(outbound.pk)
    return True


# --------------------------------------------------------------------------- delivery


def _blocked(outbound: OutboundMessage) -> bool:
    """True when an older message of the same thread is still waiting to go out."""
    if outbound.kind != OutboundMessage.Kind.REPLY:
        return False
    return (
        OutboundMessage.objects.filter(
            thread_id=outbound.thread_id, state__in=(State.QUEUED, State.SENDING)
        )
        .filter(
            Q(created_at__lt=outbound.created_at)
            | Q(created_at=outbound.created_at, pk__lt=outbound.pk)
        )
        .exists()
    )


def _claim(outbound_id: int, now: datetime) -> tuple[OutboundMessage, bool] | str:
    """Take the message for one attempt; returns it and whether a check is needed.

    Committed before the HTTP call, so a crash leaves the row ``sending`` with
    ``in_doubt`` set: whoever takes it after the lease checks Mirakl first.
    """
    with transaction.atomic():
        outbound = (
            OutboundMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("connection", "thread", "order")
            .filter(pk=outbound_id)
            .first()
        )
        if outbound is None:
            exists = OutboundMessage.objects.filter(pk=outbound_id).exists()
            return "busy" if exists else "missing"
        if outbound.state == State.SENT:
            return "already_sent"
        if outbound.state == State.FAILED:
            return "failed"
        stale = outbound.last_attempt_at is None or outbound.last_attempt_at <= now - SENDING_LEASE
        if outbound.state == State.SENDING and not stale:
            return "busy"
        if _blocked(outbound):
            return "blocked"
        check_first = outbound.in_doubt or outbound.state == State.SENDING
        outbound.state = State.SENDING
        outbound.attempts += 1
        outbound.last_attempt_at = now
        outbound.in_doubt = True
        outbound.save(update_fields=["state", "attempts", "last_attempt_at", "in_doubt"])
    return outbound, check_first


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def _ours(message: Any, outbound: OutboundMessage, taken: set[str]) -> bool:
    return (
        message.from_.party == Party.SHOP
        and message.id not in taken
        and message.date_created >= outbound.created_at - DELIVERY_CHECK_SKEW
        and _same_text(message.body, outbound.body)
    )


def _taken_ids(outbound: OutboundMessage) -> set[str]:
    """Mirakl ids already claimed by other outbound messages (identical texts are fine)."""
    return set(
        OutboundMessage.objects.filter(connection_id=outbound.connection_id)
        .exclude(pk=outbound.pk)
        .exclude(mirakl_message_id="")
        .filter(created_at__gte=outbound.created_at - DELIVERY_CHECK_SKEW)
        .values_list("mirakl_message_id", flat=True)
    )


def _find_in_thread(
    thread: MiraklThread, outbound: OutboundMessage, taken: set[str]
) -> MessageCreated | None:
    for message in sorted(thread.messages, key=lambda m: m.date_created):
        if _ours(message, outbound, taken):
            return MessageCreated(message_id=message.id, thread_id=thread.id)
    return None


def _find_delivered(client: MiraklClient, outbound: OutboundMessage) -> MessageCreated | None:
    """The message in Mirakl if an earlier attempt posted it (M10, or M11 for OR43)."""
    taken = _taken_ids(outbound)
    if outbound.kind == OutboundMessage.Kind.REPLY:
        assert outbound.thread is not None  # noqa: S101 - the target constraint
        return _find_in_thread(client.get_thread(outbound.thread.mirakl_id), outbound, taken)
    assert outbound.order is not None  # noqa: S101 - the target constraint
    for page in client.iter_thread_pages(
        entity_type="MMP_ORDER", entity_ids=[outbound.order.mirakl_id], with_messages=True
    ):
        for thread in page.data:
            if thread.date_created < outbound.created_at - DELIVERY_CHECK_SKEW:
                continue
            found = _find_in_thread(thread, outbound, taken)
            if found is not None:
                return found
    return None


def _files(outbound: OutboundMessage) -> list[tuple[str, bytes, str]]:
    return [
        (file.name, bytes(file.content), file.content_type) for file in outbound.attachments.all()
    ]


def _post(client: MiraklClient, outbound: OutboundMessage) -> MessageCreated:
    if outbound.kind == OutboundMessage.Kind.REPLY:
        thread = outbound.thread
        assert thread is not None  # noqa: S101 - the target constraint
        recipients: list[Recipient] = []
        for party in outbound.recipients:
            if party == Party.CUSTOMER:
                customer = _customer_participant(thread)
                if customer is None:
                    raise MiraklError(
                        _("The customer is not a participant of this conversation."),
                        call="M12",
                    )
                recipients.append(Recipient(type=Party.CUSTOMER, id=customer.get("id")))
            else:
                # MIRAKL_API.md section 6: the operator is addressed without an id.
                recipients.append(Recipient(type=party))
        return client.reply_to_thread(
            thread.mirakl_id, body=outbound.body, to=recipients, files=_files(outbound)
        )
    assert outbound.order is not None  # noqa: S101 - the target constraint
    return client.create_order_thread(
        outbound.order.mirakl_id,
        body=outbound.body,
        to=list(outbound.recipients),
        topic=Topic(type=outbound.topic_type, value=outbound.topic_value),
        files=_files(outbound),
    )


def _save(outbound: OutboundMessage, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(outbound, name, value)
    outbound.save(update_fields=list(fields))


def _hand_over(outbound: OutboundMessage) -> None:
    """Queue the next pending message of the thread (it waited for this one)."""
    if outbound.kind != OutboundMessage.Kind.REPLY:
        return
    following = (
        OutboundMessage.objects.filter(thread_id=outbound.thread_id, state=State.QUEUED)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    if following is not None:
        _enqueue(following)


def _error_text(exc: MiraklError) -> str:
    status = f"HTTP {exc.status}: " if exc.status else ""
    return f"{exc.call} {status}{exc.message}"[:2000]


def outbound_message_deliver(
    *,
    outbound_id: int,
    client: MiraklClient | None = None,
    client_factory: ClientFactory | None = None,
    give_up: bool = False,
    now: datetime | None = None,
) -> DeliveryResult:
    """Post one outbound message to Mirakl, at most once, and record the outcome.

    :param client: the client to use (tests); else ``client_factory(connection)``.
    :param give_up: this is the last try: a transient error marks the message failed
        (the agent can retry it) instead of leaving it queued.
    :raises MiraklTransientError: a transient failure (rate limit, 5xx, timeout); the
        message is queued again and the caller retries later with backoff.
    """
    now = now or timezone.now()
    claimed = _claim(outbound_id, now)
    if isinstance(claimed, str):
        return DeliveryResult(outbound_id, claimed)
    outbound, check_first = claimed
    own_client = client is None
    if client is None:
        from incidents.clients import client_for

        client = (client_factory or client_for)(outbound.connection)
    checked = False
    try:
        created = None
        if check_first:
            created = _find_delivered(client, outbound)
            checked = True
        outcome = "found" if created is not None else "sent"
        if created is None:
            created = _post(client, outbound)
    except MiraklTransientError as exc:
        in_doubt = exc.outcome_unknown or (check_first and not checked)
        _record_transient(outbound, exc, in_doubt=in_doubt, give_up=give_up)
        raise
    except MiraklPayloadError as exc:
        if exc.status is not None and 200 <= exc.status < 300:
            # Accepted, but the answer was unreadable: posting again would duplicate it.
            _record_transient(outbound, exc, in_doubt=True, give_up=give_up)
            raise MiraklTransientError(
                exc.message, call=exc.call, status=exc.status, outcome_unknown=True
            ) from exc
        _record_failure(outbound, exc, in_doubt=check_first and not checked)
        return DeliveryResult(outbound_id, "failed")
    except MiraklError as exc:
        _record_failure(outbound, exc, in_doubt=check_first and not checked)
        return DeliveryResult(outbound_id, "failed")
    finally:
        if own_client:
            client.close()
    with transaction.atomic():
        _save(
            outbound,
            state=State.SENT,
            in_doubt=False,
            last_error="",
            mirakl_message_id=str(created.message_id),
            mirakl_thread_id=str(created.thread_id),
            sent_at=timezone.now(),
        )
        _hand_over(outbound)
    logger.info(
        "Outbound message %s %s as %s (attempt %d)",
        outbound.pk,
        outcome,
        created.message_id,
        outbound.attempts,
    )
    return DeliveryResult(outbound_id, outcome)


def _record_transient(
    outbound: OutboundMessage, exc: MiraklError, *, in_doubt: bool, give_up: bool
) -> None:
    with transaction.atomic():
        _save(
            outbound,
            state=State.FAILED if give_up else State.QUEUED,
            in_doubt=in_doubt,
            last_error=_error_text(exc),
        )
        if give_up:
            _hand_over(outbound)
    logger.warning(
        "Outbound message %s attempt %d failed (%s)%s",
        outbound.pk,
        outbound.attempts,
        _error_text(exc),
        "; giving up" if give_up else "; will retry",
    )


def _record_failure(outbound: OutboundMessage, exc: MiraklError, *, in_doubt: bool) -> None:
    """Mirakl refused the message (4xx): retrying the same request will not help."""
    with transaction.atomic():
        _save(outbound, state=State.FAILED, in_doubt=in_doubt, last_error=_error_text(exc))
        _hand_over(outbound)
    logger.warning("Outbound message %s refused: %s", outbound.pk, _error_text(exc))


def outbound_messages_deliver_pending(
    *,
    client_factory: ClientFactory | None = None,
    limit: int = 500,
    now: datetime | None = None,
) -> PendingResult:
    """Deliver queued messages (and ones left ``sending`` by a dead worker), oldest first.

    Run after an outage, by the periodic task and the ``outbox_deliver`` command. One
    transient error stops that thread's later messages for this run (they keep their
    order) but not the other threads'.
    """
    now = now or timezone.now()
    candidates = list(
        OutboundMessage.objects.filter(
            Q(state=State.QUEUED) | Q(state=State.SENDING, last_attempt_at__lte=now - SENDING_LEASE)
        )
        .order_by("created_at", "pk")
        .values_list("pk", "thread_id")[:limit]
    )
    return deliver_in_order(
        candidates,
        lambda pk, factory, at: outbound_message_deliver(
            outbound_id=pk, client_factory=factory, now=at
        ),
        client_factory=client_factory,
    )


# --------------------------------------------------------------------------- no reply


@transaction.atomic
def thread_no_reply_mark(
    *,
    thread: Thread,
    user: Any,
    reason: str,
    incident: Incident | None = None,
    now: datetime | None = None,
    source: str = AuditEntry.Source.USER,
) -> ThreadNoReply:
    """Record that ``thread`` needs no answer (the customer only said thanks).

    Only a thread whose last message is inbound can be marked. The mark is also added
    to the thread's ``no_store_reply_needed`` (the list the SLA clock reads, rule T5)
    and the thread's ``synced_at`` is moved, so the next SLA sweep stops the clock at
    once instead of waiting for Mirakl: its API cannot set this flag. A later sync of
    the thread from Mirakl replaces that list with Mirakl's own marks; the
    :class:`ThreadNoReply` row stays the record of who marked it and why.
    """
    from messaging.selectors import thread_last_message

    last = thread_last_message(thread)
    if last is None or last.author_type == Party.SHOP:
        raise ValidationError(_("Only a conversation whose last message is inbound can be marked."))
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
