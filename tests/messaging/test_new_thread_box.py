"""The box that starts a conversation (``{% new_thread_box %}``) is byte for byte what
its template draws, on the incident page and the order page, in both languages, with
and without the marketplace's subjects and a CSRF token; drawn once, it shows each
request's own token and each form's own idempotency key."""

from __future__ import annotations

import re

import pytest
from django.template import Context, engines
from django.utils import translation

from messaging.forms import NewThreadForm
from messaging.templatetags.conversation import NEW_THREAD_TEMPLATE
from tests.factories.incidents import IncidentFactory

pytestmark = pytest.mark.django_db

_KEY = re.compile(r'name="new-idempotency_key" value="([^"]+)"')


def _drawn(source: str, context: dict) -> str:
    engine = engines["django"].engine
    template = (
        engine.get_template(NEW_THREAD_TEMPLATE)
        if source == "template"
        else engine.from_string("{% load conversation %}{% new_thread_box %}")
    )
    return template.render(Context(context))


@pytest.mark.parametrize("language", ["es", "en"])
def test_the_box_is_the_template_s(language) -> None:
    incident = IncidentFactory()
    subjects = [("22", 'Informar de un <problema> & "otro"'), ("7", "Envío")]
    compared = 0
    with translation.override(language):
        for page_incident in (incident, None):
            for reasons in (subjects, []):
                for token in ("t0k3n", None):
                    for _ in range(2):  # drawn, then from what was drawn
                        form = NewThreadForm(prefix="new", reasons=reasons)
                        context = {
                            "new_thread_form": form,
                            "new_thread_confirm": [],
                            "incident": page_incident,
                            "order": incident.order,
                            "csrf_token": token,
                        }
                        ours = _drawn("tag", context)
                        assert ours == _drawn("template", context)
                        assert _KEY.search(ours).group(1) == str(form.initial["idempotency_key"])
                        assert ("t0k3n" in ours) is (token == "t0k3n")
                        compared += 1
    assert compared == 16


def test_a_form_sent_back_is_drawn_by_the_template() -> None:
    incident = IncidentFactory()
    form = NewThreadForm({"new-body": ""}, prefix="new", reasons=[("22", "Problema")])
    assert not form.is_valid()
    warnings = [{"code": "late", "message": "Respondes tarde <b>"}]
    for confirm in ([], warnings):
        context = {
            "new_thread_form": form,
            "new_thread_confirm": confirm,
            "incident": incident,
            "order": incident.order,
            "csrf_token": "t0k3n",
        }
        ours = _drawn("tag", context)
        assert ours == _drawn("template", context)
        assert "errorlist" in ours
