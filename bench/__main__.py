"""``python -m bench``: run every benchmark in turn."""

import subprocess
import sys

BENCHMARKS = ["bench.sync_bench", "bench.sla_bench", "bench.inbox_bench"]

if __name__ == "__main__":
    failed = False
    for module in BENCHMARKS:
        print(f"== {module}", flush=True)
        failed |= subprocess.call([sys.executable, "-m", module]) != 0  # noqa: S603
    sys.exit(1 if failed else 0)
