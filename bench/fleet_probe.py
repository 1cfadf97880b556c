"""Loaded into the fleet benchmark's workers (``celery worker --include``): one JSON line
per sync task, with its connection, start, end and the CPU time of the process that ran
it, appended to the file ``FLEET_PROBE`` names. Not part of the product."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from celery.signals import task_postrun, task_prerun

__all__: list[str] = []

SYNC_TASK = "core.sync.tasks.sync_marketplace_task"
_started: dict[str, tuple[float, float]] = {}


@task_prerun.connect
def _before(task_id: str, task: Any, **kwargs: Any) -> None:
    if task.name == SYNC_TASK:
        _started[task_id] = (time.time(), time.process_time())


@task_postrun.connect
def _after(task_id: str, task: Any, args: tuple = (), **kwargs: Any) -> None:
    started = _started.pop(task_id, None)
    path = os.environ.get("FLEET_PROBE")
    if started is None or not path:
        return
    line = json.dumps(
        {
            "connection": args[0] if args else None,
            "start": started[0],
            "end": time.time(),
            "cpu": time.process_time() - started[1],
            "pid": os.getpid(),
        }
    )
    with open(path, "a", encoding="utf-8") as out:
        out.write(line + "\n")
