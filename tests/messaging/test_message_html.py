"""A message as HTML (``messaging.templatetags.conversation``): the one renderer of every
message on the incident page, synced or still in the outbox."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from core.outbox.kinds import OutboxKind
from messaging.models import OutboundMessage, Party
from messaging.selectors import ConversationItem
from messaging.templatetags.conversation import message_html
from tests.factories.core import OutboxEntryFactory, UserFactory
from tests.factories.incidents import IncidentFactory
from tests.factories.messaging import MessageFactory, OutboundMessageFactory, ThreadFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 12, 4, 16, 5, tzinfo=UTC)  # 17:05 in Madrid


def _synced(incident, **fields) -> ConversationItem:
    thread = ThreadFactory(connection=incident.connection, order=incident.order)
    values = {
        "author_type": Party.CUSTOMER,
        "author_name": "Lucía",
        "recipients": [Party.SHOP],
        "body": "Hola",
        "attachments": [],
        **fields,
    }
    message = MessageFactory(
        thread=thread,
        author_type=values["author_type"],
        author_name=values["author_name"],
        body=values["body"],
    )
    return ConversationItem(at=AT, message=message, **values)


def _outbound(incident, *, state: str, synced: bool = False, **delivery) -> ConversationItem:
    thread = ThreadFactory(connection=incident.connection, order=incident.order)
    outbound = OutboundMessageFactory(
        thread=thread,
        incident=incident,
        state=state,
        body="Te enviamos otro hoy.",
        created_by=UserFactory(first_name="Marta", last_name="Gil"),
        delivery=OutboxEntryFactory(
            kind=OutboxKind.REPLY, group_key=f"thread:{thread.pk}", **delivery
        ),
    )
    message = MessageFactory(thread=thread, author_type=Party.SHOP) if synced else None
    return ConversationItem(
        at=AT,
        author_type=Party.SHOP,
        author_name="Marta Gil",
        recipients=[Party.CUSTOMER],
        body=outbound.body,
        message=message,
        outbound=outbound,
    )


@pytest.mark.parametrize(
    ("language", "author", "recipients"),
    [("es", "Cliente", "Tienda, Operador"), ("en", "Customer", "Shop, Operator")],
)
def test_a_synced_message_with_its_author_recipients_and_madrid_time(
    language, author, recipients
) -> None:
    incident = IncidentFactory()
    item = _synced(incident, recipients=[Party.SHOP, Party.OPERATOR], body="Hola\nadiós")
    with translation.override(language):
        html = message_html(item, incident=incident)
    assert f'<div class="msg customer" data-message="{item.message.mirakl_id}">' in html
    assert f"<strong>{author}</strong> · Lucía" in html
    assert f"→ {recipients}" in html
    assert '<time datetime="2026-12-04T17:05:00+01:00">04/12/2026 17:05</time>' in html
    assert '<div class="msg-body">Hola<br>adiós</div>' in html
    assert "data-outbound" not in html and "badge" not in html


def test_what_the_other_parties_wrote_is_text_never_markup() -> None:
    incident = IncidentFactory()
    item = _synced(
        incident,
        author_name="<b>Lucía</b>",
        body='Hola <script>alert("x")</script>\n<img src=x onerror=alert(1)>',
        recipients=[],
        attachments=[{"id": "a1", "name": '"><script>x</script>.pdf', "size": 10}],
    )
    html = message_html(item, incident=incident)
    assert "<script>" not in html and "<img" not in html and "<b>Lucía" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;<br>&lt;img" in html
    assert "&quot;&gt;&lt;script&gt;x&lt;/script&gt;.pdf" in html
    assert "→ —" in html  # no recipients


def test_attachments_link_to_the_download_when_mirakl_has_them() -> None:
    incident = IncidentFactory()
    item = _synced(
        incident,
        attachments=[
            {"id": "att-1", "name": "factura.pdf", "size": 20480},
            {"id": "att-2", "name": "", "size": 0},
            {"name": "sin-id.png"},
            "not an object",
        ],
    )
    with translation.override("es"):
        html = message_html(item, incident=incident)
    url = reverse("messaging:attachment", args=[incident.pk, "att-1"])
    assert (
        f'<li><a href="{url}" download>factura.pdf</a> <span class="muted">(20,0\xa0KB)</span></li>'
        in html
    )
    # No name: the id; no size: nothing; no id: the name, not a link.
    assert '" download>att-2</a></li>' in html
    assert "<li>sin-id.png</li>" in html
    assert html.count("<li>") == 3  # what is not an object is left out


def test_a_reply_in_the_outbox_shows_its_delivery() -> None:
    incident = IncidentFactory()
    item = _outbound(incident, state=OutboundMessage.State.QUEUED, attempts=3)
    with translation.override("es"):
        html = message_html(item, incident=incident, can_reply=True, csrf_token="t0k")
    outbound = item.outbound
    assert f'<div class="msg shop pending" data-outbound="{outbound.pk}">' in html
    assert '<span class="badge warn" data-delivery="queued">En cola</span>' in html
    assert '<span class="muted">intento 3</span>' in html
    assert "<form" not in html  # nothing to retry while it is queued


def test_sent_and_not_synced_yet() -> None:
    incident = IncidentFactory()
    item = _outbound(incident, state=OutboundMessage.State.SENT, attempts=2)
    with translation.override("en"):
        html = message_html(item, incident=incident)
    assert '<span class="badge ok" data-delivery="sent">Sent, not synced yet</span>' in html
    assert "attempt" not in html  # no longer pending


def test_a_synced_reply_says_who_sent_it_from_the_desk() -> None:
    incident = IncidentFactory()
    item = _outbound(incident, state=OutboundMessage.State.SENT, synced=True)
    with translation.override("es"):
        html = message_html(item, incident=incident)
    assert f'data-message="{item.message.mirakl_id}" data-outbound="{item.outbound.pk}"' in html
    assert '<div class="msg shop" ' in html  # not pending
    assert '<span class="muted">enviado desde Incidesk por Marta Gil</span>' in html
    assert "data-delivery" not in html


def test_a_failed_reply_shows_mirakls_answer_and_retry_for_agents() -> None:
    incident = IncidentFactory()
    item = _outbound(
        incident,
        state=OutboundMessage.State.FAILED,
        attempts=13,
        last_error="M12 HTTP 400: The thread is <closed>",
    )
    with translation.override("en"):
        html = message_html(item, incident=incident, can_reply=True, csrf_token="t0k")
        reader = message_html(item, incident=incident, can_reply=False)
    outbound = item.outbound
    assert '<span class="badge bad" data-delivery="failed">Failed</span>' in html
    assert (
        '<p class="delivery-error" data-error>Mirakl answered: '
        "M12 HTTP 400: The thread is &lt;closed&gt;</p>"
    ) in html
    url = reverse("messaging:retry", args=[incident.pk, outbound.pk])
    assert (
        f'<form method="post" action="{url}" hx-post="{url}"'
        f' hx-target="#thread-{outbound.thread_id}" hx-swap="outerHTML">'
    ) in html
    assert '<input type="hidden" name="csrfmiddlewaretoken" value="t0k">' in html
    assert ">Retry</button>" in html
    assert "<form" not in reader and "data-error" in reader


def test_a_reply_in_doubt_says_so_instead_of_an_error() -> None:
    incident = IncidentFactory()
    item = _outbound(
        incident,
        state=OutboundMessage.State.QUEUED,
        attempts=1,
        in_doubt=True,
        last_error="timeout",
        last_attempt_at=AT,
    )
    with translation.override("en"):
        html = message_html(item, incident=incident)
    assert "data-in-doubt" in html and "data-next-check" in html
    assert "data-error" not in html


def test_the_tag_takes_the_incident_the_permission_and_the_csrf_token_from_the_page() -> None:
    incident = IncidentFactory()
    item = _outbound(incident, state=OutboundMessage.State.FAILED, attempts=13)
    tag = Template("{% load conversation %}{% conversation_message item %}")
    html = tag.render(
        Context({"item": item, "incident": incident, "can_reply": True, "csrf_token": "t0k"})
    )
    assert message_html(item, incident=incident, can_reply=True, csrf_token="t0k") == html
    # Without a token (no request), the form has none rather than a bogus one.
    bare = tag.render(Context({"item": item, "incident": incident, "can_reply": True}))
    assert "<form" in bare and "csrfmiddlewaretoken" not in bare


def test_a_conversations_synced_messages_are_drawn_once_then_read_from_the_cache(
    django_assert_num_queries,
) -> None:
    from messaging.templatetags.conversation import messages_html

    incident = IncidentFactory()
    synced = _synced(incident, body="Hola <b>")
    failed = _outbound(incident, state=OutboundMessage.State.FAILED, attempts=2, last_error="x")
    items = [synced, failed]
    with translation.override("es"):
        first = messages_html(items, incident=incident, can_reply=True, csrf_token="t0k")
        drawn = "".join(
            message_html(item, incident=incident, can_reply=True, csrf_token="t0k")
            for item in items
        )
        assert first == drawn
        with django_assert_num_queries(0):
            again = messages_html(items, incident=incident, can_reply=True, csrf_token="n3w")
    # The synced message from the cache; the failed reply drawn again, with this
    # request's CSRF token.
    assert again == first.replace("t0k", "n3w")
    assert 'value="n3w"' in again

    # A message whose content changed is drawn again; so is a page in another language.
    synced.body = "Hola otra vez"
    with translation.override("es"):
        assert "Hola otra vez" in messages_html([synced], incident=incident)
    with translation.override("en"):
        english = messages_html([synced], incident=incident)
        assert english == message_html(synced, incident=incident)
    assert "Customer" in english


def test_a_conversation_read_for_the_page_is_keyed_by_its_rows_as_postgres_digested_them(
    django_assert_num_queries,
) -> None:
    from messaging.models import Message
    from messaging.selectors import order_conversations
    from messaging.templatetags.conversation import messages_html

    incident = IncidentFactory()
    thread = ThreadFactory(connection=incident.connection, order=incident.order)
    first = MessageFactory(thread=thread, author_type=Party.CUSTOMER, body="Hola <b>")
    MessageFactory(thread=thread, author_type=Party.SHOP, body="Buenos días")

    def drawn() -> tuple[list[ConversationItem], str]:
        (view,) = order_conversations(order_id=incident.order_id)
        with translation.override("es"):
            return view.items, messages_html(view.items, incident=incident)

    items, html = drawn()
    assert all(len(item.digest) == 64 for item in items)
    assert html == "".join(message_html(item, incident=incident) for item in items)
    again, html_again = drawn()
    assert [item.digest for item in again] == [item.digest for item in items]
    assert html_again == html
    # Read again, the same rows are found in this process's copy: nothing is drawn.
    with django_assert_num_queries(0), translation.override("es"):
        assert messages_html(again, incident=incident) == html

    # A message changed in the database is a new digest, and drawn again.
    Message.objects.filter(pk=first.pk).update(body="Hola otra vez")
    changed, html_changed = drawn()
    assert changed[0].digest != items[0].digest
    assert changed[1].digest == items[1].digest
    assert "Hola otra vez" in html_changed
    assert html_changed == "".join(message_html(item, incident=incident) for item in changed)


def test_a_conversation_is_read_without_its_text_which_only_a_drawing_reads(
    django_assert_num_queries,
) -> None:
    from django.core.cache import cache

    from messaging.models import Message
    from messaging.selectors import order_conversations
    from messaging.templatetags import conversation
    from messaging.templatetags.conversation import messages_html

    incident = IncidentFactory()
    for n in range(2):
        thread = ThreadFactory(connection=incident.connection, order=incident.order)
        MessageFactory(thread=thread, author_type=Party.CUSTOMER, body=f"Hola {n} <b>")
        MessageFactory(thread=thread, author_type=Party.SHOP, author_name="Tienda", body="Vale")
    views = order_conversations(order_id=incident.order_id)
    read = [item.message for view in views for item in view.items]
    assert all("body" not in m.__dict__ and "author_name" not in m.__dict__ for m in read)
    # What the page asks of a thread needs no text.
    with django_assert_num_queries(0):
        for view in views:
            assert view.last_message is not None
            for question in ("owed_party", "needs_reply", "can_mark_no_reply", "default_choice"):
                getattr(view, question)

    # Drawn anew: every thread's messages completed by the first drawing, in one query,
    # and drawn as their whole rows are.
    conversation._DRAWN_HERE.clear()
    cache.clear()
    with translation.override("es"), django_assert_num_queries(1):
        cold = [messages_html(view.items, incident=incident) for view in views]
    whole = {m.pk: m for m in Message.objects.filter(pk__in=[m.pk for m in read])}
    with translation.override("es"):
        for view, html in zip(views, cold, strict=True):
            items = [
                ConversationItem(at=i.at, author_type=i.author_type, message=whole[i.message.pk])
                for i in view.items
            ]
            assert html == "".join(message_html(item, incident=incident) for item in items)

    # Read again for the next page: drawn from the cache, no text read.
    again = order_conversations(order_id=incident.order_id)
    with translation.override("es"), django_assert_num_queries(0):
        assert [messages_html(view.items, incident=incident) for view in again] == cold
    assert all("body" not in item.message.__dict__ for view in again for item in view.items)


#: The documents panel's loop as its template wrote it, before {% documents_list %}.
_DOCUMENTS_LOOP = (
    "{% load i18n incidesk %}"
    "{% for doc in documents %}\n"
    '    <div class="stat"><a href="{% page_url \'messaging:attachment\' doc.id %}" download>'
    "{{ doc.name }}</a>\n"
    '      <span class="muted">{{ doc.author_type|party }} · {{ doc.at|date:"d/m/Y" }}'
    "{% if doc.size %} · {{ doc.size|filesizeformat }}{% endif %}</span></div>\n"
    '  {% empty %}<p class="muted">{% translate "No attachment on this order\'s messages." %}'
    "</p>{% endfor %}"
)


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize("on_incident", [True, False])
def test_the_documents_list_draws_what_its_template_loop_drew(language, on_incident) -> None:
    incident = IncidentFactory()
    documents = [
        {"id": "a<1>", "name": 'factura "1" & <b>', "size": 123456, "at": AT, "author_type": "X"},
        {"id": "2", "name": "foto.jpg", "size": None, "at": AT, "author_type": Party.CUSTOMER},
        {"id": "3", "name": "3", "size": 0, "at": AT, "author_type": Party.SHOP},
    ]
    page = {"incident": incident if on_incident else None, "order": incident.order}
    tag = Template("{% load conversation %}{% documents_list %}")
    with translation.override(language):
        for shown in (documents, []):
            context = {**page, "documents": shown}
            expected = Template(_DOCUMENTS_LOOP).render(Context(context))
            assert tag.render(Context(context)) == expected
