"""What every part of the generator shares: time units, its random source, the plan
of an order and its timeline."""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["DAY", "HOUR", "MINUTE", "Plan", "SeedRandom", "Timeline", "cumulative"]

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR

_T = TypeVar("_T")


class SeedRandom(random.Random):
    """``random.Random`` with cheaper float-based helpers: plenty for fake data, and
    generating 100 000 orders stays fast."""

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def choice(self, seq: Sequence[_T]) -> _T:  # type: ignore[override]
        return seq[int(self.random() * len(seq))]

    def weighted(self, values: Sequence[_T], cumulative: Sequence[int]) -> _T:
        """One of ``values`` drawn with the given cumulative weights."""
        return values[bisect(cumulative, self.random() * cumulative[-1])]

    def digits(self, count: int) -> str:
        return f"{self.getrandbits(64) % 10**count:0{count}d}"

    def uuid4(self) -> str:
        """A random (version 4, RFC 4122 variant) UUID string from this generator."""
        h = f"{self.getrandbits(128):032x}"
        variant = _VARIANT[int(h[16], 16) & 3]
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


_VARIANT = "89ab"


def cumulative(weights: tuple[int, ...]) -> tuple[int, ...]:
    total, out = 0, []
    for weight in weights:
        total += weight
        out.append(total)
    return tuple(out)


@dataclass(slots=True)
class Timeline:
    created: int
    accepted: int | None = None
    debited: int | None = None
    shipped: int | None = None
    received: int | None = None
    last: int = 0


@dataclass(slots=True)
class Plan:
    state: str
    last: int
    incident: str | None = None  # "open" | "closed"
    reason: str | None = None
    incident_ms: int = 0
    urgency: str = ""  # urgent | recent | overdue | long
    thread_kind: str | None = None
    timeline: Timeline | None = None
