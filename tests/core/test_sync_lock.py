"""The sync lock dies with its holder: a sync killed with SIGKILL is taken over by the next
beat tick, which closes the dead run's rows as abandoned and resumes at its last page."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection as db_connection
from django.db.models import Q
from django.utils import timezone

from core.models import Order
from core.sync.locks import sync_lock
from core.sync.models import SyncCursor, SyncRun
from core.sync.runner import SyncAlreadyRunning, marketplace_sync
from core.sync.tasks import sync_all_marketplaces_task
from tests.conftest import SANDBOX_KEY
from tests.core.test_sync import control
from tests.factories.core import MarketplaceConnectionFactory

ROOT = Path(__file__).resolve().parents[2]


def test_the_lock_lives_less_than_a_beat_interval() -> None:
    """What makes "taken over at the next tick" hold with the shipped settings."""
    interval = timedelta(seconds=settings.SYNC_INTERVAL_SECONDS)
    assert timedelta(seconds=settings.MIRAKL_TIMEOUT_SECONDS) < settings.SYNC_LOCK_TTL < interval


def _database_url() -> str:
    """The test database, for a process of its own."""
    db = db_connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def _page_written(marketplace) -> bool:
    return (
        SyncCursor.objects.filter(connection=marketplace, run_started_at__isnull=False)
        .filter(Q(run_offset__gt=0) | ~Q(run_page_token=""))
        .exists()
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis lock")
def test_a_sync_killed_mid_way_is_taken_over_at_the_next_beat_tick(
    sandbox, tmp_path, caplog
) -> None:
    marketplace = MarketplaceConnectionFactory(
        code="pcc", base_url=sandbox.base_url, api_key=SANDBOX_KEY
    )
    ttl = 3  # seconds; the beat interval below is longer, as in the shipped settings
    interval = ttl + 1
    control(sandbox, "faults", {"spec": "slow=1.0,slow_ms=600"})  # a sync of a few seconds
    log = tmp_path / "sync.log"
    with open(log, "w") as output:
        process = subprocess.Popen(  # noqa: S603 - our own command
            [sys.executable, "manage.py", "sync_marketplaces", "--marketplace", "pcc"],
            cwd=ROOT,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "config.settings.test",
                "DATABASE_URL": _database_url(),
                "REDIS_URL": settings.REDIS_URL,
                "SYNC_LOCK_TTL_SECONDS": str(ttl),
            },
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while not _page_written(marketplace):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no page written in time"
            time.sleep(0.05)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    killed_at = timezone.now()
    assert process.returncode == -signal.SIGKILL
    dead_runs = set(
        SyncRun.objects.filter(connection=marketplace, status=SyncRun.Status.RUNNING).values_list(
            "pk", flat=True
        )
    )
    assert dead_runs, "the killed sync left its run running"
    control(sandbox, "faults", {"spec": ""})

    # A tick right after the kill: the dead sync's lock is still there.
    runs_before = list(SyncRun.objects.filter(connection=marketplace).values_list("pk", "status"))
    with caplog.at_level(logging.INFO, logger="core.sync.tasks"):
        sync_all_marketplaces_task()
    assert "already running" in caplog.text
    assert runs_before == list(
        SyncRun.objects.filter(connection=marketplace).values_list("pk", "status")
    )
    with pytest.raises(SyncAlreadyRunning) as refused:
        marketplace_sync(connection=marketplace)
    assert 0 < refused.value.expires_in <= ttl

    # The next tick, one beat interval after the kill, syncs the connection.
    time.sleep(max(0.0, (killed_at + timedelta(seconds=interval) - timezone.now()).total_seconds()))
    sync_all_marketplaces_task()

    runs = SyncRun.objects.filter(connection=marketplace)
    assert not runs.filter(status=SyncRun.Status.RUNNING).exists()
    assert set(runs.filter(status=SyncRun.Status.ABANDONED).values_list("pk", flat=True)) == (
        dead_runs
    )
    takeover = runs.exclude(pk__in=dead_runs)
    assert takeover.exists() and all(r.status == SyncRun.Status.SUCCEEDED for r in takeover)
    assert takeover.filter(resumed=True).exists()  # from the dead sync's last page
    first_start = min(r.started_at for r in takeover)
    assert first_start - killed_at < timedelta(seconds=interval + 2)
    assert (
        Order.objects.filter(connection=marketplace).count() == control(sandbox, "state")["orders"]
    )
    assert not SyncCursor.objects.filter(
        connection=marketplace, run_started_at__isnull=False
    ).exists()


@pytest.mark.django_db
@pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis lock")
def test_a_lock_that_expired_during_a_slow_request_is_taken_again_or_lost(settings) -> None:
    import redis

    from core.sync.locks import SyncLockLost

    settings.SYNC_LOCK_TTL = timedelta(seconds=1)
    client = redis.Redis.from_url(settings.REDIS_URL)
    with sync_lock("sync-test") as lock:
        assert lock is not None
        client.delete("incidesk:lock:sync-test")  # expired while Mirakl was slow
        time.sleep(0.15)
        lock.refresh()  # nobody took it: taken again
        assert client.pttl("incidesk:lock:sync-test") > 0
        client.set("incidesk:lock:sync-test", "another sync")
        time.sleep(0.15)
        with pytest.raises(SyncLockLost):
            lock.refresh()
    assert client.get("incidesk:lock:sync-test") == b"another sync"


def test_the_least_recently_synced_are_queued_first_and_expire_at_the_next_tick(
    db, settings, monkeypatch
) -> None:
    """When the workers fall behind, the queue stays one round long and the connections
    the last round did not reach go first."""
    from datetime import timedelta

    from django.utils import timezone

    from core.sync import tasks
    from core.sync.models import SyncCursor
    from tests.factories.core import MarketplaceConnectionFactory

    settings.SYNC_INTERVAL_SECONDS = 60
    now = timezone.now()
    recent, old, never = (MarketplaceConnectionFactory(code=c) for c in ("recent", "old", "never"))
    for connection, ago in ((recent, 1), (old, 30)):
        for resource in ("orders", "threads"):
            SyncCursor.objects.create(
                connection=connection,
                resource=resource,
                last_success_at=now - timedelta(minutes=ago if resource == "orders" else 0),
            )
    MarketplaceConnectionFactory(code="off", is_active=False)
    queued = []
    monkeypatch.setattr(
        tasks.sync_marketplace_task,
        "apply_async",
        lambda args, **options: queued.append((args[0], options)),
    )

    assert tasks.sync_all_marketplaces_task() == 3
    assert [pk for pk, _ in queued] == [never.pk, old.pk, recent.pk]
    assert all(options == {"expires": 60} for _, options in queued)
