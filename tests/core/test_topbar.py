"""The top bar written in Python (``{% topbar %}``) is byte for byte what its template
draws, for every role, both languages and any address."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import RequestContext, engines
from django.test import RequestFactory
from django.utils import translation

from core.templatetags.incidesk import TOPBAR_TEMPLATE
from tests.factories.core import UserFactory

pytestmark = pytest.mark.django_db

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def _drawn(source: str, request) -> str:
    engine = engines["django"].engine
    template = engine.from_string(
        "{% load incidesk %}[{% topbar %}]"
        if source == "tag"
        else '[{% include "' + TOPBAR_TEMPLATE + '" %}]'
    )
    html = template.render(RequestContext(request, {}))
    return _CSRF.sub('name="csrfmiddlewaretoken" value="…"', html)


@pytest.mark.parametrize("language", ["es", "en"])
def test_the_top_bar_is_the_template_s(language) -> None:
    users = [
        UserFactory(username="marta", first_name="Marta", last_name="<Ruiz> & Co", role="agent"),
        UserFactory(username="jefa", first_name="", last_name="", role="account_manager"),
        UserFactory(username="admin", is_staff=True, is_superuser=True),
        UserFactory(username="nadie"),
        AnonymousUser(),
    ]
    with translation.override(language):
        for user in users:
            for path in ("/incidents/", '/incidents/?q=<script>"x"&status=open'):
                request = RequestFactory().get(path)
                request.user = user
                ours = _drawn("tag", request)
                assert ours == _drawn("template", request)
                if user.is_authenticated:
                    assert "csrfmiddlewaretoken" in ours and "<script>" not in ours
                    assert ('href="/admin/"' in ours) == user.is_staff
                    assert ('href="/sla/"' in ours) == (user.username in ("jefa", "admin"))
                else:
                    assert ours == "[]"
