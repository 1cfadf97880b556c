"""Orders in OR11's order, stored so every page costs about the same at any size and offset.

``OrderSequence`` keeps orders sorted by (created_date, order_id) in blocks of about
``BLOCK`` orders. Each block also holds its orders' last_updated_date twice: by position
(to scan a block) and sorted (to count a block's matches with two bisections). A query
"created in [a, b] and updated in [c, d], offset o, max m" then counts every block in
O(n / BLOCK · log BLOCK), finds the block holding match number o from the counts, and scans
from there until it has m orders: no request touches all orders, so a page at offset 90 000
of 100 000 orders, filtered by start_update_date or not, costs a fraction of a millisecond.

The sequence does not watch the orders: the state calls ``moved`` after an order's
last_updated_date changed (``SandboxState.touch_order``) and ``add``/``discard`` when an
order enters or leaves the sequence. Callers hold the state lock.
"""

from __future__ import annotations

import operator
from array import array
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator
from itertools import compress, islice

from mirakl.sandbox.models import Order

__all__ = ["BLOCK", "OrderSequence"]

BLOCK = 1000  # target block size; a block splits in two beyond twice this
_LAST_ID = "\uffff"  # sorts after any order id

OrderKey = tuple[int, str]


def _key(order: Order) -> OrderKey:
    return (order.created_ms, order.order_id)


class _Block:
    __slots__ = ("keys", "orders", "updated", "updated_sorted")

    def __init__(self, orders: list[Order]) -> None:
        self.orders = orders
        self.keys = [_key(o) for o in orders]
        self.updated = array("q", (o.updated_ms for o in orders))
        self.updated_sorted = array("q", sorted(self.updated))

    def count_updated(self, low: int | None, high: int | None) -> int:
        """How many orders of the whole block have last_updated_date in [low, high]."""
        values = self.updated_sorted
        start = 0 if low is None else bisect_left(values, low)
        end = len(values) if high is None else bisect_right(values, high)
        return max(0, end - start)


class OrderSequence:
    """Orders sorted by (created_ms, order_id), queryable by creation and update ranges."""

    def __init__(self, orders: Iterable[Order] = ()) -> None:
        ordered = sorted(orders, key=_key)
        self._blocks: list[_Block] = [
            _Block(ordered[i : i + BLOCK]) for i in range(0, len(ordered), BLOCK)
        ]
        self._firsts: list[OrderKey] = [b.keys[0] for b in self._blocks]
        self._len = len(ordered)

    # ------------------------------------------------------------- basics
    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[Order]:
        for block in self._blocks:
            yield from block.orders

    def __contains__(self, order: object) -> bool:
        if not isinstance(order, Order):
            return False
        return self._find(order) is not None

    def _block_for(self, key: OrderKey) -> int:
        """The block a key belongs in (the last block whose first key is <= key)."""
        return max(0, bisect_right(self._firsts, key) - 1)

    def _find(self, order: Order) -> tuple[int, _Block, int] | None:
        """(block index, block, position) of an order, or None."""
        if not self._blocks:
            return None
        key = _key(order)
        index = self._block_for(key)
        block = self._blocks[index]
        position = bisect_left(block.keys, key)
        if position < len(block.keys) and block.orders[position] is order:
            return index, block, position
        return None

    # ------------------------------------------------------------ changes
    def add(self, order: Order) -> None:
        """Insert an order (not already present)."""
        key = _key(order)
        if not self._blocks:
            self._blocks.append(_Block([order]))
            self._firsts.append(key)
            self._len = 1
            return
        index = self._block_for(key)
        block = self._blocks[index]
        position = bisect_right(block.keys, key)
        block.keys.insert(position, key)
        block.orders.insert(position, order)
        block.updated.insert(position, order.updated_ms)
        insort(block.updated_sorted, order.updated_ms)
        self._firsts[index] = block.keys[0]
        self._len += 1
        if len(block.orders) > 2 * BLOCK:
            half = len(block.orders) // 2
            tail = _Block(block.orders[half:])
            self._blocks[index] = _Block(block.orders[:half])
            self._blocks.insert(index + 1, tail)
            self._firsts.insert(index + 1, tail.keys[0])

    def discard(self, order: Order) -> bool:
        """Remove an order if present; returns whether it was."""
        found = self._find(order)
        if found is None:
            return False
        index, block, position = found
        value = block.updated[position]
        del block.keys[position]
        del block.orders[position]
        del block.updated[position]
        del block.updated_sorted[bisect_left(block.updated_sorted, value)]
        self._len -= 1
        if block.orders:
            self._firsts[index] = block.keys[0]
        else:
            del self._blocks[index]
            del self._firsts[index]
        return True

    def moved(self, order: Order) -> None:
        """Record a change of the order's last_updated_date (no-op if not present)."""
        found = self._find(order)
        if found is None:
            return
        _, block, position = found
        old, new = block.updated[position], order.updated_ms
        if old == new:
            return
        block.updated[position] = new
        del block.updated_sorted[bisect_left(block.updated_sorted, old)]
        insort(block.updated_sorted, new)

    # ------------------------------------------------------------ queries
    def following(self, key: OrderKey | None, count: int) -> list[Order]:
        """Up to ``count`` orders after ``key`` (from the first one if None), in order."""
        found: list[Order] = []
        blocks = self._blocks
        if not blocks:
            return found
        if key is None:
            index, position = 0, 0
        else:
            index = self._block_for(key)
            position = bisect_right(blocks[index].keys, key)
        while index < len(blocks) and len(found) < count:
            orders = blocks[index].orders
            found.extend(orders[position : position + count - len(found)])
            index, position = index + 1, 0
        return found

    def window(
        self,
        *,
        created_from: int | None = None,
        created_to: int | None = None,
        updated_from: int | None = None,
        updated_to: int | None = None,
        offset: int = 0,
        size: int | None = None,
        descending: bool = False,
    ) -> tuple[int, list[Order]]:
        """(total matching, the page): ``size`` orders from ``offset`` (None: all of them).

        Creation bounds and update bounds are inclusive, in epoch ms; ``descending`` pages
        from the most recently created order.
        """
        spans = self._spans(created_from, created_to)
        by_update = updated_from is not None or updated_to is not None
        counts = []
        for block, start, end in spans:
            if not by_update:
                counts.append(end - start)
            elif start == 0 and end == len(block.orders):
                counts.append(block.count_updated(updated_from, updated_to))
            else:
                counts.append(_scan_count(block, start, end, updated_from, updated_to))
        total = sum(counts)
        if size is None:
            first, last = offset, total
        elif descending:
            first, last = max(0, total - offset - size), max(0, total - offset)
        else:
            first, last = offset, min(total, offset + size)
        page: list[Order] = []
        if first < last:
            page = self._collect(spans, counts, first, last, updated_from, updated_to, by_update)
        if descending:
            page.reverse()
        return total, page

    def _spans(
        self, created_from: int | None, created_to: int | None
    ) -> list[tuple[_Block, int, int]]:
        """(block, start, end) position ranges holding the orders created in the bounds."""
        blocks = self._blocks
        if not blocks:
            return []
        if created_from is None:
            first_block, first_pos = 0, 0
        else:
            low = (created_from, "")
            first_block = self._block_for(low)
            first_pos = bisect_left(blocks[first_block].keys, low)
        if created_to is None:
            last_block, last_pos = len(blocks) - 1, len(blocks[-1].orders)
        else:
            high = (created_to, _LAST_ID)
            last_block = self._block_for(high)
            last_pos = bisect_right(blocks[last_block].keys, high)
        spans = []
        for index in range(first_block, last_block + 1):
            block = blocks[index]
            start = first_pos if index == first_block else 0
            end = last_pos if index == last_block else len(block.orders)
            if start < end:
                spans.append((block, start, end))
        return spans

    @staticmethod
    def _collect(
        spans: list[tuple[_Block, int, int]],
        counts: list[int],
        first: int,
        last: int,
        low: int | None,
        high: int | None,
        by_update: bool,
    ) -> list[Order]:
        """Matches number ``first`` to ``last - 1`` (ascending), walking the blocks."""
        page: list[Order] = []
        wanted = last - first
        skip = first
        for (block, start, end), count in zip(spans, counts, strict=True):
            if skip >= count:
                skip -= count
                continue
            if not by_update:
                take = block.orders[start + skip : min(end, start + skip + wanted - len(page))]
                page.extend(take)
                skip = 0
            else:
                # Positions of the matches (compared in C, orders untouched), then only
                # the orders of the page are fetched.
                flags = _flags(block.updated[start:end], low, high)
                positions = compress(range(start, end), flags)
                orders = block.orders
                page.extend(orders[p] for p in islice(positions, skip, skip + wanted - len(page)))
                skip = 0
            if len(page) >= wanted:
                break
        return page


def _flags(values: array[int], low: int | None, high: int | None) -> Iterator[bool]:
    """Whether each value lies in [low, high] (at least one bound given)."""
    if high is None:
        return map(low.__le__, values)  # type: ignore[operator]
    if low is None:
        return map(high.__ge__, values)
    return map(operator.and_, map(low.__le__, values), map(high.__ge__, values))


def _scan_count(block: _Block, start: int, end: int, low: int | None, high: int | None) -> int:
    return sum(_flags(block.updated[start:end], low, high))
