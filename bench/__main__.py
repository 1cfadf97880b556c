"""``python -m bench [NAME …] [options of that benchmark]``: run the benchmarks.

Without a name every benchmark runs in turn (``make bench``); with one or more names only
those (``python -m bench sync``; ``python -m bench sync --orders 2000`` passes the options
after the name to it). ``python -m bench --list`` names them. Each benchmark runs in a
process of its own (``python -m bench.<module>``, which also works alone), prints its own
lines, and reports every figure with :func:`bench.report.figure`: a line with PASS/FAIL
(or ``info``) and a JSON line. At the end comes a summary of every figure with the
machine's load; the exit status is 1 when a figure missed its target or a benchmark
failed. ``--json PATH`` also writes every figure's JSON line to PATH.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.report import Figure, load_average, parse_line

#: Name on the command line → module. Run in this order by ``python -m bench``.
BENCHMARKS = {
    "sync": "bench.sync_bench",
    "sla": "bench.sla_bench",
    "inbox": "bench.inbox_bench",
    "fleet": "bench.fleet_bench",
}


def _run(module: str, options: list[str]) -> tuple[int, list[Figure]]:
    """Run one benchmark, echoing its output and collecting the figures it reports."""
    collected: list[Figure] = []
    process = subprocess.Popen(  # noqa: S603 - our own modules
        [sys.executable, "-u", "-m", module, *options],
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        found = parse_line(line.rstrip("\n"))
        if found is not None:
            collected.append(found)
    return process.wait(), collected


def _arguments(argv: list[str]) -> tuple[list[str], list[str], bool, Path | None]:
    """Split the command line: ``[--list] [--json PATH] [NAME …] [options of NAME]``."""
    names: list[str] = []
    show_list, json_path = False, None
    rest = list(argv)
    while rest and not names and rest[0] in ("--list", "--json"):
        flag = rest.pop(0)
        if flag == "--list":
            show_list = True
        elif not rest:
            raise SystemExit("--json needs a path")
        else:
            json_path = Path(rest.pop(0))
    while rest and rest[0] in BENCHMARKS:
        names.append(rest.pop(0))
    if rest and not rest[0].startswith("-"):
        raise SystemExit(f"unknown benchmark {rest[0]!r}: choose from {', '.join(BENCHMARKS)}")
    if rest and len(names) != 1:
        raise SystemExit("options go to one benchmark: name exactly one before them")
    return names, rest, show_list, json_path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    names, options, show_list, json_path = _arguments(argv)
    if show_list:
        for name, module in BENCHMARKS.items():
            print(f"{name:8} python -m {module}")
        return 0
    chosen = names or list(BENCHMARKS)

    results: list[tuple[str, int, list[Figure]]] = []
    for name in chosen:
        print(f"== {name} (python -m {BENCHMARKS[name]})", flush=True)
        status, found = _run(BENCHMARKS[name], options)
        results.append((name, status, found))

    print()
    print("== summary (load average " + ", ".join(f"{v:.2f}" for v in load_average()) + ")")
    failed = False
    for name, status, found in results:
        for item in found:
            print(f"  {item.line()}   [load {item.load[0]:.2f}]")
        missed = [f for f in found if f.passed is False]
        if status != 0 and not missed:
            print(f"  FAIL  {name}: exited with status {status}")
        if not found:
            print(f"  FAIL  {name}: reported no figure")
        failed |= status != 0 or bool(missed) or not found
    if json_path is not None:
        json_path.write_text(
            "".join(item.json() + "\n" for _name, _status, found in results for item in found)
        )
    print("PASS" if not failed else "FAIL")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
