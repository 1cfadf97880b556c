"""Rendering records ahead of the clients, while the server is idle."""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Iterator
from itertools import islice, zip_longest

from mirakl.sandbox.state.core import StateCore, ThreadKey

__all__ = ["WarmUp"]


class WarmUp(StateCore):
    """Renders payloads nobody read yet, the way clients page (``warm``)."""

    def warm(self, budget_s: float = 0.001) -> bool:
        """Render payloads nobody read yet for about ``budget_s`` seconds; True if more remain.

        A first read of an order or a thread costs its rendering (tens of microseconds
        each, so milliseconds for a page of 100); the server calls this in small slices
        while it is idle so pages are joins of cached bytes by the time a client reads
        them. It goes the way clients page: OR11 by creation and M11 by date_updated
        (thread headers and all their messages), both from the start, in turn. Records
        rendered meanwhile are skipped; a record changed later is rendered again on its
        next read.
        """
        with self.lock:
            if self.warmed:
                return False
            if self._warm_steps is None:
                self._warm_steps = self._warm_up()
            deadline = time.perf_counter() + budget_s
            for _ in self._warm_steps:
                if time.perf_counter() >= deadline:
                    return True
            self._warm_steps = None
            self.warmed = True
            return False

    def warm_first(self, orders: int, threads: int) -> None:
        """Render the first ``orders`` of OR11 and ``threads`` of M11 now (both ascending)."""
        with self.lock:
            for _ in islice(self._warm_orders(), orders):
                pass
            if threads > 0:
                done = 0
                for finished in self._warm_threads():
                    done += finished
                    if done >= threads:
                        break

    def _warm_up(self) -> Iterator[object]:
        for _ in zip_longest(self._warm_orders(), self._warm_threads()):
            yield None

    def _warm_orders(self) -> Iterator[None]:
        """One step per order; resumes by key, so orders added meanwhile do no harm."""
        renderer = self.renderer
        order_key: tuple[int, str] | None = None
        while True:
            orders = self.order_seq.following(order_key, 20)
            if not orders:
                break
            for order in orders:
                if order.cache is None:
                    renderer.order_json(order)
                yield
            order_key = (orders[-1].created_ms, orders[-1].order_id)

    def _warm_threads(self) -> Iterator[bool]:
        """A step per 20 messages, True at each thread's end; resumes by (date_updated, id)."""
        renderer = self.renderer
        thread_key: ThreadKey | None = None
        while True:
            keys = self.thread_keys
            index = 0 if thread_key is None else bisect_right(keys, thread_key)
            if index >= len(keys):
                break
            thread_key = keys[index]
            thread = self.threads[thread_key[1]]
            renderer.thread_header_json(thread)
            for count, message in enumerate(thread.messages, start=1):
                if message.cache is None:
                    renderer.message_json(thread, message)
                if count % 20 == 0:
                    yield False
            yield True
