"""Production settings pass ``check --deploy``; they refuse to start without a secret."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)


def _manage(*args: str, secret: str | None) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SECRET_KEY", "DJANGO_SECRET_KEY", "DEBUG", "DJANGO_DEBUG")
    }
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.production"
    env["ALLOWED_HOSTS"] = "desk.example.com"
    if secret is not None:
        env["SECRET_KEY"] = secret
    return subprocess.run(  # noqa: S603
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_production_settings() -> None:
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING", secret=secrets.token_urlsafe(64)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_need_a_secret_key() -> None:
    result = _manage("check", secret=None)
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr
    weak = _manage("check", secret="change-me-to-a-long-random-string" + "x" * 30)
    assert weak.returncode != 0
