"""Test settings: real Postgres and Redis (the machine's local ones by default)."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/incidesk")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")

from config.settings.base import *  # noqa: E402, F403
from config.settings.base import CACHES, DATABASES  # noqa: E402

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CACHES["default"]["KEY_PREFIX"] = "incidesk-test"
DATABASES["default"]["CONN_MAX_AGE"] = 0
# Tests never run collectstatic: let WhiteNoise look files up on demand.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
