"""A synced message drawn in Python (``synced_message``) is the template's HTML."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.template.loader import render_to_string
from django.utils import translation

from core.templatetags.incidesk import synced_message
from messaging.models import Party
from messaging.selectors import ConversationItem
from tests.factories.incidents import IncidentFactory
from tests.factories.messaging import MessageFactory, ThreadFactory

pytestmark = pytest.mark.django_db


def _normalised(html: str) -> str:
    return re.sub(r"\s+", " ", str(html)).replace("> <", "><").strip()


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize(
    ("author", "name", "recipients", "body", "attachments"),
    [
        (Party.CUSTOMER, "Lucía <b>Martín</b>", [Party.SHOP, Party.OPERATOR], "Hola\nadiós", []),
        (Party.OPERATOR, "", [], "<script>alert(1)</script> & más", None),
        (
            Party.SHOP,
            "Tienda",
            [Party.CUSTOMER],
            "Adjunto la factura.",
            [
                {"id": "att-1", "name": "factura <1>.pdf", "size": 20480},
                {"id": "att-2", "name": "", "size": 0},
                {"name": "sin-id.png"},
            ],
        ),
    ],
)
def test_synced_message_is_the_templates_html(
    language, author, name, recipients, body, attachments
) -> None:
    incident = IncidentFactory()
    thread = ThreadFactory(connection=incident.connection, order=incident.order)
    message = MessageFactory(thread=thread, author_type=author, author_name=name, body=body)
    item = ConversationItem(
        at=datetime(2026, 12, 4, 16, 5, tzinfo=UTC),
        author_type=author,
        author_name=name,
        recipients=recipients,
        body=body,
        attachments=attachments,
        message=message,
    )
    with translation.override(language):
        expected = render_to_string(
            "messaging/partials/_message.html", {"item": item, "incident": incident}
        )
        drawn = synced_message(item, incident)
    assert _normalised(drawn) == _normalised(expected)
    # Customer text is shown as text, never as markup.
    assert "<script>" not in drawn
    assert "17:05" in drawn  # Madrid time


def test_an_attachment_that_is_not_an_object_is_left_out() -> None:
    incident = IncidentFactory()
    message = MessageFactory(thread=ThreadFactory(connection=incident.connection))
    item = ConversationItem(
        at=message.date_created,
        author_type=Party.CUSTOMER,
        author_name="",
        recipients=[Party.SHOP],
        body="x",
        attachments=["not an object", {"id": "a1", "name": "foto.jpg"}],
        message=message,
    )
    drawn = synced_message(item, incident)
    assert drawn.count("<li>") == 1
    assert "foto.jpg" in drawn
