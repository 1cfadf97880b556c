"""The reply box written in Python (``{% reply_box %}``) is byte for byte what its
template draws: each thread of the synced sandbox, on the incident page and the order
page, with and without canned replies and a reply owed by a due time, in both languages."""

from __future__ import annotations

import re

import pytest
from django.template import RequestContext, engines
from django.test import RequestFactory
from django.utils import translation

from messaging.models import Thread
from messaging.panels import thread_entry
from messaging.selectors import order_conversations
from messaging.templatetags.conversation import REPLY_FORM_TEMPLATE
from sla.models import SlaItem
from tests.factories.messaging import CannedReplyFactory
from tests.factories.sla import SlaItemFactory
from tests.messaging import fixtures

pytestmark = pytest.mark.django_db

agent = fixtures.agent
synced = fixtures.synced

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def _drawn(source: str, request, context: dict) -> str:
    engine = engines["django"].engine
    template = (
        engine.get_template(REPLY_FORM_TEMPLATE)
        if source == "template"
        else engine.from_string("{% load conversation %}{% reply_box entry %}")
    )
    html = template.render(RequestContext(request, context))
    return _CSRF.sub('name="csrfmiddlewaretoken" value="…"', html)


@pytest.mark.parametrize("language", ["es", "en"])
def test_the_reply_box_is_the_template_s(agent, synced, language) -> None:
    request = RequestFactory().get("/")
    request.user = agent
    threads = list(Thread.objects.filter(order__incidents__isnull=False).distinct()[:6])
    assert threads
    SlaItemFactory(
        kind=SlaItem.Kind.THREAD,
        thread=threads[0],
        incident=None,
        audience=SlaItem.Audience.CUSTOMER,
    )
    canned = [
        CannedReplyFactory(title='Envío <rápido> & "gratis"', position=1),
        CannedReplyFactory(title="Garantía", position=2),
    ]
    seen = {"owed_due_at": False, "operator_involved": False, "compared": 0}
    with translation.override(language):
        for thread in threads:
            order = thread.order
            incident = order.incidents.first()
            for view in order_conversations(order_id=order.pk):
                if view.thread is None:
                    continue
                entry = thread_entry(view)
                seen["owed_due_at"] |= view.owed_due_at is not None
                seen["operator_involved"] |= bool(view.operator_involved)
                for page_incident in (incident, None):
                    for replies in (canned, []):
                        context = {
                            "entry": entry,
                            "view": view,
                            "form": entry["form"],
                            "confirm": [],
                            "canned_replies": replies,
                            "incident": page_incident,
                            "order": order,
                        }
                        ours = _drawn("tag", request, context)
                        assert ours == _drawn("template", request, context)
                        assert "csrfmiddlewaretoken" in ours
                        seen["compared"] += 1
    assert seen["owed_due_at"] and seen["compared"] >= 8


def test_a_form_sent_back_is_drawn_by_the_template(agent, synced) -> None:
    request = RequestFactory().get("/")
    request.user = agent
    thread = Thread.objects.filter(order__incidents__isnull=False).first()
    view = next(v for v in order_conversations(order_id=thread.order_id) if v.thread)
    from messaging.panels import reply_form

    form = reply_form(view, data={f"thread-{view.key}-body": ""})
    assert not form.is_valid()
    warnings = [{"code": "late", "message": "Respondes tarde <b>"}]
    for confirm in ([], warnings):
        entry = {"view": view, "form": form, "confirm": confirm}
        context = {**entry, "entry": entry, "canned_replies": [], "order": thread.order}
        ours = _drawn("tag", request, context)
        assert ours == _drawn("template", request, context)
        assert 'class="errorlist' in ours
    assert "Respondes tarde &lt;b&gt;" in ours
