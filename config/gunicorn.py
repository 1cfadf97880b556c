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
cheap, and the benchmark's agents (and browsers) keep theirs alive.
"""

from __future__ import annotations

import os

__all__ = ["threads", "worker_class", "workers"]

workers = int(os.environ.get("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", 4))
