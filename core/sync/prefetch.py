"""Reading the next pages from Mirakl while the current one is written.

The sync alternates between waiting for Mirakl and writing to Postgres. Running the
page iterator in a background thread, a bounded number of pages ahead, overlaps the
two: the total time approaches the larger of them instead of their sum. The thread
touches only the HTTP client, never the database.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["prefetched"]

T = TypeVar("T")

_DONE = object()


def prefetched(items: Iterable[T], *, depth: int = 2) -> Iterator[T]:
    """Yield ``items`` in order, produced by a thread up to ``depth`` items ahead.

    An exception raised while producing is re-raised here, at the point the failed
    item would have been yielded. Closing the generator early stops the producer.
    """
    buffer: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[object, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                buffer.put(entry, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
        except BaseException as exc:  # handed over to the consumer, which re-raises it
            put((_DONE, exc))
            return
        put((_DONE, None))

    producer = threading.Thread(target=produce, name="mirakl-prefetch", daemon=True)
    producer.start()
    try:
        while True:
            item, error = buffer.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        producer.join(timeout=60)
