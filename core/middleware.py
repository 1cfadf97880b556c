"""Middleware of our own: django-csp's, with the site's policy header written once.

django-csp (4.0) builds the ``Content-Security-Policy`` header from the settings on every
response, twice (the policy and the report-only one): about 70 µs of every request's
CPU, on a 304 refresh a tenth of its cost. The site's policy depends only on the
settings, so :class:`CSPMiddleware` builds it once per process (and again when a setting
changes, as tests do) and puts the same string on every response that has no policy of
its own. A response with one (``csp_update``, ``csp_replace`` or ``csp`` decorators) or
a request that asked for a nonce goes through django-csp's own code, unchanged.
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from functools import cache
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.http.response import HttpResponseBase

__all__ = ["CSPMiddleware"]

#: What a view's decorators set on its response to change the policy (django-csp).
_RESPONSE_POLICY_ATTRS = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)
#: django-csp leaves 404 and 500 answers alone under DEBUG (Django's debug pages).
_DEBUG_EXEMPT = (http.client.NOT_FOUND, http.client.INTERNAL_SERVER_ERROR)


@dataclass(frozen=True, slots=True)
class _SitePolicy:
    """One header as the settings make it: its value ("" for none) and the paths it spares."""

    header: str
    value: str
    excluded: tuple[str, ...]
    #: The response attribute that exempts a response (``csp_exempt``).
    exempt_attr: str


@cache
def _site_policies() -> tuple[_SitePolicy, ...]:
    """The policy and report-only headers the settings give, built as django-csp does."""
    policies = []
    for header, setting, report_only, exempt_attr in (
        (HEADER, "CONTENT_SECURITY_POLICY", False, "_csp_exempt"),
        (HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY", True, "_csp_exempt_ro"),
    ):
        value = build_policy(report_only=report_only)
        if value:
            config = getattr(settings, setting, None) or {}
            excluded = tuple(config.get("EXCLUDE_URL_PREFIXES", None) or ())
            policies.append(_SitePolicy(header, value, excluded, exempt_attr))
    return tuple(policies)


@receiver(setting_changed, dispatch_uid="core.middleware.csp_setting_changed")
def _csp_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _site_policies.cache_clear()


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's middleware; the site-wide header is built once per process."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, attr, None) is not None for attr in _RESPONSE_POLICY_ATTRS
        ):
            return super().process_response(request, response)
        if settings.DEBUG and response.status_code in _DEBUG_EXEMPT:
            return response
        for policy in _site_policies():
            if (
                policy.header not in response
                and getattr(response, policy.exempt_attr, False) is False
                and not request.path_info.startswith(policy.excluded)
            ):
                response[policy.header] = policy.value
        # No nonce was drawn: asking for one now would not reach the header (django-csp).
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response
