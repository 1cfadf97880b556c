"""What starts and stops the SLA clock: the one place where the rules live.

Pure functions over plain facts (no database), so every rule has a table-driven test.
``sla.facts`` builds these facts in bulk from the database for the sweep.

An *SLA item* is one thing waiting for the shop. Each function returns the spans of
waiting it finds: when the clock started and, if it did, when and why it stopped.

Incident rules
  I1  An incident starts the clock when it opens (``opened_at``).
  I2  The first shop message on any thread of the incident's order, sent at or after
      the opening, stops it (any audience: the shop has acted).
  I3  A shop message sent before the opening does not count.
  I4  The incident closing stops it (whichever of I2 and I4 comes first; on a tie the
      shop's message is the reason).

Thread rules (one wait per audience, so a customer and the operator are each answered)
  T1  A customer or operator message addressed to the shop (or with no recipients
      recorded) starts a wait for its author's audience, unless one is running.
  T2  An inbound message not addressed to the shop (e.g. operator → customer only)
      starts nothing.
  T3  A shop message stops the waits of the audiences it is addressed to: to the
      customer answers the customer, to the operator answers the operator, to both
      answers both. With no recipients recorded it answers every wait.
  T4  A shop message to an audience that is not waiting changes nothing; in
      particular it does not answer a later message in advance.
  T5  A "no reply required" mark (Mirakl's ``no_store_reply_needed``) dated ``d`` stops
      every wait started at or before ``d``.
  T6  Mirakl's ``shop_reply_needed_since`` is the start of the current wait: the first
      inbound message after the shop's last message, which is exactly the start T1
      gives when our messages are complete. So it is used when our messages show no
      wait begun after the shop's last message (messages missing or truncated): a wait
      then starts at that date, for the last sender's audience (``ANY`` when unknown).
      A Mirakl date not after the shop's last message, or with a "no reply required"
      mark at or after it, is stale and ignored. Items are keyed on the message date
      rather than Mirakl's because Mirakl clears its date once the wait is answered;
      a wait known only from Mirakl's date is therefore recorded as ``withdrawn`` by
      the sweep that no longer sees it.
  T7  An incident closing does not stop thread waits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "ANY",
    "CUSTOMER",
    "INBOUND",
    "OPERATOR",
    "SHOP",
    "IncidentClockFacts",
    "MessageFact",
    "Span",
    "StopReason",
    "ThreadClockFacts",
    "incident_span",
    "thread_spans",
]

#: Mirakl's party types (``messaging.models.Party`` values).
CUSTOMER = "CUSTOMER"
OPERATOR = "OPERATOR"
SHOP = "SHOP"
#: Audience of a wait known only from Mirakl's ``shop_reply_needed_since`` (rule T6).
ANY = "ANY"
INBOUND = frozenset({CUSTOMER, OPERATOR})


class StopReason:
    """Why a clock stopped (the values of ``SlaItem.StopReason``)."""

    SHOP_REPLY = "shop_reply"
    NO_REPLY_NEEDED = "no_reply_needed"
    INCIDENT_CLOSED = "incident_closed"


@dataclass(frozen=True, slots=True)
class MessageFact:
    """One message as the clock sees it: when, from whom, to whom."""

    at: datetime
    author: str
    recipients: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ThreadClockFacts:
    """A thread's messages in chronological order, and Mirakl's own waiting marks."""

    messages: tuple[MessageFact, ...] = ()
    shop_reply_needed_since: datetime | None = None
    no_reply_marks: tuple[datetime, ...] = ()
    #: Mirakl's last sender party (``Thread.last_sender_type``), used by rule T6.
    last_sender: str = ""


@dataclass(frozen=True, slots=True)
class IncidentClockFacts:
    """An incident's opening and closing and the shop messages on its order's threads.

    The database layer passes only the first shop message at or after the opening;
    the rule itself (I3) does not rely on that.
    """

    opened_at: datetime
    closed_at: datetime | None = None
    shop_messages: tuple[datetime, ...] = ()


@dataclass(frozen=True, slots=True)
class Span:
    """One wait for the shop: started, and maybe stopped (with the reason)."""

    started_at: datetime
    stopped_at: datetime | None = None
    stop_reason: str = ""
    audience: str = ""

    @property
    def running(self) -> bool:
        return self.stopped_at is None


def incident_span(facts: IncidentClockFacts) -> Span:
    """The wait of an incident (rules I1–I4)."""
    replied = min((at for at in facts.shop_messages if at >= facts.opened_at), default=None)
    closed = facts.closed_at
    if replied is not None and (closed is None or replied <= closed):
        return Span(facts.opened_at, replied, StopReason.SHOP_REPLY)
    if closed is not None:
        return Span(facts.opened_at, closed, StopReason.INCIDENT_CLOSED)
    return Span(facts.opened_at)


def thread_spans(facts: ThreadClockFacts) -> list[Span]:
    """Every wait of a thread, answered or not, ordered by start (rules T1–T6)."""
    waiting: dict[str, datetime] = {}
    spans: list[Span] = []
    marks = sorted(facts.no_reply_marks)
    next_mark = 0
    last_shop_message: datetime | None = None

    def stop(audiences: Iterable[str], at: datetime, reason: str) -> None:
        for audience in list(audiences):
            spans.append(Span(waiting.pop(audience), at, reason, audience))

    for message in facts.messages:
        while next_mark < len(marks) and marks[next_mark] < message.at:
            stop(waiting, marks[next_mark], StopReason.NO_REPLY_NEEDED)
            next_mark += 1
        if message.author == SHOP:
            last_shop_message = message.at
            addressed = message.recipients & INBOUND if message.recipients else INBOUND
            stop([a for a in waiting if a in addressed], message.at, StopReason.SHOP_REPLY)
        elif message.author in INBOUND:
            if message.recipients and SHOP not in message.recipients:
                continue
            waiting.setdefault(message.author, message.at)
    for mark in marks[next_mark:]:
        stop(waiting, mark, StopReason.NO_REPLY_NEEDED)

    since = facts.shop_reply_needed_since
    if (
        since is not None
        and (last_shop_message is None or since > last_shop_message)
        and not any(mark >= since for mark in marks)
        and not any(last_shop_message is None or at > last_shop_message for at in waiting.values())
    ):
        audience = facts.last_sender if facts.last_sender in INBOUND else ANY
        waiting.setdefault(audience, since)
    spans.extend(Span(at, audience=audience) for audience, at in waiting.items())
    spans.sort(key=lambda s: (s.started_at, s.audience))
    return spans
