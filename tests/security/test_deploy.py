"""Production settings: ``check --deploy`` is clean, static files are collected and a
gunicorn started with them serves the login page and a static file. The deployment files
(Dockerfile, docker-compose.yml, .env.example) select these settings.

Each test runs ``manage.py`` or gunicorn in a process of its own: production settings are
read at start-up, and the test process runs the test settings.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
PRODUCTION = "config.settings.production"
#: The smoke test's requests arrive as from the TLS proxy (``SECURE_PROXY_SSL_HEADER``).
PROXIED = {"X-Forwarded-Proto": "https", "Host": "127.0.0.1"}


def _production_env(*, secret: str | None, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SECRET_KEY", "DJANGO_SECRET_KEY", "DEBUG", "DJANGO_DEBUG")
    }
    env["DJANGO_SETTINGS_MODULE"] = PRODUCTION
    env["ALLOWED_HOSTS"] = "desk.example.com"
    if secret is not None:
        env["SECRET_KEY"] = secret
    env.update(extra)
    return env


def _manage(
    *args: str, secret: str | None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        cwd=BASE_DIR,
        env=env if env is not None else _production_env(secret=secret),
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


# --------------------------------------------------------------------------- static files


@pytest.fixture(scope="module")
def static_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``collectstatic`` with the production settings (manifest storage), once per module."""
    root = tmp_path_factory.mktemp("static")
    env = _production_env(secret=secrets.token_urlsafe(64), STATIC_ROOT=str(root))
    result = _manage("collectstatic", "--no-input", "-v0", secret=None, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def test_collectstatic_succeeds_with_production_settings(static_root: Path) -> None:
    manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    chart = static_root / manifest["vendor/chart-4.6.1.umd.min.js"]
    # The vendored Chart.js names its source map; the map ships with it and the
    # reference points at the map's hashed copy.
    reference = re.search(r"sourceMappingURL=(\S+)", chart.read_text()).group(1)
    assert reference == Path(manifest["vendor/chart.umd.min.js.map"]).name
    assert (chart.parent / reference).is_file()
    for name in ("css/app.css", "vendor/htmx-2.0.11.min.js", "admin/css/base.css"):
        assert (static_root / manifest[name]).is_file(), name


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn(static_root: Path, django_db_setup, django_db_blocker) -> Iterator[str]:
    """gunicorn serving the production settings on a free local port; yields its URL."""
    from django.db import connection

    with django_db_blocker.unblock():
        database = connection.settings_dict
    port = _free_port()
    env = _production_env(
        secret=secrets.token_urlsafe(64),
        STATIC_ROOT=str(static_root),
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=(
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}"
            f"/{database['NAME']}"
        ),
    )
    command = [
        "gunicorn",
        "-c",
        "config/gunicorn.py",
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
    ]
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", *command, "--workers", "1", "--log-level", "warning"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{url}/accounts/login/", headers=PROXIED, timeout=2)
                break
            # Not listening yet, or its first answer (imports, templates) slower than the
            # probe's timeout on a busy machine: ask again until the deadline.
            except (requests.ConnectionError, requests.Timeout):
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    pytest.fail(f"gunicorn did not start:\n{process.communicate()[0]}")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_gunicorn_with_production_settings_serves_the_login_page_and_static_files(
    gunicorn: str,
) -> None:
    login = requests.get(f"{gunicorn}/accounts/login/", headers=PROXIED, timeout=10)
    assert login.status_code == 200, login.text[:2000]
    assert "csrfmiddlewaretoken" in login.text
    assert login.headers["Strict-Transport-Security"].startswith("max-age=")
    # The page links the hashed copy of its style sheet, which WhiteNoise serves.
    stylesheet = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', login.text)
    assert stylesheet, login.text[:2000]
    css = requests.get(f"{gunicorn}{stylesheet.group(1)}", headers=PROXIED, timeout=10)
    assert css.status_code == 200
    assert css.headers["Content-Type"].startswith("text/css")
    assert "immutable" in css.headers["Cache-Control"]
    # Plain HTTP is sent to HTTPS.
    plain = requests.get(
        f"{gunicorn}/accounts/login/",
        headers={"Host": "127.0.0.1"},
        timeout=10,
        allow_redirects=False,
    )
    assert plain.status_code == 301
    assert plain.headers["Location"] == "https://127.0.0.1/accounts/login/"


# --------------------------------------------------------------------------- deployment files


def _compose_app_env() -> dict[str, str]:
    """The environment docker compose gives the app services, ``${...}`` resolved the way
    compose does with an ``.env`` that sets only the required variables."""
    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    required = {"SECRET_KEY": secrets.token_urlsafe(64), "FIELD_ENCRYPTION_KEY": "field-key"}
    resolved = {}
    for key, value in compose["x-app"]["environment"].items():

        def substitute(match: re.Match[str]) -> str:
            name, operator, default = match.group(1), match.group(2), match.group(3)
            if operator == ":?":
                return required[name]
            return default

        resolved[key] = re.sub(r"\$\{(\w+)(:[-?])([^}]*)\}", substitute, str(value))
    return resolved


def test_docker_compose_and_the_image_run_the_production_settings() -> None:
    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    app_env = compose["x-app"]["environment"]
    assert app_env["DJANGO_SETTINGS_MODULE"] == PRODUCTION
    for name in ("web", "worker", "beat", "migrate", "sandbox"):
        assert compose["services"][name]["build"] == "."
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    assert f"DJANGO_SETTINGS_MODULE={PRODUCTION}" in dockerfile
    assert ".env" in (BASE_DIR / ".dockerignore").read_text().split()
    # Every variable compose requires is documented in .env.example.
    example = (BASE_DIR / ".env.example").read_text()
    for name in re.findall(r"\$\{(\w+):\?", (BASE_DIR / "docker-compose.yml").read_text()):
        assert re.search(rf"^{name}=", example, re.MULTILINE), name


def test_check_deploy_is_clean_with_the_compose_environment() -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SECRET_KEY", "DJANGO_SECRET_KEY", "DEBUG", "DJANGO_DEBUG")
    }
    env.update(_compose_app_env())
    result = _manage("check", "--deploy", "--fail-level", "WARNING", secret=None, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
