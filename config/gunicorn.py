"""gunicorn's settings for the web app: ``gunicorn -c config/gunicorn.py config.wsgi``.

The Dockerfile, docker compose and the inbox benchmark's load test start gunicorn with
this file, so the benchmark measures what production runs. The address to listen on
comes from the command line (``--bind``).

Processes × threads: 2 × cores + 1 processes (``WEB_CONCURRENCY`` overrides), each with
4 threads (``WEB_THREADS``). A page spends a fifth to a third of its time waiting on
Postgres and Redis; a thread of the same process runs meanwhile, and the processes keep
the cores busy past one process's GIL. On the 2-core machine of the inbox benchmark, sync
workers (3 or 5) and 2 to 5 processes of 2 to 4 threads all cost the same CPU per request
of the mix, within the noise of a shared machine; sync workers also open a connection per
request, which a browser's kept-alive one spares. Threads keep idle kept-alive connections
cheap, and the benchmark's agents (and browsers) keep theirs alive. Measured again with
the pages' statements prepared (back to back, three runs each, alternately, load 10-12):
5 × 4 gave 113-123 requests/s at 7.9-8.6 ms of worker CPU per request, 3 × 4 106-122 at
7.7-8.7, 2 × 4 112-129 at 7.2-8.5; 5 × 2, 3 × 2 and 4 × 1 no better. Fewer processes
may spend a little less CPU per request, within the noise; five keep a slow page (a
broad search) or a worker being replaced from holding up the others, so they stay.

Python's cyclic garbage collector: a worker holds about 170,000 objects once it has
answered its first pages (the modules, the URL patterns, the compiled templates and
queries, the translations), none of them ever garbage, and every collection of the oldest
generation walks them all. With four threads, a request's objects often outlive the
youngest generation's collection (700 allocations by default) while other requests run,
so they reach the older generations and bring their collections on sooner. Measured in
the workers during the inbox benchmark's back-to-back run (gc callbacks, thread CPU
time, 5 workers): collections cost 0.65 to 2.2 ms of CPU per request, 1.3 ms on average;
0.65 to 0.95 ms with the heap frozen; 0.35 to 0.7 ms (0.58 typical) frozen and with the
thresholds below, full collections then next to nothing. So each worker freezes its heap
(``gc.freeze``: frozen objects are never walked again) once the app is loaded and once
more after its first ``GC_FREEZE_AFTER_REQUESTS`` requests, when the pages' templates and
memos are in place, and collects its youngest generation every ``GC_THRESHOLDS[0]``
allocations. What it allocates afterwards is collected as before, only less often.
"""

from __future__ import annotations

import gc
import os
from typing import Any

__all__ = [
    "GC_FREEZE_AFTER_REQUESTS",
    "GC_THRESHOLDS",
    "post_request",
    "post_worker_init",
    "threads",
    "worker_class",
    "workers",
]

workers = int(os.environ.get("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", 4))

#: A worker's requests before its heap is frozen the second time (its pages loaded).
GC_FREEZE_AFTER_REQUESTS = 200
#: ``gc.set_threshold`` in the workers (Python's default: 700, 10, 10).
GC_THRESHOLDS = (5000, 20, 20)


def gc_freeze() -> None:
    """Collect what is garbage now, then leave every object alive out of later collections."""
    gc.collect()
    gc.freeze()


def post_worker_init(worker: Any) -> None:
    """gunicorn's hook, in the worker once the app is loaded: the heap so far is frozen,
    and the collector's thresholds raised."""
    gc_freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    worker.incidesk_gc_refrozen = False


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    """gunicorn's hook, after each request: after the worker's first pages (its templates
    compiled, its memos filled), what they left behind is frozen too, once."""
    if worker.nr >= GC_FREEZE_AFTER_REQUESTS and not getattr(worker, "incidesk_gc_refrozen", True):
        worker.incidesk_gc_refrozen = True
        gc_freeze()
