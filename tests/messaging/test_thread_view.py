"""A thread's view reads its items once: the same answers as going through them each time."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from messaging.models import Message, OutboundMessage, Party
from messaging.selectors import ConversationItem, ThreadView

AUTHORS = [Party.CUSTOMER, Party.OPERATOR, Party.SHOP]
STATES = list(OutboundMessage.State)


def _items(rng: random.Random) -> list[ConversationItem]:
    start = timezone.now() - timedelta(days=30)
    items = []
    for n in range(rng.randint(0, 12)):
        at = start + timedelta(hours=rng.randint(0, 600))
        if rng.random() < 0.7:
            author = rng.choice(AUTHORS)
            message = Message(pk=n + 1, mirakl_id=f"m{n}", author_type=author, date_created=at)
            outbound = None
            if author == Party.SHOP and rng.random() < 0.3:
                outbound = OutboundMessage(pk=n + 1, state=OutboundMessage.State.SENT)
            items.append(_item(at, author, message=message, outbound=outbound))
        else:
            outbound = OutboundMessage(pk=n + 1, state=rng.choice(STATES), created_at=at)
            items.append(_item(at, Party.SHOP, outbound=outbound))
    items.sort(key=lambda item: item.at)
    return items


def _item(at: datetime, author: str, **rest) -> ConversationItem:
    return ConversationItem(
        at=at, author_type=author, author_name="", recipients=[], body="", **rest
    )


def _expected(items: list[ConversationItem]) -> dict:
    """Each property as the view worked it out before, going through the items."""
    synced = [i for i in items if i.message is not None]
    last = synced[-1].message if synced else None
    inbound = [i for i in synced if i.author_type in (Party.CUSTOMER, Party.OPERATOR)]
    last_inbound = inbound[-1].message if inbound else None
    shop = [i.message.date_created for i in synced if i.author_type == Party.SHOP]
    unanswered = None
    if last_inbound is not None and not (shop and max(shop) > last_inbound.date_created):
        unanswered = last_inbound.date_created
    answered = any(
        i.outbound is not None
        and i.message is None
        and i.outbound.state != OutboundMessage.State.FAILED
        and (last_inbound is None or i.outbound.created_at >= last_inbound.date_created)
        for i in items
    )
    return {
        "last_message": last,
        "last_inbound": last_inbound,
        "unanswered_since": unanswered,
        "answered_here": answered,
        "operator_involved": any(i.author_type == Party.OPERATOR for i in items),
    }


@pytest.mark.parametrize("seed", range(200))
def test_the_views_answers_are_those_of_its_items(seed: int) -> None:
    items = _items(random.Random(seed))
    view = ThreadView(thread=None, items=items, topic="")
    expected = _expected(items)
    for _ in range(2):  # read once, asked again
        assert {name: getattr(view, name) for name in expected} == expected
