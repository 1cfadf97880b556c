"""Time for the sandbox: an injectable clock and Mirakl's date format.

All instants inside the sandbox are integers (milliseconds since the Unix epoch, UTC):
cheap to compare and sort, exact to the millisecond like Mirakl's payloads
(``2024-05-17T11:34:22.677Z``).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

__all__ = [
    "SandboxClock",
    "format_ms",
    "parse_mirakl_date",
    "to_ms",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


# format_ms runs a dozen times per rendered order: it assembles the text from cached days
# and small tables instead of calling strftime (same output, about four times faster).
_DAYS: dict[int, str] = {}
_HOURS_MINUTES = tuple(f"T{h:02d}:{m:02d}:" for h in range(24) for m in range(60))
_SECONDS = tuple(f"{s:02d}." for s in range(60))
_MILLIS = tuple(f"{m:03d}Z" for m in range(1000))


def format_ms(ms: int) -> str:
    """Mirakl's response format: ISO-8601, UTC, milliseconds, ``Z``."""
    seconds, millis = divmod(ms, 1000)
    days, seconds = divmod(seconds, 86_400)
    day = _DAYS.get(days)
    if day is None:
        day = _DAYS[days] = time.strftime("%Y-%m-%d", time.gmtime(days * 86_400))
    minutes, seconds = divmod(seconds, 60)
    return day + _HOURS_MINUTES[minutes] + _SECONDS[seconds] + _MILLIS[millis]


def parse_mirakl_date(text: str) -> int:
    """Parse a date query parameter as Mirakl accepts them; returns epoch milliseconds.

    Accepts ``2024-05-17T11:34:22.677Z``, ``2019-04-02T09:13:52+00:00`` (the SDK's ATOM
    format) and a bare date. A ``+`` left unencoded in a query string arrives as a space,
    so a space is read back as ``+``. Raises ``ValueError`` on anything else.
    """
    value = text.strip().replace(" ", "+")
    if not value:
        raise ValueError("empty date")
    moment = datetime.fromisoformat(value)
    return to_ms(moment)


class SandboxClock:
    """The sandbox's notion of "now".

    It starts at ``start`` (default: the real current time) and, unless ``frozen``, runs
    with the real monotonic clock. ``advance`` moves it forward so tests can trigger
    time-based behaviour (auto-close of resolved incidents) without sleeping.
    """

    def __init__(self, start: datetime | None = None, *, frozen: bool = False) -> None:
        if start is None:
            start = datetime.now(UTC)
        self._start_ms = to_ms(start)
        self._frozen = frozen
        self._origin = time.monotonic()
        self._offset_ms = 0
        self._lock = threading.Lock()

    @property
    def start_ms(self) -> int:
        """The instant the data set is anchored to (the server's start time)."""
        return self._start_ms

    @property
    def frozen(self) -> bool:
        return self._frozen

    def now_ms(self) -> int:
        with self._lock:
            running = 0 if self._frozen else int((time.monotonic() - self._origin) * 1000)
            return self._start_ms + running + self._offset_ms

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_ms() / 1000, tz=UTC)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset_ms += int(round(seconds * 1000))
