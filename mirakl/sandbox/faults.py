"""Fault injection: rate limiting, server errors, dropped connections, slow answers.

A spec reads ``429=0.1,500=0.05,timeout=0.02,slow=0.1,slow_ms=800,retry_after=1,timeout_s=5``.
Rates are probabilities per API request. ``429``, ``500`` and ``timeout`` exclude each other
(one draw picks at most one of them); ``slow`` is drawn separately and delays whatever the
answer is. Draws come from the injector's own ``random.Random`` so a run is reproducible
for a given seed and request sequence.

``late=0.2,late_s=40``: a write (M12, OR43, OR28, OR64) that passed the other faults is,
with that probability, answered ``504 Gateway Timeout`` at once and applied ``late_s``
seconds later on the sandbox's clock, as a marketplace does when its gateway gives up
on a request its back end is still processing. Only a check made after the delay sees
the write; a check made before it does not.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass

__all__ = ["Fault", "FaultInjector", "FaultSpec", "parse_fault_spec"]

_RATE_KEYS = {
    "429": "rate_429",
    "500": "rate_500",
    "timeout": "rate_timeout",
    "slow": "rate_slow",
    "late": "rate_late",
}
_NUMBER_KEYS = {
    "slow_ms": "slow_ms",
    "retry_after": "retry_after",
    "timeout_s": "timeout_s",
    "late_s": "late_s",
}
_FLOAT_FIELDS = ("timeout_s", "late_s")


@dataclass(frozen=True, slots=True)
class FaultSpec:
    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_timeout: float = 0.0
    rate_slow: float = 0.0
    slow_ms: int = 800
    retry_after: int = 1
    timeout_s: float = 5.0
    rate_late: float = 0.0
    late_s: float = 40.0

    @property
    def active(self) -> bool:
        return any((self.rate_429, self.rate_500, self.rate_timeout, self.rate_slow))

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"429={self.rate_429},500={self.rate_500},timeout={self.rate_timeout},"
            f"slow={self.rate_slow},slow_ms={self.slow_ms},retry_after={self.retry_after},"
            f"timeout_s={self.timeout_s},late={self.rate_late},late_s={self.late_s}"
        )


def parse_fault_spec(spec: str | FaultSpec | dict[str, object] | None) -> FaultSpec:
    """Parse ``429=0.1,500=0.05,...`` (or a dict of the same keys); ``None``/"" = no faults.

    Raises ``ValueError`` on an unknown key or a rate outside [0, 1].
    """
    if spec is None:
        return FaultSpec()
    if isinstance(spec, FaultSpec):
        return spec
    if isinstance(spec, dict):
        items = [(str(k), str(v)) for k, v in spec.items()]
    else:
        items = []
        for chunk in spec.replace(";", ",").split(","):
            chunk = chunk.strip()
            if not chunk:
                continue
            key, sep, value = chunk.partition("=")
            if not sep:
                raise ValueError(f"fault spec item without '=': {chunk!r}")
            items.append((key.strip(), value.strip()))
    values: dict[str, float | int] = {}
    for key, raw in items:
        if key in _RATE_KEYS:
            rate = float(raw)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault rate {key}={raw} is not a probability")
            values[_RATE_KEYS[key]] = rate
        elif key in _NUMBER_KEYS:
            number = float(raw)
            if number < 0:
                raise ValueError(f"fault setting {key}={raw} is negative")
            field = _NUMBER_KEYS[key]
            values[field] = number if field in _FLOAT_FIELDS else int(number)
        else:
            raise ValueError(f"unknown fault key {key!r}")
    return FaultSpec(**values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do to one request: ``kind`` is None, "429", "500" or "timeout"."""

    kind: str | None
    delay_s: float
    retry_after: int
    timeout_s: float


class FaultInjector:
    def __init__(self, spec: FaultSpec | None = None, seed: int = 1) -> None:
        self._spec = spec or FaultSpec()
        self._rng = random.Random(f"faults-{seed}")
        self._lock = threading.Lock()

    @property
    def spec(self) -> FaultSpec:
        return self._spec

    def set_spec(self, spec: FaultSpec) -> None:
        with self._lock:
            self._spec = spec

    def draw(self) -> Fault | None:
        """Decide the fault for one API request (None: answer normally, at once)."""
        with self._lock:
            spec = self._spec
            if not spec.active:
                return None
            pick = self._rng.random()
            slow = self._rng.random() < spec.rate_slow
        kind: str | None = None
        if pick < spec.rate_429:
            kind = "429"
        elif pick < spec.rate_429 + spec.rate_500:
            kind = "500"
        elif pick < spec.rate_429 + spec.rate_500 + spec.rate_timeout:
            kind = "timeout"
        delay = spec.slow_ms / 1000 if slow else 0.0
        if kind is None and not delay:
            return None
        return Fault(kind, delay, spec.retry_after, spec.timeout_s)

    def draw_late(self) -> float | None:
        """For a write: seconds to apply it late after answering 504, or None (now)."""
        with self._lock:
            spec = self._spec
            if not spec.rate_late:
                return None
            late = self._rng.random() < spec.rate_late
        return spec.late_s if late else None
