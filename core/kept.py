"""What a process keeps of answers it can make again: drawn HTML, decoded values.

Pages draw the same boxes and decode the same short values again and again; each such
memo is a :class:`Kept` of a fixed size rather than a dict of its own with its own
eviction.
"""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["Kept"]

K = TypeVar("K")
V = TypeVar("V")


class Kept(Generic[K, V]):
    """At most ``size`` answers, all forgotten at once past it: what they hold is cheap
    to make again and changes seldom, so a full memo starts over rather than track which
    answer was used last.

    Safe across a worker's threads as a dict is: a value is stored finished, in one
    assignment, so a thread finds it whole or not at all (two threads may both make it).
    """

    __slots__ = ("_items", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def keep(self, key: K, value: V) -> V:
        """Keep ``value`` under ``key``; returns it."""
        if len(self._items) >= self.size:
            self._items.clear()
        self._items[key] = value
        return value

    def __len__(self) -> int:
        return len(self._items)
