"""The CSP middleware: the header built once gives what django-csp gives, byte for byte."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from csp.constants import NONCE, SELF
from csp.decorators import csp_exempt, csp_replace, csp_update
from csp.exceptions import CSPNonceError
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from csp.utils import build_policy
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.test import Client, RequestFactory

from core.middleware import CSPMiddleware

HEADER = "Content-Security-Policy"
REPORT_ONLY = "Content-Security-Policy-Report-Only"


def _ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def _both(
    view: Callable[[HttpRequest], Any], path: str = "/", *, nonce: bool = False
) -> tuple[Any, Any]:
    """The answers of ours and of django-csp's middleware to the same request."""
    answers = []
    for middleware_class in (CSPMiddleware, DjangoCSPMiddleware):
        request = RequestFactory().get(path)

        def view_drawing_nonce(request: HttpRequest) -> HttpResponse:
            if nonce:
                str(request.csp_nonce)  # type: ignore[attr-defined]
            return view(request)

        answers.append(middleware_class(view_drawing_nonce)(request))
    return answers[0], answers[1]


def _headers(response: HttpResponse) -> dict[str, str | None]:
    return {name: response.get(name) for name in (HEADER, REPORT_ONLY)}


def test_the_site_policy_is_django_csps_exactly() -> None:
    ours, theirs = _both(_ok)
    assert ours[HEADER] == theirs[HEADER] == build_policy()
    assert REPORT_ONLY not in ours and REPORT_ONLY not in theirs
    directives = dict(d.strip().split(" ", 1) for d in ours[HEADER].split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"


def test_a_page_carries_the_policy(db) -> None:
    response = Client().get("/accounts/login/")
    assert response[HEADER] == build_policy()


def test_a_view_that_changes_the_policy_gets_its_own() -> None:
    replaced = csp_replace({"style-src": [SELF, "'unsafe-inline'"]})(_ok)
    updated = csp_update({"img-src": ["https://example.com"]})(_ok)
    for view in (replaced, updated):
        ours, theirs = _both(view)
        assert ours[HEADER] == theirs[HEADER] != build_policy()
    assert "'unsafe-inline'" in _both(replaced)[0][HEADER]


def test_an_exempt_view_gets_no_header() -> None:
    ours, theirs = _both(csp_exempt()(_ok))
    assert _headers(ours) == _headers(theirs) == {HEADER: None, REPORT_ONLY: None}


def test_a_header_set_by_the_view_is_kept() -> None:
    def own(request: HttpRequest) -> HttpResponse:
        response = HttpResponse()
        response[HEADER] = "default-src 'none'"
        return response

    assert _both(own)[0][HEADER] == "default-src 'none'"


def test_settings_changes_are_followed(settings) -> None:
    before = _both(_ok)[0][HEADER]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": [SELF]}}
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {
        "DIRECTIVES": {"default-src": [SELF], "report-uri": "/csp/"},
        "EXCLUDE_URL_PREFIXES": ["/api/"],
    }
    ours, theirs = _both(_ok)
    assert _headers(ours) == _headers(theirs)
    assert ours[HEADER] == "default-src 'self'" != before
    assert ours[REPORT_ONLY] == "default-src 'self'; report-uri /csp/"
    ours, theirs = _both(_ok, "/api/v1/incidents/")
    assert _headers(ours) == _headers(theirs)
    assert ours[HEADER] == "default-src 'self'" and REPORT_ONLY not in ours


def test_a_drawn_nonce_reaches_the_header(settings) -> None:
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"script-src": [SELF, NONCE]}}
    ours, _theirs = _both(_ok, nonce=True)
    directives = dict(d.strip().split(" ", 1) for d in ours[HEADER].split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"].startswith("'self' 'nonce-")


def test_a_nonce_asked_for_after_the_header_is_refused() -> None:
    request = RequestFactory().get("/")
    CSPMiddleware(_ok)(request)
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)  # type: ignore[attr-defined]


def test_debug_error_pages_are_left_alone(settings) -> None:
    settings.DEBUG = True
    ours, theirs = _both(lambda request: HttpResponseNotFound())
    assert _headers(ours) == _headers(theirs) == {HEADER: None, REPORT_ONLY: None}
