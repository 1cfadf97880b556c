"""gunicorn's settings: the garbage collector's hooks are gunicorn's and do what they say.

(``tests/security/test_deploy.py`` serves pages from a gunicorn started with the file.)
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from gunicorn.app.base import Application

from config import gunicorn as web

CONFIG_FILE = Path(settings.BASE_DIR) / "config" / "gunicorn.py"


class _App(Application):
    """gunicorn's own reading of a settings file, without its command line."""

    def load_config(self) -> None:
        self.load_config_from_file(str(CONFIG_FILE))

    def load(self) -> None:
        return None


@pytest.fixture
def collector() -> Iterator[None]:
    """The test process's collector as it was, afterwards (the hooks change it)."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_gunicorn_reads_the_hooks_from_the_file() -> None:
    app = _App()
    assert app.cfg.worker_class_str == "gthread"
    assert app.cfg.post_worker_init.__name__ == "post_worker_init"
    assert app.cfg.post_worker_init.__module__ == "__config__"
    assert app.cfg.post_request.__name__ == "post_request"


def test_freezing_leaves_what_is_alive_out_of_collections(collector) -> None:
    gc.unfreeze()
    kept = [[n] for n in range(1000)]
    web.gc_freeze()
    assert gc.get_freeze_count() >= len(kept)


def test_a_worker_freezes_its_heap_once_loaded(collector) -> None:
    gc.unfreeze()
    worker = SimpleNamespace(nr=0)
    web.post_worker_init(worker)
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == web.GC_THRESHOLDS
    assert gc.isenabled()


def test_and_once_more_after_its_first_pages(collector, monkeypatch) -> None:
    worker = SimpleNamespace(nr=0)
    frozen_at: list[int] = []
    monkeypatch.setattr(web, "gc_freeze", lambda: frozen_at.append(worker.nr))
    web.post_worker_init(worker)
    for worker.nr in range(1, web.GC_FREEZE_AFTER_REQUESTS + 50):
        web.post_request(worker, None, {}, None)
    assert frozen_at == [0, web.GC_FREEZE_AFTER_REQUESTS]
