"""Settings for every environment, read from the process environment.

With no ``DATABASE_URL`` or ``REDIS_URL`` the project runs on an embedded default
(SQLite, and a Celery broker on the file system), so a fresh checkout runs without
any server. Set both to use Postgres and Redis, as production and the tests do.
"""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from config.env import BASE_DIR, env

DEBUG = env.bool("DEBUG", default=env.bool("DJANGO_DEBUG", default=False))

SECRET_KEY = env.str(
    "SECRET_KEY",
    default=env.str("DJANGO_SECRET_KEY", default="insecure-local-only-secret-key-change-me"),
)
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Mirakl API keys are encrypted at rest with keys derived from SECRET_KEY and these
# salts. The first one encrypts; all of them decrypt, so a new key can be prepended
# and old values re-encrypted with ``manage.py rotate_api_keys`` before the old one is
# dropped (see README, "Secrets").
SALT_KEY = env.list("FIELD_ENCRYPTION_KEY", default=["incidesk-local-only-field-key"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_filters",
    "django_tables2",
    "django_htmx",
    "django_celery_beat",
    "core",
    "incidents",
    "messaging",
    "refunds",
    "documents",
    "sla",
    "desk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # django-csp's, with the site's header built once per process (core.middleware).
    "core.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

#: Where the embedded default keeps its files (SQLite, the broker's messages, the cache).
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'incidesk.sqlite3'}")}
# Each web thread and worker process keeps its connection for CONN_MAX_AGE seconds. A new
# one costs a Postgres backend, and plans again the statements each connection prepares
# (core.precompiled): ten minutes make that one reconnection every 30 s for a 20-thread
# gunicorn replica (every 3 s at one minute), and still retire backends, with what their
# caches gathered, regularly. The health check (a `SELECT 1` before a request's first
# query on a kept connection) costs about 25 µs of CPU (Python and Postgres together, a
# fifth of a percent of a page); without it, the first request of every thread after a
# Postgres restart or failover, or after a proxy dropped an idle connection, is a 500.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default is shared by the web server, the worker and beat.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["core.backends.UserWithPermissionsBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "es"
LANGUAGES = [("es", _("Spanish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Madrid"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"

# Redis: the Celery broker, the cache and the sync locks. Without it, the embedded
# default keeps everything on the local disk.
REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# Celery
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded default: messages are files under var/celery, shared by the
    # web server, the worker and beat on one machine.
    _queue = VAR_DIR / "celery" / "queue"
    _processed = VAR_DIR / "celery" / "processed"
    _control = VAR_DIR / "celery" / "control"
    for _folder in (_queue, _processed, _control):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "processed_folder": str(_processed),
        "store_processed": False,
        "control_folder": str(_control),
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 600
CELERY_TASK_TIME_LIMIT = 660
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Three queues, each with workers of its own (Procfile.demo, docker-compose.yml, README
# "Scaling out"), so that a slow or failing marketplace fills only the sync queue and
# never delays a reply, a refund or an SLA alert:
#   sync    reading Mirakl: every marketplace's sync, and its daily figures (A01, A21);
#   outbox  every write to Mirakl (replies, new conversations, refunds, resolutions)
#           and the SLA alert webhooks;
#   sla     the SLA sweep, its alerts and digest, and the stale-sync alerts.
# A task not named here goes to the default queue, "celery", which the sla workers
# also read (tests/core/test_task_routes.py keeps every task of ours named).
CELERY_TASK_ROUTES = {
    "core.sync.tasks.sync_all_marketplaces_task": {"queue": "sync"},
    "core.sync.tasks.sync_marketplace_task": {"queue": "sync"},
    "sla.tasks.shop_health_task": {"queue": "sync"},
    "sla.tasks.shop_health_sync_task": {"queue": "sync"},
    "messaging.tasks.order_search_documents_task": {"queue": "sync"},
    "core.outbox.tasks.outbox_deliver_task": {"queue": "outbox"},
    "core.outbox.tasks.outbox_deliver_pending_task": {"queue": "outbox"},
    "sla.tasks.sla_sweep_task": {"queue": "sla"},
    "sla.tasks.sla_alerts_task": {"queue": "sla"},
    "sla.tasks.sla_alerts_digest_task": {"queue": "sla"},
    "sla.tasks.sync_alerts_task": {"queue": "sla"},
}
#: Queue a sync of every marketplace as soon as a worker is ready, not a minute later.
SYNC_ON_WORKER_START = env.bool("SYNC_ON_WORKER_START", default=True)

# Sync
SYNC_INTERVAL_SECONDS = env.int("SYNC_INTERVAL_SECONDS", default=60)
# How far back an incremental sync re-reads, to cover clock skew between us and Mirakl
# and records that changed while the previous run was paging.
SYNC_OVERLAP = timedelta(seconds=env.int("SYNC_OVERLAP_SECONDS", default=60))
MIRAKL_TIMEOUT_SECONDS = env.float("MIRAKL_TIMEOUT_SECONDS", default=30.0)
MIRAKL_MAX_RETRIES = env.int("MIRAKL_MAX_RETRIES", default=4)
# The per-connection sync lock lives this long after the sync last showed progress (a
# page written, an answer from Mirakl): a crashed sync frees it this soon, and the next
# beat tick syncs again. Longer than one request to Mirakl may take; shorter than the
# beat interval.
SYNC_LOCK_TTL = timedelta(
    seconds=env.int("SYNC_LOCK_TTL_SECONDS", default=max(45, int(MIRAKL_TIMEOUT_SECONDS) + 15))
)
# A marketplace not synced successfully for this long is "behind": admins are alerted
# (in the app and by e-mail), once, and told again when it syncs.
SYNC_STALE_ALERT = timedelta(minutes=env.int("SYNC_STALE_ALERT_MINUTES", default=10))

# Shop health (sla.health): how often beat asks Mirakl's daily figures (A01, A21: the
# gate lets each through once a day) and the watchdog looks at the projections; and how
# long a criterion must stay normal before "back to normal" is announced.
HEALTH_INTERVAL_SECONDS = env.int("HEALTH_INTERVAL_SECONDS", default=600)
HEALTH_NORMAL_AFTER = timedelta(minutes=env.int("HEALTH_NORMAL_AFTER_MINUTES", default=60))

# Outbox (core.outbox): after a write whose outcome is unknown (a 5xx or a timeout),
# wait this long before looking for it in Mirakl, which may still be applying it; a
# write found there is never sent again. Raise it if a marketplace applies writes late.
OUTBOX_CHECK_DELAY = timedelta(seconds=env.int("OUTBOX_CHECK_DELAY_SECONDS", default=120))
# Looking for such a write, accept Mirakl dates this much before the row was created
# (the two clocks are not the same).
OUTBOX_CHECK_SKEW = timedelta(seconds=env.int("OUTBOX_CHECK_SKEW_SECONDS", default=120))

# The API (/api/v1/): token first, so an anonymous call gets 401 with
# ``WWW-Authenticate: Token``; the browser's session works too (with CSRF).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.authentication.ScopedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Incidesk API",
    "DESCRIPTION": "Incidents, orders, conversations, refunds and SLA of the desk's marketplaces.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RefundKindEnum": "refunds.models.RefundRequest.Kind",
        "SyncHealthStateEnum": "core.sync.health.HealthState",
    },
}

# Uploads (core.validators.validate_upload): bytes per file.
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=5 * 1024 * 1024)

# Failed logins per username and address before the login form refuses for a while.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_WINDOW = timedelta(minutes=env.int("LOGIN_FAILURE_WINDOW_MINUTES", default=15))

# Content-Security-Policy (django-csp): scripts only from our own static files, no
# inline script anywhere (htmx is vendored; the CSRF token travels in hx-headers).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # The hash is htmx 2.0's own indicator <style> (includeIndicatorStyles).
        "style-src": ["'self'", "'sha256-faU7yAF8NxuMTNEwVmBz+VcYeIoBQ2EMHW3WaVxCvnk='"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "filters": {"forbidden_one_line": {"()": "core.logging.ForbiddenWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "urllib3": {"level": "WARNING"},
        # A 403 in one line, without the PermissionDenied traceback.
        "django.request": {"filters": ["forbidden_one_line"]},
    },
}

SESSION_COOKIE_HTTPONLY = True
# Sessions read from the cache (Redis), written through to the database: no query per request.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if env.bool("HTTPS", default=False):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Beat: django-celery-beat's DatabaseScheduler installs these entries (and shows them in
# the admin, where intervals can be changed without a deploy).
CELERY_BEAT_SCHEDULE = {
    "sync-marketplaces": {
        "task": "core.sync.tasks.sync_all_marketplaces_task",
        "schedule": timedelta(seconds=SYNC_INTERVAL_SECONDS),
        "options": {"expires": SYNC_INTERVAL_SECONDS},
    },
    "sla-sweep": {
        "task": "sla.tasks.sla_sweep_task",
        "schedule": timedelta(seconds=60),
        "options": {"expires": 60},
    },
    # Marketplaces not synced for SYNC_STALE_ALERT: admins are told, and told again
    # when they sync.
    "sync-alerts": {
        "task": "sla.tasks.sync_alerts_task",
        "schedule": timedelta(seconds=60),
        "options": {"expires": 60},
    },
    # Shop health: Mirakl's daily figures (once a day each, the gate decides) and the
    # watchdog's alerts on projected and reached thresholds.
    "shop-health": {
        "task": "sla.tasks.shop_health_task",
        "schedule": timedelta(seconds=HEALTH_INTERVAL_SECONDS),
        "options": {"expires": HEALTH_INTERVAL_SECONDS},
    },
    # The outbox: every write to Mirakl and every alert, retried when due, and any
    # whose task was lost (broker down at commit, worker killed).
    "outbox-deliver-pending": {
        "task": "core.outbox.tasks.outbox_deliver_pending_task",
        "schedule": timedelta(seconds=60),
        "options": {"expires": 60},
    },
}

#: Refunds (amount + shipping, EUR) a user may send without a second approver, unless
#: their own limit says otherwise (admin: "Refund limits").
REFUND_APPROVAL_LIMIT = Decimal(env.str("REFUND_APPROVAL_LIMIT", default="300.00"))

# E-mail (SLA alerts and the daily digest); the console backend prints them by default.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Incidesk <incidesk@localhost>")
#: Where links in e-mails and webhooks point.
SITE_URL = env.str("SITE_URL", default="http://localhost:8000")
from celery.schedules import crontab  # noqa: E402

# https://crontab.guru/#0_8_*_*_* (Madrid time, CELERY_TIMEZONE)
CELERY_BEAT_SCHEDULE["sla-alerts-digest"] = {
    "task": "sla.tasks.sla_alerts_digest_task",
    "schedule": crontab(minute=0, hour=8),
    "options": {"expires": 3600},
}
