"""Threads and messages (M10, M11, M12, OR43 and the other parties' messages)."""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from typing import Any

from mirakl.sandbox.models import (
    Attachment,
    Message,
    Order,
    Thread,
)
from mirakl.sandbox.state.core import StateCore, ThreadKey
from mirakl.sandbox.wire import ApiError

__all__ = ["MAX_THREAD_MESSAGES", "PARTIES", "ThreadsState"]

MAX_THREAD_MESSAGES = 1000  # M12: a thread holds at most 1000 messages
PARTIES = ("CUSTOMER", "OPERATOR")


class ThreadsState(StateCore):
    """Posting to threads (any party), and M11's pages by keyset."""

    def _latest_thread(self, order: Order) -> Thread | None:
        threads = self.threads_by_order.get(order.order_id)
        if not threads:
            return None
        return max(threads, key=lambda t: t.key)

    def _thread_for(self, order: Order, topic_type: str, topic_value: str) -> Thread:
        thread = self._latest_thread(order)
        if thread is None:
            thread = self.generator.new_thread(order, topic_type, topic_value, self.now_ms())
            self.register_thread(thread)
        return thread

    def post(
        self,
        thread: Thread,
        sender: str,
        to: Iterable[str],
        body: str,
        attachments: Iterable[Attachment] = (),
    ) -> Message:
        """Append a message now (any party) and keep every derived field in step."""
        with self.lock:
            if len(thread.messages) >= MAX_THREAD_MESSAGES:
                raise ApiError(
                    400, f"The thread has reached the maximum of {MAX_THREAD_MESSAGES} messages"
                )
            now = self.now_ms()
            old_key = thread.key
            files = tuple(attachments)
            message = Message(self.generator.uuid(), now, sender, body, tuple(to), files)
            thread.append(message)
            self._reindex_thread(thread, old_key)
            self.message_count += 1
            for attachment in files:
                self.attachments[attachment.attachment_id] = attachment
            order = self.orders.get(thread.order_id)
            if order is not None and sender == "CUSTOMER" and not order.has_customer_message:
                order.has_customer_message = True
                self.touch_order(order, now)
            return message

    def post_message(
        self,
        target: str,
        party: str = "CUSTOMER",
        body: str = "Hola, ¿hay alguna novedad sobre mi pedido?",
        to: Iterable[str] | None = None,
    ) -> dict[str, str]:
        """A customer or operator writes on a thread (by id) or on an order's latest thread;
        or a colleague of the shop writes in the back office (``SHOP``, to the customer by
        default).

        Without a thread on the order a new one is started. Recipients default to the shop,
        which starts ``shop_reply_needed_since`` when it was null.
        """
        with self.lock:
            self.process_due()
            party = party.upper()
            if party not in (*PARTIES, "SHOP"):
                raise ApiError(400, f"party must be one of {', '.join(PARTIES)} or SHOP")
            if not body or not body.strip():
                raise ApiError(400, "body is required")
            default_to = ("CUSTOMER",) if party == "SHOP" else ("SHOP",)
            recipients = tuple(dict.fromkeys(r.upper() for r in (to or default_to)))
            if party in recipients or not set(recipients) <= {"CUSTOMER", "OPERATOR", "SHOP"}:
                raise ApiError(400, f"Invalid recipients {list(recipients)} for {party}")
            thread = self.threads.get(target)
            if thread is None:
                order = self.orders.get(target)
                if order is None:
                    raise ApiError(404, f"No thread or order with id '{target}'")
                topic = (
                    "Pregunta acerca de mi pedido"
                    if party == "CUSTOMER"
                    else "Consulta del operador sobre el pedido"
                )
                thread = self._thread_for(order, "FREE_TEXT", topic)
            message = self.post(thread, party, recipients, body)
            return {"thread_id": thread.thread_id, "message_id": message.message_id}

    def thread_window(
        self,
        *,
        entity_type: str | None,
        entity_ids: list[str] | None,
        updated_since: int | None,
        descending: bool,
        limit: int,
        cursor: tuple[str, ThreadKey] | None = None,
    ) -> tuple[list[Thread], ThreadKey | None, ThreadKey | None]:
        """One M11 page by keyset: (threads, next cursor key, previous cursor key).

        ``cursor`` is ("gt", key) for the threads after ``key`` in ascending (date_updated,
        id) order, or ("lt", key) for those before it. A returned key is None when there is
        nothing further in that direction. Caller holds the lock.
        """
        if entity_type is not None and entity_type != "MMP_ORDER":
            keys: list[ThreadKey] = []
        elif entity_ids is not None:
            keys = sorted(
                t.key
                for oid in dict.fromkeys(entity_ids)
                for t in self.threads_by_order.get(oid, ())
            )
        else:
            keys = self.thread_keys
        lo = 0 if updated_since is None else bisect_left(keys, (updated_since, ""))
        n = len(keys)
        if cursor is None:
            mode, key = ("lt", None) if descending else ("gt", None)
        else:
            mode, key = cursor
        if mode == "gt":
            start = lo if key is None else max(lo, bisect_right(keys, key))
            a, b = start, min(n, start + limit)
        else:
            end = n if key is None else max(lo, bisect_left(keys, key))
            a, b = max(lo, end - limit), end
        window = keys[a:b]
        more_above = b < n
        more_below = a > lo
        if descending:
            window = window[::-1]
            next_key = keys[a] if more_below and window else None
            prev_key = keys[b - 1] if more_above and window else None
        else:
            next_key = keys[b - 1] if more_above and window else None
            prev_key = keys[a] if more_below and window else None
        return [self.threads[k[1]] for k in window], next_key, prev_key

    def thread_payload(self, thread_id: str) -> dict[str, Any]:
        with self.lock:
            payload: dict[str, Any] = json.loads(
                self.renderer.thread_json(self.get_thread(thread_id))
            )
            return payload

    def threads_of_order(self, order_id: str) -> list[str]:
        with self.lock:
            threads = sorted(self.threads_by_order.get(order_id, ()), key=lambda t: t.key)
            return [t.thread_id for t in threads]
