"""Production settings: no debug, HTTPS only, and a real secret key from the environment.

Use with ``DJANGO_SETTINGS_MODULE=config.settings.production``; ``manage.py check
--deploy`` is clean with it. Behind a proxy that terminates TLS, the proxy must set
``X-Forwarded-Proto: https`` (and strip it from clients).
"""

from django.core.exceptions import ImproperlyConfigured

from config.env import env
from config.settings.base import *  # noqa: F403
from config.settings.base import STORAGES

DEBUG = False

SECRET_KEY = env.str("SECRET_KEY", default=env.str("DJANGO_SECRET_KEY", default=""))
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith(("insecure", "change-me")):
    raise ImproperlyConfigured(
        "Set SECRET_KEY (or DJANGO_SECRET_KEY) to a long random value, e.g. the output of "
        "`python -c 'import secrets; print(secrets.token_urlsafe(64))'`."
    )

SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
