"""Login with a limit on failed attempts, and "log out everywhere".

The limit counts failures per username and client address in Django's cache (Redis
in production and tests): after ``LOGIN_FAILURE_LIMIT`` failures within
``LOGIN_FAILURE_WINDOW`` the form refuses that pair, even with the right password,
until the window has passed. The same form guards the admin's login page.
"""

from __future__ import annotations

import hashlib
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import logout
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

__all__ = [
    "ThrottledAdminAuthenticationForm",
    "ThrottledAuthenticationForm",
    "ThrottledLoginView",
    "login_failures_clear",
    "logout_everywhere",
    "user_sessions_end",
]


def _failure_key(request: HttpRequest | None, username: str) -> str:
    address = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    digest = hashlib.sha256(f"{username.strip().lower()}|{address}".encode()).hexdigest()
    return f"incidesk:login-failures:{digest}"


def _window_seconds() -> int:
    return int(settings.LOGIN_FAILURE_WINDOW.total_seconds())


def login_failures_clear(request: HttpRequest | None, username: str) -> None:
    """Forget the failures of ``username`` from this request's address."""
    cache.delete(_failure_key(request, username))


class _ThrottleMixin:
    """Refuses a username+address pair with too many recent failures; counts failures."""

    request: HttpRequest | None
    cleaned_data: dict[str, Any]
    error_messages: dict[str, str]

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        key = _failure_key(self.request, username)
        if username and (cache.get(key) or 0) >= settings.LOGIN_FAILURE_LIMIT:
            minutes = _window_seconds() // 60
            raise ValidationError(
                _(
                    "Too many failed attempts for this user. Try again in %(minutes)d "
                    "minutes, or ask an administrator to reset your password."
                )
                % {"minutes": minutes},
                code="too_many_attempts",
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            # add() sets the window on the first failure; incr() keeps its expiry.
            if username and not cache.add(key, 1, timeout=_window_seconds()):
                try:
                    cache.incr(key)
                except ValueError:
                    cache.set(key, 1, timeout=_window_seconds())
            raise
        cache.delete(key)
        return cleaned


class ThrottledAuthenticationForm(_ThrottleMixin, AuthenticationForm):
    """The login form with the failure limit."""


class ThrottledAdminAuthenticationForm(_ThrottleMixin, AdminAuthenticationForm):
    """The admin's login form with the same failure limit."""


class ThrottledLoginView(LoginView):
    """``/accounts/login/`` with the failure limit (429 while refused)."""

    authentication_form = ThrottledAuthenticationForm

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        if form.has_error("__all__", code="too_many_attempts"):
            response.status_code = 429
        return response


def user_sessions_end(user: Any) -> int:
    """Delete every session of ``user`` and their API token; returns sessions ended.

    Sessions are decoded one by one: the database backend keeps no user column.
    """
    from rest_framework.authtoken.models import Token

    user_pk = str(user.pk)
    ended = [
        session.pk
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if str(session.get_decoded().get("_auth_user_id")) == user_pk
    ]
    # Through the session engine: a cached session (``cached_db``) is forgotten too.
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for session_key in ended:
        store(session_key=session_key).delete()
    Token.objects.filter(user=user).delete()
    return len(ended)


@require_http_methods(["GET", "POST"])
def logout_everywhere(request: HttpRequest) -> HttpResponse:
    """GET: a confirmation page. POST: end every session of the user, and their token."""
    if request.method == "GET":
        return render(request, "registration/logout_everywhere.html")
    user = request.user
    user_sessions_end(user)
    logout(request)
    messages.success(request, _("You have been logged out on every device."))
    return redirect(settings.LOGIN_URL)
