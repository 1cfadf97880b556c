"""Every task of ours goes to one of three queues (sync, outbox, sla), and the worker
commands of the demo and of docker-compose.yml read every queue: a slow marketplace
fills only the sync queue, never the one replies and refunds leave by."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from config.celery import app

ROOT = Path(__file__).resolve().parents[2]
QUEUES = {"sync", "outbox", "sla"}
OURS = ("core.", "incidents.", "messaging.", "refunds.", "sla.", "desk.")


def _queue(name: str) -> str:
    return app.amqp.router.route({}, name)["queue"].name


def _ours() -> list[str]:
    app.loader.import_default_modules()
    return sorted(name for name in app.tasks if name.startswith(OURS))


def test_every_task_of_ours_is_routed_to_a_named_queue() -> None:
    names = _ours()
    assert "core.sync.tasks.sync_marketplace_task" in names
    assert {name: _queue(name) for name in names if _queue(name) not in QUEUES} == {}


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("core.sync.tasks.sync_all_marketplaces_task", "sync"),
        ("core.sync.tasks.sync_marketplace_task", "sync"),
        ("sla.tasks.shop_health_task", "sync"),
        ("sla.tasks.shop_health_sync_task", "sync"),
        ("messaging.tasks.order_search_documents_task", "sync"),
        ("core.outbox.tasks.outbox_deliver_task", "outbox"),
        ("core.outbox.tasks.outbox_deliver_pending_task", "outbox"),
        ("sla.tasks.sla_sweep_task", "sla"),
        ("sla.tasks.sla_alerts_task", "sla"),
        ("sla.tasks.sla_alerts_digest_task", "sla"),
        ("sla.tasks.sync_alerts_task", "sla"),
    ],
)
def test_reading_mirakl_writing_to_it_and_the_sweep_have_queues_of_their_own(
    task: str, queue: str
) -> None:
    assert _queue(task) == queue


def test_a_task_sent_by_name_is_routed_too() -> None:
    """The worker's start-up hook sends the sync and the shop health by name."""
    assert _queue("core.sync.tasks.sync_all_marketplaces_task") == "sync"
    assert _queue("sla.tasks.shop_health_task") == "sync"


def test_every_beat_entry_lands_on_a_named_queue() -> None:
    assert {
        key: _queue(entry["task"])
        for key, entry in settings.CELERY_BEAT_SCHEDULE.items()
        if _queue(entry["task"]) not in QUEUES
    } == {}


def _queues_read(command: str) -> set[str]:
    found = re.search(r"(?:-Q|--queues)[ =](\S+)", command)
    assert found, f"a worker without -Q reads only the default queue: {command}"
    return set(found.group(1).split(","))


def _workers_of_compose() -> dict[str, str]:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return {
        name: service["command"]
        for name, service in services.items()
        if "celery" in str(service.get("command", "")) and " worker" in service["command"]
    }


def _workers_of_procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile.demo").read_text().splitlines()
    entries = dict(line.split(":", 1) for line in lines if ":" in line)
    return {
        name: command
        for name, command in entries.items()
        if "celery" in command and " worker" in command
    }


@pytest.mark.parametrize("workers", [_workers_of_compose, _workers_of_procfile])
def test_the_workers_read_every_queue_and_sync_apart(workers) -> None:
    commands = workers()
    read = [_queues_read(command) for command in commands.values()]
    assert set().union(*read) >= {*QUEUES, "celery"}
    # Whoever reads the sync queue reads nothing else.
    assert all(queues == {"sync"} for queues in read if "sync" in queues)


def test_compose_scales_the_sync_workers_and_keeps_beat_single() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert _queues_read(services["worker"]["command"]) == {"sync"}
    assert "replicas" not in services["beat"].get("deploy", {})
    assert "container_name" not in services["worker"]  # --scale needs unnamed replicas
