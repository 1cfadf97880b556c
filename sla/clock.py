"""What starts and stops the SLA clock: the one place where the rules live.

Pure functions over plain facts (no database), so every rule has a table-driven test
(``tests/sla/test_clock.py``; a test checks each code below has one, and that the
README's table is this one). ``sla.facts`` builds these facts in bulk from the
database for the sweep.

An *SLA item* is one thing waiting for the shop. Each function returns the spans of
waiting it finds: when the clock started and, if it did, when and why it stopped.

==== ==================================================================================
code rule
==== ==================================================================================
I1   An incident starts a wait for the customer when it opens (``opened_at``).
I2   The first shop message the customer can see (to the customer, or to the customer
     and the operator; with no recipients recorded, to everyone), sent on any thread of
     the order at or after the opening, stops it.
I3   A shop message to the operator alone does not stop it: the customer got nothing.
I4   A shop message sent before the opening does not count.
I5   The incident closing stops it (whichever of I2 and I5 comes first; on a tie the
     shop's message is the reason).
T1   A customer or operator message addressed to the shop (or with no recipients
     recorded) opens a wait for its author, unless one is running for that party.
T2   An inbound message not addressed to the shop (operator → customer only) opens
     nothing.
T3   A shop message stops the waits of the parties it is addressed to: to the customer
     answers the customer, to the operator the operator, to both both; with no
     recipients recorded it answers every wait.
T4   A shop message to a party that is not waiting changes nothing; it does not answer
     a later message in advance.
T5   "No reply required" (ours, or Mirakl's ``no_store_reply_needed``) dated ``d``
     stops every wait started at or before ``d``.
T6   The marketplace's automatic notice of an incident opening (an operator message to
     the shop alone, within two minutes of an incident's opening on the order) opens a
     wait for the customer, not the operator: the claim is the customer's.
T7   Mirakl's ``shop_reply_needed_since`` is the authority when it says the shop owes a
     reply that our messages do not show, or since earlier (messages missing, or not
     addressed to the shop): a wait runs from that date, for the last sender (anyone
     when unknown). It is stale, and ignored, when it is not after the shop's last
     message or a "no reply required" mark is at or after it. Mirakl's flag is one per
     thread and clears with any shop message, so a party our messages show still
     waiting (the shop wrote to the other one) keeps waiting. Every disagreement is
     logged by the sweep.
T8   An incident closing does not stop a thread's waits.
N1   "No reply required" on a conversation whose order has an open incident that is not
     resolved asks for a confirmation and says why: the guides allow it only on cases
     already solved (``messaging.services.thread_no_reply_mark``).
==== ==================================================================================

Items are keyed on their start, so a wait known only from Mirakl's date is recorded
as ``withdrawn`` by the sweep that no longer sees it (Mirakl clears the date once the
wait is answered).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

__all__ = [
    "ANY",
    "CLOCK_RULES",
    "CUSTOMER",
    "INBOUND",
    "OPERATOR",
    "SHOP",
    "IncidentClockFacts",
    "MessageFact",
    "Span",
    "StopReason",
    "ThreadClockFacts",
    "customer_can_see",
    "incident_span",
    "mirakl_disagreement",
    "thread_spans",
]

#: Mirakl's party types (``messaging.models.Party`` values).
CUSTOMER = "CUSTOMER"
OPERATOR = "OPERATOR"
SHOP = "SHOP"
#: Audience of a wait known only from Mirakl's ``shop_reply_needed_since`` (rule T7).
ANY = "ANY"
INBOUND = frozenset({CUSTOMER, OPERATOR})


def _rules(doc: str) -> tuple[tuple[str, str], ...]:
    """The rules of the docstring's table as ``(code, text)``, in order."""
    lines = doc.splitlines()
    borders = [i for i, line in enumerate(lines) if line.startswith("==== ")]
    rules: list[tuple[str, list[str]]] = []
    for line in lines[borders[1] + 1 : borders[-1]] if len(borders) > 2 else []:
        if line[:4].strip():
            rules.append((line[:4].strip(), [line[5:].strip()]))
        elif rules and line.strip():
            rules[-1][1].append(line[5:].strip())
    return tuple((code, " ".join(words)) for code, words in rules)


#: ``(code, rule)`` of every clock rule, as the table above states them.
CLOCK_RULES: tuple[tuple[str, str], ...] = _rules(__doc__ or "")


class StopReason:
    """Why a clock stopped (the values of ``SlaItem.StopReason``)."""

    SHOP_REPLY = "shop_reply"
    NO_REPLY_NEEDED = "no_reply_needed"
    INCIDENT_CLOSED = "incident_closed"


# The facts and spans are named tuples: immutable values like frozen dataclasses, but the
# first sweep of a large shop makes hundreds of thousands of them, and a frozen
# dataclass sets each field through ``object.__setattr__`` (four times the cost).
class MessageFact(NamedTuple):
    """One message as the clock sees it: when, from whom, to whom.

    ``opening_notice``: the marketplace's automatic notice of an incident opening
    (rule T6), recognised by :func:`messaging.notices.is_opening_notice`.
    """

    at: datetime
    author: str
    recipients: frozenset[str] = frozenset()
    opening_notice: bool = False


class ThreadClockFacts(NamedTuple):
    """A thread's messages in chronological order, and Mirakl's own waiting marks."""

    messages: tuple[MessageFact, ...] = ()
    shop_reply_needed_since: datetime | None = None
    no_reply_marks: tuple[datetime, ...] = ()
    #: Mirakl's last sender party (``Thread.last_sender_type``), used by rule T7.
    last_sender: str = ""


class IncidentClockFacts(NamedTuple):
    """An incident's opening and closing and the shop messages on its order's threads.

    ``shop_messages`` are ``(date, recipients)``; the database layer passes only the
    first one the customer can see at or after the opening, the rules do not rely on
    that. A bare date is a message to everyone.
    """

    opened_at: datetime
    closed_at: datetime | None = None
    shop_messages: tuple[datetime | tuple[datetime, frozenset[str]], ...] = ()


class Span(NamedTuple):
    """One wait for the shop: started, and maybe stopped (with the reason)."""

    started_at: datetime
    stopped_at: datetime | None = None
    stop_reason: str = ""
    audience: str = ""

    @property
    def running(self) -> bool:
        return self.stopped_at is None


def customer_can_see(recipients: Iterable[str]) -> bool:
    """Whether a shop message to ``recipients`` reaches the customer (rules I2, I3)."""
    parties = frozenset(recipients)
    return not parties or CUSTOMER in parties


def incident_span(facts: IncidentClockFacts) -> Span:
    """The wait of an incident (rules I1–I5); owed to the customer, though its items keep
    an empty audience (they were keyed so before the rules named it)."""
    replied = None
    for message in facts.shop_messages:
        at, to = message if isinstance(message, tuple) else (message, frozenset())
        if at >= facts.opened_at and customer_can_see(to) and (replied is None or at < replied):
            replied = at
    closed = facts.closed_at
    if replied is not None and (closed is None or replied <= closed):
        return Span(facts.opened_at, replied, StopReason.SHOP_REPLY)
    if closed is not None:
        return Span(facts.opened_at, closed, StopReason.INCIDENT_CLOSED)
    return Span(facts.opened_at)


def _mirakl_start(facts: ThreadClockFacts, last_shop_message: datetime | None) -> datetime | None:
    """Mirakl's date when it is not stale (rule T7), else None."""
    since = facts.shop_reply_needed_since
    if since is None:
        return None
    if last_shop_message is not None and since <= last_shop_message:
        return None
    if any(mark >= since for mark in facts.no_reply_marks):
        return None
    return since


def thread_spans(facts: ThreadClockFacts) -> list[Span]:
    """Every wait of a thread, answered or not, ordered by start (rules T1–T8)."""
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
            waiting.setdefault(CUSTOMER if message.opening_notice else message.author, message.at)
    for mark in marks[next_mark:]:
        stop(waiting, mark, StopReason.NO_REPLY_NEEDED)

    since = _mirakl_start(facts, last_shop_message)
    covered = since is not None and any(
        (last_shop_message is None or at > last_shop_message) and at <= since
        for at in waiting.values()
    )
    if since is not None and not covered:
        # Mirakl counts a message our messages lack (or do not address to the shop).
        audience = facts.last_sender if facts.last_sender in INBOUND else ANY
        if audience == ANY and waiting:
            audience = min(waiting, key=lambda who: waiting[who])
        waiting[audience] = min(waiting.get(audience, since), since)
    spans.extend(Span(at, audience=audience) for audience, at in waiting.items())
    spans.sort(key=lambda s: (s.started_at, s.audience))
    return spans


def mirakl_disagreement(facts: ThreadClockFacts, spans: list[Span]) -> str:
    """How Mirakl's ``shop_reply_needed_since`` and the derived waits disagree, in words
    for the log; empty when they agree (rule T7)."""
    running = sorted(span.started_at for span in spans if span.running)
    since = facts.shop_reply_needed_since
    if since is None:
        if running:
            return f"Mirakl owes nothing; waits since {running[0].isoformat()} kept"
        return ""
    if not running:
        return f"Mirakl waits since {since.isoformat()}; ignored as stale"
    if since not in running:
        return f"Mirakl waits since {since.isoformat()}; ours since {running[0].isoformat()}"
    return ""
