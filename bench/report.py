"""How a benchmark reports a figure: one line for people, one JSON line for machines.

Every figure a benchmark measures goes through :func:`figure`, which prints

    PASS  sync.full.wall_s                     4.82 s       target ≤ 6 s

and, right after it, one JSON object on a line of its own (``{"figure": …}``) with the
figure's name, value, unit, target, comparison, whether it passed and the machine's load
average when it was taken: the benchmarks share the machine with whatever else runs, and a
figure means little without it. ``python -m bench`` collects these lines from every
benchmark it runs and ends with a summary; anything else can read them with
:func:`parse_line`. A figure without a target is printed for information (``info``) and
never fails.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field

__all__ = ["Figure", "failed", "figure", "figures", "load_average", "parse_line"]

#: Comparisons a target may use, in the JSON line and in the printed line.
_CHECKS = {
    "<=": ("≤", lambda value, target: value <= target),
    "<": ("<", lambda value, target: value < target),
    ">=": ("≥", lambda value, target: value >= target),
    ">": (">", lambda value, target: value > target),
}

#: The JSON lines' marker: a line is a figure when it starts with this.
_PREFIX = '{"figure": '


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured value, its target (if any) and the conditions it was taken in."""

    figure: str
    value: float
    unit: str
    target: float | None
    op: str | None
    passed: bool | None
    load: tuple[float, float, float]
    cpus: int
    at: str
    note: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "info" if self.passed is None else "PASS" if self.passed else "FAIL"

    def line(self) -> str:
        """The line for people: result, name, value, unit and target."""
        target = ""
        if self.target is not None and self.op is not None:
            target = f"target {_CHECKS[self.op][0]} {_number(self.target)} {self.unit}".rstrip()
        text = (
            f"{self.status:<5} {self.figure:<48} {_number(self.value):>12} {self.unit:<8} {target}"
        )
        if self.note:
            text += f"  ({self.note})"
        return text.rstrip()

    def json(self) -> str:
        data = asdict(self)
        data["pass"] = data.pop("passed")
        data["load"] = list(self.load)
        if not self.extra:
            data.pop("extra")
        if not self.note:
            data.pop("note")
        return json.dumps(data, ensure_ascii=False)


_figures: list[Figure] = []


def load_average() -> tuple[float, float, float]:
    """The machine's load average over 1, 5 and 15 minutes (zeros where unknown)."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:  # pragma: no cover - platforms without it
        return (0.0, 0.0, 0.0)
    return (round(one, 2), round(five, 2), round(fifteen, 2))


def figure(
    name: str,
    value: float,
    unit: str,
    *,
    at_most: float | None = None,
    below: float | None = None,
    at_least: float | None = None,
    note: str = "",
    **extra: object,
) -> bool:
    """Print a figure (both lines) and remember it; returns whether it met its target.

    Give at most one target: ``at_most`` (≤), ``below`` (<) or ``at_least`` (≥). Without
    one the figure is information only and counts as met. ``extra`` keys are added to the
    JSON line (e.g. the number of requests behind a percentile).
    """
    targets = [
        (op, t) for op, t in (("<=", at_most), ("<", below), (">=", at_least)) if t is not None
    ]
    if len(targets) > 1:
        raise ValueError("a figure has one target at most")
    op, target = targets[0] if targets else (None, None)
    passed = None if op is None else bool(_CHECKS[op][1](value, target))
    result = Figure(
        figure=name,
        value=round(float(value), 4),
        unit=unit,
        target=target,
        op=op,
        passed=passed,
        load=load_average(),
        cpus=os.cpu_count() or 1,
        at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        note=note,
        extra=dict(extra),
    )
    _figures.append(result)
    print(result.line())
    print(result.json(), flush=True)
    sys.stdout.flush()
    return passed is not False


def figures() -> list[Figure]:
    """Every figure reported so far in this process."""
    return list(_figures)


def failed() -> bool:
    """Whether any figure reported in this process missed its target."""
    return any(f.passed is False for f in _figures)


def parse_line(line: str) -> Figure | None:
    """The figure a JSON line printed by :func:`figure` carries, or None for other lines."""
    if not line.startswith(_PREFIX):
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return Figure(
        figure=data["figure"],
        value=data["value"],
        unit=data["unit"],
        target=data.get("target"),
        op=data.get("op"),
        passed=data.get("pass"),
        load=tuple(data.get("load") or (0.0, 0.0, 0.0)),  # type: ignore[arg-type]
        cpus=data.get("cpus", 0),
        at=data.get("at", ""),
        note=data.get("note", ""),
        extra=data.get("extra", {}),
    )


def _number(value: float) -> str:
    if float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.3f}"
