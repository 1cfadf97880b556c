"""The boxes drawn once (``{% new_thread_box %}``, ``{% no_reply_box %}``) are byte for
byte what their templates draw, on the incident page and the order page, in both
languages, with and without the marketplace's subjects and a CSRF token; drawn once, they
show each request's own token and each form's own idempotency key."""

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


@pytest.mark.parametrize("language", ["es", "en"])
def test_the_no_reply_box_is_the_template_s(language) -> None:
    from messaging.panels import thread_entry
    from messaging.selectors import order_conversations
    from messaging.templatetags.conversation import NO_REPLY_TEMPLATE
    from tests.factories.messaging import MessageFactory

    message = MessageFactory()
    order = message.thread.order
    incident = IncidentFactory(order=order, connection=order.connection)
    engine = engines["django"].engine
    ours = engine.from_string("{% load conversation %}{% no_reply_box entry %}")
    theirs = engine.get_template(NO_REPLY_TEMPLATE)
    compared = 0
    with translation.override(language):
        view = next(v for v in order_conversations(order_id=order.pk) if v.thread)
        for page_incident in (incident, None):
            for token in ("t0k3n", "n3w", None):
                entry = thread_entry(view)
                context = {
                    "entry": entry,
                    "view": view,
                    "incident": page_incident,
                    "order": order,
                    "csrf_token": token,
                }
                drawn = ours.render(Context(context))
                assert drawn == theirs.render(Context(context))
                assert ("csrfmiddlewaretoken" in drawn) is (token is not None)
                compared += 1
            # Sent back with errors, or opened: the template's, as ever.
            entry = thread_entry(view)
            entry["no_reply_open"] = True
            entry["no_reply_confirm"] = ["¿Seguro? <b>"]
            context = {"entry": entry, "view": view, "order": order, "csrf_token": "t0k3n"}
            assert ours.render(Context(context)) == theirs.render(Context(context))
    assert compared == 6
