"""Many shops: 300 marketplace connections synced by beat every minute by Celery workers on
this machine, as in production (``python -m bench.fleet_bench [--minutes M] …``).

The marketplaces are sandboxes in processes of their own, each standing in for an
account whose key reaches several shops: the connections sharing a sandbox differ by
their shop id, and a call without the right ``shop_id`` finds another, empty shop. Beat
(one process, the database scheduler, the production schedule with the sync every
``--interval`` seconds) queues one sync per connection; ``--workers`` workers with
``--concurrency`` processes each read the sync queue, and one more reads the outbox
and SLA queues (the sweep runs every minute over the fleet's data). The first sync of
every connection (a full one) is the warm-up; then, for ``--minutes``:

- every connection synced each minute: no beat tick missed, i.e. no gap between two
  completed syncs of a connection (or the window's edges) longer than 1.5 intervals
  (target 100 % of the connections); syncs per connection per minute, and the share
  of calendar minutes with a sync, for information;
- lag: how old each connection's data is (now − its last completed sync), sampled
  every second for every connection; target p95 ≤ 90 s;
- overlapping syncs of one connection (runs that started before the previous one
  ended; target 0);
- CPU per idle incremental sync: in the task itself, and of the sync workers as a
  whole (Celery included) per sync; from it the syncs per minute one worker core
  carries (README, "Scaling out").

DATABASE_URL and REDIS_URL as for the other benchmarks (their synced tables are emptied
first, and the broker's queues of that Redis database).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

from bench.common import ROOT, SANDBOX_KEY, sandbox_process, setup_django, truncate_synced_tables
from bench.report import figure

__all__ = ["main"]

QUEUES = ("sync", "outbox", "sla", "celery")
FIRST_SHOP_ID = 10_000
SHOP_IDS_PER_SANDBOX = 1_000


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet_bench", description=__doc__)
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--sandboxes", type=int, default=6, help="shared by the connections")
    parser.add_argument("--orders", type=int, default=20, help="orders per shop")
    parser.add_argument("--minutes", type=float, default=5.0, help="measured, after warm-up")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers on the sync queue")
    parser.add_argument("--concurrency", type=int, default=2, help="processes per sync worker")
    parser.add_argument("--interval", type=int, default=60, help="beat's sync interval, s")
    parser.add_argument("--warmup-timeout", type=float, default=600.0)
    return parser.parse_args(argv)


# ------------------------------------------------------------------------- processes


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children[ppid].append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def _trees_cpu(processes: list[subprocess.Popen]) -> float:
    return sum(_cpu_seconds(pid) for p in processes for pid in _tree(p.pid))


class _BackendCpu:
    """CPU used by the Postgres backends serving one database, from samples of
    ``/proc``: a backend seen for the first time counts from zero (persistent connections
    are replaced every ``CONN_MAX_AGE``); one that ended between samples loses its last
    seconds, so the figure is a floor."""

    def __init__(self, database: str) -> None:
        self.marker = f" {database} ".encode()
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.sample(baseline=True)

    def sample(self, baseline: bool = False) -> None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if not command.startswith(b"postgres: ") or self.marker not in command + b" ":
                continue
            pid = int(entry.name)
            used = _cpu_seconds(pid)
            self.first.setdefault(pid, used if baseline else 0.0)
            self.last[pid] = used

    @property
    def used(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    out = log.open("ab")
    return subprocess.Popen(  # noqa: S603 - our own command lines
        command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(processes: list[subprocess.Popen], grace: float = 20.0) -> None:
    """SIGTERM each process group we started (warm shutdown), SIGKILL what remains."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def _purge_queues() -> None:
    """Empty the broker's queues (this Redis database only): nothing left from a run
    before is delivered to this one."""
    from django.conf import settings

    if not settings.CELERY_BROKER_URL.startswith("redis"):
        return
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(*QUEUES, "unacked", "unacked_index")


# ------------------------------------------------------------------------- data


def _connections(count: int, sandboxes: list[str]) -> list[int]:
    """``count`` connections spread over the sandboxes, each with a shop of its own."""
    from core.models import MarketplaceConnection

    rows = []
    for n in range(count):
        box = n % len(sandboxes)
        shop = FIRST_SHOP_ID + box * SHOP_IDS_PER_SANDBOX + n // len(sandboxes)
        rows.append(
            MarketplaceConnection(
                code=f"fleet-{n:04d}",
                name=f"Fleet {n:04d}",
                base_url=sandboxes[box],
                api_key=SANDBOX_KEY,
                shop_id=str(shop),
                sla_policy="mediamarkt",
            )
        )
    return [c.pk for c in MarketplaceConnection.objects.bulk_create(rows)]


def _synced(last_resource: str) -> int:
    """Connections with at least one completed sync."""
    from core.sync.models import SyncRun

    return (
        SyncRun.objects.filter(resource=last_resource, status=SyncRun.Status.SUCCEEDED)
        .values("connection_id")
        .distinct()
        .count()
    )


# ------------------------------------------------------------------------- analysis


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def _analyse(ids: list[int], last_resource: str, start: datetime, end: datetime) -> dict:
    from core.sync.models import SyncRun

    done: dict[int, list[datetime]] = defaultdict(list)
    runs: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for connection_id, resource, status, started, finished in SyncRun.objects.filter(
        started_at__lt=end
    ).values_list("connection_id", "resource", "status", "started_at", "finished_at"):
        if finished is not None and finished < start - timedelta(minutes=10):
            continue
        runs[connection_id].append((started, finished or end))
        if resource == last_resource and status == SyncRun.Status.SUCCEEDED and finished:
            done[connection_id].append(finished)

    overlaps = 0
    for spans in runs.values():
        spans.sort()
        reach = None
        for started, finished in spans:
            if reach is not None and started < reach:
                overlaps += 1
            reach = finished if reach is None else max(reach, finished)

    seconds = int((end - start).total_seconds())
    minutes = max(1, seconds // 60)
    covered = 0
    lags: list[float] = []
    gaps: list[float] = []
    for connection_id in ids:
        times = sorted(done.get(connection_id, ()))
        for m in range(minutes):
            low, high = start + timedelta(minutes=m), start + timedelta(minutes=m + 1)
            covered += any(low <= t < high for t in times)
        inside = [start, *(t for t in times if start < t < end), end]
        # The longest stretch without a completed sync (window edges included): a beat
        # tick this connection missed shows as a gap of about two intervals.
        gaps.append(max((b - a).total_seconds() for a, b in itertools.pairwise(inside)))
        last, i = None, 0
        for s in range(seconds + 1):
            now = start + timedelta(seconds=s)
            while i < len(times) and times[i] <= now:
                last, i = times[i], i + 1
            if last is not None:
                lags.append((now - last).total_seconds())
            else:
                lags.append(float("inf"))
    in_window = sum(1 for ts in done.values() for t in ts if start <= t < end)
    return {
        "covered": covered / (len(ids) * minutes),
        "gaps": gaps,
        "lag_p50": _percentile(lags, 0.50),
        "lag_p95": _percentile(lags, 0.95),
        "lag_max": max(lags) if lags else math.nan,
        "overlaps": float(overlaps),
        "syncs": float(in_window),
        "minutes": float(minutes),
    }


def _probe_lines(path: Path, start: float, end: float) -> list[dict]:
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [line for line in lines if start <= line["start"] and line["end"] <= end]


# ------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    setup_django()
    from django.conf import settings
    from django.utils import timezone

    from core.sync.registry import resources

    last_resource = resources()[-1].name
    truncate_synced_tables()
    _purge_queues()
    shops_each = math.ceil(args.connections / args.sandboxes)
    work = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    probe = work / "probe.jsonl"
    env = {
        **os.environ,
        "LOG_LEVEL": "WARNING",
        "SYNC_INTERVAL_SECONDS": str(args.interval),
        "SYNC_ON_WORKER_START": "true",
        "FLEET_PROBE": str(probe),
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.base"),
    }
    celery = str(Path(sys.executable).with_name("celery"))
    print(
        f"{args.connections} connections on {args.sandboxes} sandboxes ({shops_each} shops "
        f"each, {args.orders} orders per shop); {args.workers} sync workers × "
        f"{args.concurrency}; beat every {args.interval} s; {args.minutes:g} min measured; "
        f"logs in {work}",
        flush=True,
    )
    failed = False
    with contextlib.ExitStack() as stack:
        urls = []
        started = time.perf_counter()
        for n in range(args.sandboxes):
            urls.append(
                stack.enter_context(
                    sandbox_process(
                        "--shops",
                        str(shops_each),
                        "--shop-id",
                        str(FIRST_SHOP_ID + n * SHOP_IDS_PER_SANDBOX),
                        "--orders",
                        str(args.orders),
                        "--seed",
                        str(100 + n * shops_each),
                        "--auto-close-seconds",
                        "10000000",
                    )
                )
            )
        print(f"sandboxes ready in {time.perf_counter() - started:.1f} s", flush=True)
        ids = _connections(args.connections, urls)

        sync_workers = [
            _start(
                [
                    celery,
                    "-A",
                    "config",
                    "worker",
                    "-l",
                    "WARNING",
                    "-Q",
                    "sync",
                    "-c",
                    str(args.concurrency),
                    "-n",
                    f"fleet-sync{n}@%h",
                    "--include",
                    "bench.fleet_probe",
                ],
                env,
                work / f"worker-sync{n}.log",
            )
            for n in range(args.workers)
        ]
        others = [
            _start(
                [celery, "-A", "config", "worker", "-l", "WARNING", "-Q", "outbox,sla,celery"]
                + ["-c", "1", "-n", "fleet-other@%h"],
                env,
                work / "worker-other.log",
            ),
            _start(
                [celery, "-A", "config", "beat", "-l", "WARNING"]
                + ["--scheduler", settings.CELERY_BEAT_SCHEDULER],
                env,
                work / "beat.log",
            ),
        ]
        stack.callback(_stop, [*others, *sync_workers])

        started = time.perf_counter()
        while (synced := _synced(last_resource)) < args.connections:
            if time.perf_counter() - started > args.warmup_timeout:
                print(f"warm-up: only {synced} of {args.connections} connections synced")
                return 1
            if any(p.poll() is not None for p in [*sync_workers, *others]):
                print(f"a worker or beat stopped: see {work}")
                return 1
            time.sleep(2)
        warmup = time.perf_counter() - started
        print(f"warm-up: every connection's first (full) sync in {warmup:.0f} s", flush=True)

        start, start_ts = timezone.now(), time.time()
        cpu_before = _trees_cpu(sync_workers)
        other_before = _trees_cpu(others)
        database = str(settings.DATABASES["default"]["NAME"])
        backends = _BackendCpu(database)
        while time.time() < start_ts + args.minutes * 60:
            backends.sample()
            time.sleep(2)
        backends.sample()
        end, end_ts = timezone.now(), time.time()
        cpu_used = _trees_cpu(sync_workers) - cpu_before
        other_used = _trees_cpu(others) - other_before

    pg_used = backends.used
    result = _analyse(ids, last_resource, start, end)
    tasks = _probe_lines(probe, start_ts, end_ts)
    task_cpu = statistics.mean(t["cpu"] for t in tasks) if tasks else math.nan
    task_wall = [t["end"] - t["start"] for t in tasks]
    syncs = max(1.0, result["syncs"])
    per_sync = cpu_used / syncs
    print(
        f"{int(result['syncs'])} syncs completed in {result['minutes']:.0f} min "
        f"({result['syncs'] / result['minutes']:.0f}/min), {len(tasks)} sync tasks; "
        f"sync workers used {cpu_used:.1f} s CPU, the outbox/SLA worker and beat "
        f"{other_used:.1f} s, Postgres (this database's backends) about {pg_used:.1f} s"
    )
    pg_per_sync = pg_used / syncs
    checks = [
        figure(
            "fleet.connections_synced_each_minute_pct",
            100 * sum(gap <= 1.5 * args.interval for gap in result["gaps"]) / len(ids),
            "%",
            at_least=100.0,
            note=(
                f"{args.connections} connections, {args.workers} workers × {args.concurrency}: "
                f"no beat tick missed (every gap between syncs ≤ 1.5 × {args.interval} s)"
            ),
        ),
        figure(
            "fleet.syncs_per_connection_per_min",
            result["syncs"] / len(ids) / result["minutes"],
            "syncs",
            note=f"longest gap {max(result['gaps']):.0f} s",
        ),
        figure(
            "fleet.connection_minutes_with_a_sync_pct",
            100 * result["covered"],
            "%",
            note="by calendar minute of the window: a sync every 61 s misses one now and then",
        ),
        figure("fleet.lag_p95_s", result["lag_p95"], "s", at_most=90.0, note="data age"),
        figure("fleet.lag_max_s", result["lag_max"], "s"),
        figure("fleet.overlapping_syncs", result["overlaps"], "runs", at_most=0.0),
        figure(
            "fleet.cpu_per_idle_sync_task_ms",
            1000 * task_cpu,
            "ms",
            note="in the task, nothing changed",
        ),
        figure(
            "fleet.cpu_per_idle_sync_worker_ms",
            1000 * per_sync,
            "ms",
            note="sync workers' CPU (Celery included) per completed sync",
        ),
        figure("fleet.sync_task_p95_ms", 1000 * _percentile(task_wall, 0.95), "ms"),
        figure(
            "fleet.postgres_cpu_per_idle_sync_ms",
            1000 * pg_per_sync,
            "ms",
            note="every backend of this database (the sweep's too), per sync",
        ),
        figure(
            "fleet.idle_syncs_per_min_per_worker_core",
            60 / per_sync if per_sync > 0 else math.nan,
            "syncs/min",
            note="the sync workers' CPU only",
        ),
        figure(
            "fleet.idle_syncs_per_min_per_core_with_postgres",
            60 / (per_sync + pg_per_sync) if per_sync + pg_per_sync > 0 else math.nan,
            "syncs/min",
            note="sync workers and Postgres on one machine",
        ),
    ]
    failed = not all(checks)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
