"""Threads and messages as M10 and M11 render them, with the shop's participants."""

from __future__ import annotations

from typing import Any

from mirakl.sandbox.catalog import ShopProfile
from mirakl.sandbox.clock import format_ms
from mirakl.sandbox.models import (
    Message,
    Participant,
    Thread,
)
from mirakl.sandbox.render.values import (
    date_or_none,
    dumps,
    json_date,
    json_str,
)

__all__ = ["ThreadRenderer"]


class ThreadRenderer:
    """Knows the shop (for participants and senders) and renders threads and messages."""

    def __init__(self, shop: ShopProfile) -> None:
        self.shop = shop
        self.shop_participant = Participant("SHOP", shop.name, shop.shop_id)
        self.operator_participant = Participant("OPERATOR", shop.operator_name)
        self._senders = {
            "OPERATOR": {
                "display_name": shop.operator_name,
                "organization_details": {"display_name": shop.operator_name, "type": "OPERATOR"},
                "type": "OPERATOR_USER",
            },
            "SHOP": {
                "display_name": shop.user_email,
                "organization_details": {
                    "display_name": shop.name,
                    "id": shop.shop_id,
                    "type": "SHOP",
                },
                "type": "SHOP_USER",
            },
        }
        self._sender_texts = {kind: dumps(value) for kind, value in self._senders.items()}
        self._participant_texts = {
            "OPERATOR": dumps(self.operator_participant.as_dict()),
            "SHOP": dumps(self.shop_participant.as_dict()),
        }

    def participant(self, thread: Thread, kind: str) -> Participant:
        if kind == "CUSTOMER":
            return thread.customer
        if kind == "SHOP":
            return self.shop_participant
        return self.operator_participant

    def authorized(self, thread: Thread) -> list[Participant]:
        return [thread.customer, self.operator_participant, self.shop_participant]

    def sender_dict(self, thread: Thread, kind: str) -> dict[str, Any]:
        if kind == "CUSTOMER":
            c = thread.customer
            return {
                "display_name": c.display_name,
                "organization_details": {
                    "display_name": c.display_name,
                    "id": c.id,
                    "type": "CUSTOMER",
                },
                "type": "CUSTOMER_USER",
            }
        return self._senders[kind]

    def thread_header_json(self, thread: Thread) -> bytes:
        """The thread without ``messages`` (what M11 returns with with_messages=false)."""
        cache = thread.cache
        if cache is None:
            cache = thread.cache = self.thread_header_text(thread).encode()
        return cache

    def thread_json(self, thread: Thread, *, last: int | None = None) -> bytes:
        """The thread with its messages: all of them, or only the ``last`` N."""
        messages = thread.messages if last is None else thread.messages[-last:]
        header = self.thread_header_json(thread)
        render = self.message_json
        body = b",".join([m.cache or render(thread, m) for m in messages])
        return b"".join((header[:-1], b',"messages":[', body, b"]}"))

    # Direct JSON text of the thread records (see the module docstring).
    def participant_text(self, thread: Thread, kind: str) -> str:
        if kind == "CUSTOMER":
            return _participant_text(thread.customer)
        return self._participant_texts["SHOP" if kind == "SHOP" else "OPERATOR"]

    def sender_text(self, thread: Thread, kind: str) -> str:
        if kind == "CUSTOMER":
            c = thread.customer
            name = json_str(c.display_name)
            return (
                f'{{"display_name":{name},"organization_details":{{"display_name":{name}'
                f',"id":{json_str(c.id)},"type":"CUSTOMER"}},"type":"CUSTOMER_USER"}}'
            )
        return self._sender_texts[kind]

    def thread_header_text(self, thread: Thread) -> str:
        """``dumps(self.thread_dict(thread))``, written directly (no cache)."""
        last = thread.messages[-1] if thread.messages else None
        customer = _participant_text(thread.customer)
        participants = self._participant_texts
        current = ",".join(
            customer if kind == "CUSTOMER" else participants[kind]
            for kind in ("CUSTOMER", "OPERATOR", "SHOP")
            if kind in thread.current
        )
        order_id = json_str(thread.order_id)
        not_needed = ",".join(
            f'{{"date":"{format_ms(ms)}","user_type":{json_str(user_type)}}}'
            for ms, user_type in thread.no_store_reply_needed
        )
        return (
            f'{{"authorized_participants":[{customer},{participants["OPERATOR"]}'
            f',{participants["SHOP"]}],"current_participants":[{current}]'
            f',"date_created":"{format_ms(thread.created_ms)}"'
            f',"date_updated":"{format_ms(thread.updated_ms)}"'
            f',"entities":[{{"id":{order_id},"label":{order_id},"type":"MMP_ORDER"}}]'
            f',"id":{json_str(thread.thread_id)}'
            f',"metadata":{{"last_message_date":{json_date(last.created_ms if last else None)}'
            f',"last_sender":{self.sender_text(thread, last.sender) if last else "null"}'
            f',"shop_reply_needed_since":{json_date(thread.shop_reply_needed_since)}'
            f',"total_count":{len(thread.messages)}}}'
            f',"no_store_reply_needed":[{not_needed}]'
            f',"topic":{{"type":{json_str(thread.topic_type)},"value":{json_str(thread.topic_value)}}}}}'
        )

    def message_text(self, thread: Thread, message: Message) -> str:
        """``dumps(self.message_dict(thread, message))``, written directly (no cache)."""
        attachments = ",".join(
            f'{{"id":{json_str(a.attachment_id)},"name":{json_str(a.name)},"size":{a.size}}}'
            for a in message.attachments
        )
        to = ",".join(self.participant_text(thread, kind) for kind in message.to)
        return (
            f'{{"attachments":[{attachments}],"body":{json_str(message.body)}'
            f',"date_created":"{format_ms(message.created_ms)}"'
            f',"from":{self.sender_text(thread, message.sender)}'
            f',"id":{json_str(message.message_id)},"to":[{to}]}}'
        )

    def thread_dict(self, thread: Thread) -> dict[str, Any]:
        last = thread.messages[-1] if thread.messages else None
        order = ("CUSTOMER", "OPERATOR", "SHOP")
        current = [
            self.participant(thread, kind).as_dict() for kind in order if kind in thread.current
        ]
        return {
            "authorized_participants": [p.as_dict() for p in self.authorized(thread)],
            "current_participants": current,
            "date_created": format_ms(thread.created_ms),
            "date_updated": format_ms(thread.updated_ms),
            "entities": [{"id": thread.order_id, "label": thread.order_id, "type": "MMP_ORDER"}],
            "id": thread.thread_id,
            "metadata": {
                "last_message_date": format_ms(last.created_ms) if last else None,
                "last_sender": self.sender_dict(thread, last.sender) if last else None,
                "shop_reply_needed_since": date_or_none(thread.shop_reply_needed_since),
                "total_count": len(thread.messages),
            },
            "no_store_reply_needed": [
                {"date": format_ms(ms), "user_type": user_type}
                for ms, user_type in thread.no_store_reply_needed
            ],
            "topic": {"type": thread.topic_type, "value": thread.topic_value},
        }

    def message_json(self, thread: Thread, message: Message) -> bytes:
        cache = message.cache
        if cache is None:
            cache = message.cache = self.message_text(thread, message).encode()
        return cache

    def message_dict(self, thread: Thread, message: Message) -> dict[str, Any]:
        return {
            "attachments": [
                {"id": a.attachment_id, "name": a.name, "size": a.size} for a in message.attachments
            ],
            "body": message.body,
            "date_created": format_ms(message.created_ms),
            "from": self.sender_dict(thread, message.sender),
            "id": message.message_id,
            "to": [self.participant(thread, kind).as_dict() for kind in message.to],
        }


def _participant_text(participant: Participant) -> str:
    name, kind = json_str(participant.display_name), json_str(participant.type)
    if participant.id is None:
        return f'{{"display_name":{name},"type":{kind}}}'
    return f'{{"display_name":{name},"id":{json_str(participant.id)},"type":{kind}}}'
