"""Every clock rule, table-driven on plain facts (no database)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from messaging.notices import is_opening_notice
from sla.clock import (
    ANY,
    CLOCK_RULES,
    CUSTOMER,
    OPERATOR,
    SHOP,
    IncidentClockFacts,
    MessageFact,
    Span,
    StopReason,
    ThreadClockFacts,
    incident_span,
    mirakl_disagreement,
    thread_spans,
)

ROOT = Path(__file__).resolve().parents[2]


def t(hour: int, minute: int = 0, day: int = 7) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def msg(at: datetime, author: str, *to: str) -> MessageFact:
    return MessageFact(at=at, author=author, recipients=frozenset(to))


def cust(at: datetime, *to: str) -> MessageFact:
    return msg(at, CUSTOMER, *(to or (SHOP, OPERATOR)))


def oper(at: datetime, *to: str) -> MessageFact:
    return msg(at, OPERATOR, *(to or (SHOP,)))


def shop(at: datetime, *to: str) -> MessageFact:
    return msg(at, SHOP, *to)


REPLY = StopReason.SHOP_REPLY
CLOSED = StopReason.INCIDENT_CLOSED
NO_REPLY = StopReason.NO_REPLY_NEEDED

INCIDENT_CASES = [
    ("I1 open, nothing since: running from opening", IncidentClockFacts(t(10)), Span(t(10))),
    (
        "I2 first shop message after opening stops it",
        IncidentClockFacts(t(10), shop_messages=(t(12), t(11))),
        Span(t(10), t(11), REPLY),
    ),
    (
        "I2 a shop message at the opening instant counts",
        IncidentClockFacts(t(10), shop_messages=(t(10),)),
        Span(t(10), t(10), REPLY),
    ),
    (
        "I2 a message to the customer and the operator stops it",
        IncidentClockFacts(t(10), shop_messages=((t(11), frozenset({CUSTOMER, OPERATOR})),)),
        Span(t(10), t(11), REPLY),
    ),
    (
        "I2 a message to the customer alone stops it",
        IncidentClockFacts(t(10), shop_messages=((t(11), frozenset({CUSTOMER})),)),
        Span(t(10), t(11), REPLY),
    ),
    (
        "I3 a note to the operator alone does not stop it",
        IncidentClockFacts(t(10), shop_messages=((t(11), frozenset({OPERATOR})),)),
        Span(t(10)),
    ),
    (
        "I3 the operator note is skipped, the later customer reply stops it",
        IncidentClockFacts(
            t(10),
            shop_messages=((t(11), frozenset({OPERATOR})), (t(13), frozenset({CUSTOMER}))),
        ),
        Span(t(10), t(13), REPLY),
    ),
    (
        "I4 shop message before opening does not count",
        IncidentClockFacts(t(10), shop_messages=(t(9),)),
        Span(t(10)),
    ),
    (
        "I5 closing stops it",
        IncidentClockFacts(t(10), closed_at=t(15)),
        Span(t(10), t(15), CLOSED),
    ),
    (
        "I5 closing before the first reply: closing wins",
        IncidentClockFacts(t(10), closed_at=t(11), shop_messages=(t(12),)),
        Span(t(10), t(11), CLOSED),
    ),
    (
        "I5 reply before closing: reply wins",
        IncidentClockFacts(t(10), closed_at=t(13), shop_messages=(t(12),)),
        Span(t(10), t(12), REPLY),
    ),
    (
        "I5 tie: the reply is the reason",
        IncidentClockFacts(t(10), closed_at=t(12), shop_messages=(t(12),)),
        Span(t(10), t(12), REPLY),
    ),
]


@pytest.mark.parametrize(("facts", "expected"), [c[1:] for c in INCIDENT_CASES],
                         ids=[c[0] for c in INCIDENT_CASES])  # fmt: skip
def test_incident_rules(facts: IncidentClockFacts, expected: Span) -> None:
    assert incident_span(facts) == expected


THREAD_CASES = [
    ("no messages: nothing waits", ThreadClockFacts(), []),
    (
        "T1 customer message starts a customer wait",
        ThreadClockFacts(messages=(cust(t(10)),)),
        [Span(t(10), audience=CUSTOMER)],
    ),
    (
        "T1 the first unanswered message is the start",
        ThreadClockFacts(messages=(cust(t(10)), cust(t(11)), cust(t(12)))),
        [Span(t(10), audience=CUSTOMER)],
    ),
    (
        "T1 operator message starts an operator wait",
        ThreadClockFacts(messages=(oper(t(10)),)),
        [Span(t(10), audience=OPERATOR)],
    ),
    (
        "T1 no recipients recorded: addressed to the shop",
        ThreadClockFacts(messages=(msg(t(10), CUSTOMER),)),
        [Span(t(10), audience=CUSTOMER)],
    ),
    (
        "T2 operator to customer only starts nothing",
        ThreadClockFacts(messages=(oper(t(10), CUSTOMER),)),
        [],
    ),
    (
        "T3 reply to the customer answers the customer",
        ThreadClockFacts(messages=(cust(t(10)), shop(t(11), CUSTOMER))),
        [Span(t(10), t(11), REPLY, CUSTOMER)],
    ),
    (
        "T3 reply to the operator does not answer the customer",
        ThreadClockFacts(messages=(cust(t(10)), shop(t(11), OPERATOR))),
        [Span(t(10), audience=CUSTOMER)],
    ),
    (
        "T3 reply to the customer does not answer the operator",
        ThreadClockFacts(messages=(oper(t(10)), shop(t(11), CUSTOMER))),
        [Span(t(10), audience=OPERATOR)],
    ),
    (
        "T3 reply to both answers both",
        ThreadClockFacts(messages=(cust(t(10)), oper(t(11)), shop(t(12), CUSTOMER, OPERATOR))),
        [Span(t(10), t(12), REPLY, CUSTOMER), Span(t(11), t(12), REPLY, OPERATOR)],
    ),
    (
        "T3 reply with no recipients answers every wait",
        ThreadClockFacts(messages=(cust(t(10)), oper(t(11)), shop(t(12)))),
        [Span(t(10), t(12), REPLY, CUSTOMER), Span(t(11), t(12), REPLY, OPERATOR)],
    ),
    (
        "T3 each audience answered separately",
        ThreadClockFacts(
            messages=(cust(t(10)), oper(t(11)), shop(t(12), CUSTOMER), shop(t(14), OPERATOR))
        ),
        [Span(t(10), t(12), REPLY, CUSTOMER), Span(t(11), t(14), REPLY, OPERATOR)],
    ),
    (
        "T3 a new message after the answer starts a new wait",
        ThreadClockFacts(messages=(cust(t(10)), shop(t(11), CUSTOMER), cust(t(15)))),
        [Span(t(10), t(11), REPLY, CUSTOMER), Span(t(15), audience=CUSTOMER)],
    ),
    (
        "T4 a shop message first does not answer a later message",
        ThreadClockFacts(messages=(shop(t(9), CUSTOMER), cust(t(10)))),
        [Span(t(10), audience=CUSTOMER)],
    ),
    (
        "T5 a no-reply mark stops the waits started before it",
        ThreadClockFacts(messages=(cust(t(10)), oper(t(11))), no_reply_marks=(t(12),)),
        [Span(t(10), t(12), NO_REPLY, CUSTOMER), Span(t(11), t(12), NO_REPLY, OPERATOR)],
    ),
    (
        "T5 a mark does not stop a wait started after it",
        ThreadClockFacts(messages=(cust(t(10)), cust(t(13))), no_reply_marks=(t(12),)),
        [Span(t(10), t(12), NO_REPLY, CUSTOMER), Span(t(13), audience=CUSTOMER)],
    ),
    (
        "T5 a mark at the message's instant stops it",
        ThreadClockFacts(messages=(cust(t(10)),), no_reply_marks=(t(10),)),
        [Span(t(10), t(10), NO_REPLY, CUSTOMER)],
    ),
    (
        "T7 Mirakl's date matches the messages: the messages' wait, nothing added",
        ThreadClockFacts(
            messages=(cust(t(10)), shop(t(11), CUSTOMER), cust(t(12))),
            shop_reply_needed_since=t(12),
            last_sender=CUSTOMER,
        ),
        [Span(t(10), t(11), REPLY, CUSTOMER), Span(t(12), audience=CUSTOMER)],
    ),
    (
        "T7 messages missing: the wait starts at Mirakl's date, last sender's audience",
        ThreadClockFacts(shop_reply_needed_since=t(9), last_sender=OPERATOR),
        [Span(t(9), audience=OPERATOR)],
    ),
    (
        "T7 messages missing, last sender unknown: audience ANY",
        ThreadClockFacts(messages=(shop(t(8), CUSTOMER),), shop_reply_needed_since=t(9)),
        [Span(t(9), audience=ANY)],
    ),
    (
        "T7 older wait of another audience still running: Mirakl's wait is added",
        ThreadClockFacts(
            messages=(cust(t(8)), shop(t(9), OPERATOR)),
            shop_reply_needed_since=t(10),
            last_sender=OPERATOR,
        ),
        [Span(t(8), audience=CUSTOMER), Span(t(10), audience=OPERATOR)],
    ),
    (
        "T7 a Mirakl date before the shop's last message is stale",
        ThreadClockFacts(
            messages=(cust(t(8)), shop(t(9), CUSTOMER)),
            shop_reply_needed_since=t(8),
            last_sender=CUSTOMER,
        ),
        [Span(t(8), t(9), REPLY, CUSTOMER)],
    ),
    (
        "T7 a Mirakl date with a later no-reply mark is stale",
        ThreadClockFacts(shop_reply_needed_since=t(8), no_reply_marks=(t(9),)),
        [],
    ),
    (
        "T6 the marketplace's opening notice owes the customer",
        ThreadClockFacts(messages=(MessageFact(t(10), OPERATOR, frozenset({SHOP}), True),)),
        [Span(t(10), audience=CUSTOMER)],
    ),
    (
        "T6 answering the operator alone leaves the customer waiting after the notice",
        ThreadClockFacts(
            messages=(
                MessageFact(t(10), OPERATOR, frozenset({SHOP}), True),
                shop(t(11), OPERATOR),
            )
        ),
        [Span(t(10), audience=CUSTOMER)],
    ),
    (
        "T6 the notice and Mirakl's date agree: only the customer waits",
        ThreadClockFacts(
            messages=(MessageFact(t(10), OPERATOR, frozenset({SHOP}), True),),
            shop_reply_needed_since=t(10),
            last_sender=OPERATOR,
        ),
        [Span(t(10), audience=CUSTOMER)],
    ),
    (
        "T6 an operator message that is not the notice owes the operator",
        ThreadClockFacts(messages=(MessageFact(t(10), OPERATOR, frozenset({SHOP})),)),
        [Span(t(10), audience=OPERATOR)],
    ),
    (
        "T7 Mirakl's date earlier than our wait: a message is missing, Mirakl's date wins",
        ThreadClockFacts(
            messages=(shop(t(8), CUSTOMER), cust(t(11))),
            shop_reply_needed_since=t(9),
            last_sender=CUSTOMER,
        ),
        [Span(t(9), audience=CUSTOMER)],
    ),
    (
        "T7 a message not addressed to the shop that Mirakl counts: Mirakl's wait",
        ThreadClockFacts(
            messages=(oper(t(10), CUSTOMER),), shop_reply_needed_since=t(10), last_sender=OPERATOR
        ),
        [Span(t(10), audience=OPERATOR)],
    ),
    (
        "T7 Mirakl owes nothing, the customer our messages show waiting keeps waiting",
        ThreadClockFacts(messages=(cust(t(10)), shop(t(11), OPERATOR)), last_sender=SHOP),
        [Span(t(10), audience=CUSTOMER)],
    ),
    (
        "T8 nothing about incidents stops a thread wait",
        ThreadClockFacts(messages=(oper(t(10)),)),
        [Span(t(10), audience=OPERATOR)],
    ),
]


@pytest.mark.parametrize(("facts", "expected"), [c[1:] for c in THREAD_CASES],
                         ids=[c[0] for c in THREAD_CASES])  # fmt: skip
def test_thread_rules(facts: ThreadClockFacts, expected: list[Span]) -> None:
    assert thread_spans(facts) == expected


DISAGREEMENTS = [
    ("agree", ThreadClockFacts(messages=(cust(t(10)),), shop_reply_needed_since=t(10)), ""),
    ("both quiet", ThreadClockFacts(messages=(cust(t(10)), shop(t(11), CUSTOMER))), ""),
    (
        "Mirakl owes nothing",
        ThreadClockFacts(messages=(cust(t(10)), shop(t(11), OPERATOR))),
        "Mirakl owes nothing",
    ),
    (
        "stale Mirakl date",
        ThreadClockFacts(messages=(cust(t(8)), shop(t(9), CUSTOMER)), shop_reply_needed_since=t(8)),
        "ignored as stale",
    ),
    (
        "Mirakl earlier",
        ThreadClockFacts(messages=(cust(t(11)),), shop_reply_needed_since=t(9)),
        "",  # Mirakl's date won: the wait now starts there
    ),
    (
        "ours earlier",
        ThreadClockFacts(
            messages=(cust(t(8)), shop(t(9), OPERATOR), cust(t(10))),
            shop_reply_needed_since=t(10),
        ),
        "ours since",
    ),
]


@pytest.mark.parametrize(("facts", "expected"), [c[1:] for c in DISAGREEMENTS],
                         ids=[c[0] for c in DISAGREEMENTS])  # fmt: skip
def test_T7_disagreements_are_described_for_the_log(facts: ThreadClockFacts, expected: str) -> None:
    text = mirakl_disagreement(facts, thread_spans(facts))
    assert (expected in text) if expected else text == ""


def test_T6_the_notice_is_an_operator_message_to_the_shop_near_an_opening() -> None:
    opened = [t(10)]
    assert is_opening_notice(
        author=OPERATOR, recipients=[SHOP], at=t(10, 1), incident_openings=opened
    )
    assert not is_opening_notice(
        author=OPERATOR, recipients=[SHOP], at=t(10, 5), incident_openings=opened
    )
    assert not is_opening_notice(
        author=OPERATOR, recipients=[SHOP, CUSTOMER], at=t(10), incident_openings=opened
    )
    assert not is_opening_notice(
        author=CUSTOMER, recipients=[SHOP], at=t(10), incident_openings=opened
    )
    assert not is_opening_notice(author=OPERATOR, recipients=[SHOP], at=t(10), incident_openings=[])


#: Rules tested elsewhere: the code, the test file and the test's name.
RULES_TESTED_ELSEWHERE = {
    "N1": ("tests/messaging/test_services.py", "test_N1_no_reply_on_an_unresolved_incident"),
}


def test_every_rule_of_the_table_has_a_test() -> None:
    ids = [c[0] for c in INCIDENT_CASES + THREAD_CASES]
    for code, _rule in CLOCK_RULES:
        if code in RULES_TESTED_ELSEWHERE:
            path, name = RULES_TESTED_ELSEWHERE[code]
            assert f"def {name}" in (ROOT / path).read_text(), code
            continue
        assert any(case.startswith(f"{code} ") for case in ids), code
    assert [code for code, _ in CLOCK_RULES][:3] == ["I1", "I2", "I3"]


def test_the_readme_states_the_same_table() -> None:
    readme = (ROOT / "README.md").read_text()
    for code, rule in CLOCK_RULES:
        assert f"| {code} | {rule} |" in readme, code


def test_spans_say_whether_they_run() -> None:
    assert Span(t(10)).running
    assert not Span(t(10), t(11), REPLY).running
