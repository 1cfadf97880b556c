"""The environment reader shared by every settings module."""

from pathlib import Path

import environ

__all__ = ["BASE_DIR", "env"]

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
