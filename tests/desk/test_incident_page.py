"""The incident page: header, panels, documents, assignment, notes, history, live refresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from core.sync.runner import marketplace_sync
from incidents.models import AuditEntry, IncidentAssignment, IncidentNote, IncidentSeen
from messaging.models import Message, Party
from tests.factories.core import OrderFactory, OrderLineFactory, UserFactory
from tests.factories.incidents import AuditEntryFactory, IncidentFactory
from tests.factories.messaging import MessageFactory, ThreadFactory
from tests.messaging import fixtures
from tests.messaging.fixtures import control, open_incident_thread

pytestmark = pytest.mark.django_db

# Fixtures shared with the messaging tests.
agent = fixtures.agent
agent_client = fixtures.agent_client
synced = fixtures.synced


def page_url(incident) -> str:
    return reverse("desk:incident", args=[incident.pk])


def make_incident(**order_fields):
    order = OrderFactory(**order_fields)
    line = OrderLineFactory(
        order=order,
        state="INCIDENT_OPEN",
        product_title="Portátil gaming 15,6",
        quantity=2,
        price=Decimal("1234.5"),
        shipping_price=Decimal("4.95"),
        total_price=Decimal("1239.45"),
    )
    return IncidentFactory(
        line=line,
        reason_label="Artículo defectuoso",
        opened_at=datetime(2026, 7, 1, 22, 15, tzinfo=UTC),  # 00:15 on 2 July in Madrid
    )


# --------------------------------------------------------------------------- access


def test_page_needs_login_and_permission(client) -> None:
    incident = make_incident()
    assert client.get(page_url(incident)).status_code == 302
    client.force_login(UserFactory(username="sinpermisos"))
    assert client.get(page_url(incident)).status_code == 403


def test_unknown_incident_is_404(agent_client) -> None:
    assert agent_client.get(reverse("desk:incident", args=[999999])).status_code == 404


def test_order_id_leads_to_its_incident(agent_client) -> None:
    incident = make_incident(mirakl_id="59400123-A")
    url = reverse("incidents:by_order", args=[incident.connection.code, incident.order.mirakl_id])
    response = agent_client.get(url)
    assert response.status_code == 302
    assert response["Location"] == page_url(incident)


# --------------------------------------------------------------------------- panels


def test_header_and_details(agent_client, settings) -> None:
    incident = make_incident(
        mirakl_id="59400777-A",
        total_price=Decimal("2474.85"),
        customer_first_name="Lucía",
        customer_last_name="Martín",
        billing_address={"firstname": "Lucía", "street_1": "Calle Mayor 1", "city": "Madrid"},
        shipping_address={
            "firstname": "Pablo",
            "street_1": "Avda. del Puerto 9",
            "city": "Valencia",
        },
        shipping_company="SEUR",
        shipping_tracking="SEU123456",
        shipping_tracking_url="https://seur.example/track?n=SEU123456",
    )
    AuditEntryFactory(incident=incident, at=incident.opened_at)
    agent_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"

    response = agent_client.get(page_url(incident))

    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "59400777-A",  # yellow header: order number, incident date and reason
        "02/07/2026 00:15",
        "Artículo defectuoso",
        'data-state="new"',
        "Portátil gaming 15,6",
        "1\xa0234,50\xa0€",  # EUR, two decimals, Spanish format
        "4,95\xa0€",
        "2\xa0474,85\xa0€",
        "Calle Mayor 1",  # billing
        "Avda. del Puerto 9",  # shipping
        "SEUR",
        'href="https://seur.example/track?n=SEU123456"',
        'id="history"',
    ):
        assert text in html, text


def test_messages_of_every_thread_escaped(agent_client) -> None:
    incident = make_incident()
    first = ThreadFactory(connection=incident.connection, order=incident.order, topic_value="Uno")
    second = ThreadFactory(connection=incident.connection, order=incident.order, topic_value="Dos")
    MessageFactory(thread=first, body="<script>alert('x')</script> ¿Dónde está?")
    MessageFactory(
        thread=second,
        author_type=Party.OPERATOR,
        author_name="PcComponentes",
        recipients=[{"type": "SHOP"}, {"type": "CUSTOMER", "id": "c1"}],
        body="Revise el caso, por favor.",
    )

    html = agent_client.get(page_url(incident)).content.decode()

    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert f'id="thread-{first.pk}"' in html and f'id="thread-{second.pk}"' in html
    assert "Revise el caso, por favor." in html
    assert "Shop, Customer" in html  # recipients of the operator's message


def test_documents_download_through_mirakl(agent_client, synced, sandbox) -> None:
    message = Message.objects.exclude(attachments=[]).filter(thread__order__incidents__isnull=False)
    message = message.select_related("thread__order").first()
    assert message is not None, "the sandbox seeds attachments"
    incident = message.thread.order.incidents.first()
    attachment = message.attachments[0]

    html = agent_client.get(page_url(incident)).content.decode()
    url = reverse("messaging:attachment", args=[incident.pk, attachment["id"]])
    assert url in html

    response = agent_client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "application/octet-stream"
    assert response.content == sandbox_client_download(sandbox, attachment["id"])
    # Only the order's own attachments are proxied.
    other = reverse("messaging:attachment", args=[incident.pk, "not-on-this-order"])
    assert agent_client.get(other).status_code == 404


def sandbox_client_download(sandbox, attachment_id: str) -> bytes:
    return sandbox.state.attachments[attachment_id].data


def test_mirakl_error_on_download_is_a_502(agent_client, synced, sandbox) -> None:
    message = Message.objects.exclude(attachments=[]).select_related("thread__order").first()
    incident = message.thread.order.incidents.first() or IncidentFactory(
        line=OrderLineFactory(order=message.thread.order), connection=message.thread.connection
    )
    control(sandbox, "faults", {"spec": "500=1.0"})
    url = reverse("messaging:attachment", args=[incident.pk, message.attachments[0]["id"]])
    response = agent_client.get(url)
    assert response.status_code == 502
    assert "Internal Server Error" in response.content.decode()


# --------------------------------------------------------------------------- actions


def test_assign_to_me_someone_and_nobody(agent_client, agent) -> None:
    incident = make_incident()
    colleague = UserFactory(username="pedro", first_name="Pedro", last_name="Gil", role="agent")
    url = reverse("incidents:assign", args=[incident.pk])

    response = agent_client.post(url, {"assignee": agent.pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Marta Ruiz" in response.content.decode()
    assert 'hx-swap-oob="true"' in response.content.decode()  # the history panel too
    agent_client.post(url, {"assignee": colleague.pk})
    assert IncidentAssignment.objects.get(incident=incident).assignee == colleague
    response = agent_client.post(url, {"assignee": ""})
    assert response.status_code == 302
    assert not IncidentAssignment.objects.filter(incident=incident).exists()

    kinds = list(
        AuditEntry.objects.filter(incident=incident)
        .order_by("at", "pk")
        .values_list("action", "detail")
    )
    assert kinds == [
        ("assigned", "Marta Ruiz"),
        ("assigned", "Pedro Gil"),
        ("unassigned", "Pedro Gil"),
    ]
    html = agent_client.get(page_url(incident)).content.decode()
    assert "Unassigned" in html and "Pedro Gil" in html


def test_assigning_needs_the_permission(client) -> None:
    incident = make_incident()
    manager = UserFactory(username="jefa", role="account_manager")
    client.force_login(manager)
    url = reverse("incidents:assign", args=[incident.pk])
    assert client.post(url, {"assignee": manager.pk}).status_code == 403
    assert client.get(page_url(incident)).status_code == 200  # may read
    assert not IncidentAssignment.objects.exists()


def test_internal_note_stays_here(agent_client, agent, synced, sandbox) -> None:
    incident, _thread = open_incident_thread()
    writes_before = {k: sandbox.stats.get(k, 0) for k in ("M12", "OR43")}
    url = reverse("incidents:note", args=[incident.pk])

    response = agent_client.post(
        url, {"body": "Llamé al cliente: prefiere reembolso."}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert "Llamé al cliente: prefiere reembolso." in response.content.decode()
    note = IncidentNote.objects.get(incident=incident)
    assert note.author == agent
    assert AuditEntry.objects.filter(incident=incident, action="note", actor=agent).exists()
    assert {k: sandbox.stats.get(k, 0) for k in ("M12", "OR43")} == writes_before
    assert agent_client.post(url, {"body": "  "}).status_code == 400


def test_visit_marks_the_incident_seen(agent_client, agent) -> None:
    incident = make_incident()
    before = timezone.now()
    agent_client.get(page_url(incident))
    seen = IncidentSeen.objects.get(incident=incident, user=agent)
    assert seen.seen_at >= before
    agent_client.get(page_url(incident))
    assert IncidentSeen.objects.filter(incident=incident, user=agent).count() == 1


def test_revisit_writes_only_when_an_unanswered_message_is_new(agent_client, agent) -> None:
    incident = make_incident()
    thread = ThreadFactory(connection=incident.connection, order=incident.order)
    agent_client.get(page_url(incident))
    first = IncidentSeen.objects.get(incident=incident, user=agent).seen_at

    # Nothing new: the visit changes no unread count, nothing is written.
    agent_client.get(page_url(incident))
    assert IncidentSeen.objects.get(incident=incident, user=agent).seen_at == first

    # A customer message newer than the last visit, not answered: the visit is remembered.
    MessageFactory(thread=thread, author_type=Party.CUSTOMER, date_created=timezone.now())
    agent_client.get(page_url(incident))
    assert IncidentSeen.objects.get(incident=incident, user=agent).seen_at > first


def test_a_message_dated_ahead_of_our_clock_is_seen_once(agent_client, agent) -> None:
    incident = make_incident()
    thread = ThreadFactory(connection=incident.connection, order=incident.order)
    ahead = timezone.now() + timedelta(minutes=3)  # the marketplace's clock runs ahead
    MessageFactory(thread=thread, author_type=Party.CUSTOMER, date_created=ahead)
    agent_client.get(page_url(incident))
    assert IncidentSeen.objects.get(incident=incident, user=agent).seen_at == ahead

    # Seen: the next visit does not count it unread again, nor writes.
    agent_client.get(page_url(incident))
    assert IncidentSeen.objects.get(incident=incident, user=agent).seen_at == ahead


# --------------------------------------------------------------------------- live refresh


def test_poll_refreshes_messages_without_the_forms(agent_client, synced, sandbox, sandbox_client):
    incident, thread = open_incident_thread()
    poll = reverse("messaging:poll", args=[incident.pk])
    shown = agent_client.get(page_url(incident)).context["thread_count"]

    control(sandbox, "messages", {"thread_id": thread.mirakl_id, "body": "¿Alguna novedad?"})
    marketplace_sync(connection=synced, client=sandbox_client)
    response = agent_client.get(f"{poll}?n={shown}", HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="thread-{thread.pk}-items" hx-swap-oob="innerHTML"' in html
    assert "¿Alguna novedad?" in html
    assert 'name="thread-' not in html  # no reply box: what is being typed stays
    assert 'id="incident-status" class="incident-status" hx-swap-oob="true"' in html
    assert "A new conversation arrived" not in html

    # The page showed one thread fewer than there are now: a new conversation arrived.
    response = agent_client.get(f"{poll}?n={shown - 1}", HTTP_HX_REQUEST="true")
    assert "A new conversation arrived" in response.content.decode()


def test_page_has_live_refresh(agent_client) -> None:
    incident = make_incident()
    html = agent_client.get(page_url(incident)).content.decode()
    assert f'hx-get="{reverse("messaging:poll", args=[incident.pk])}?n=0"' in html
    assert 'hx-trigger="every 10s"' in html


# --------------------------------------------------------------------------- query budget


#: The incident page's budget (issue 4): whatever the order holds.
PAGE_QUERIES = 15


def make_busy_incident(size: int):
    """An incident whose order holds ``size`` of everything the page shows: threads with
    messages and attachments, outbox messages with attachments, "no reply" marks, lines,
    synced refunds, refund requests, other open incidents, notes and audit entries."""
    from messaging.models import OutboundAttachment
    from tests.factories.core import MarketplaceReasonFactory
    from tests.factories.incidents import IncidentNoteFactory
    from tests.factories.messaging import (
        CannedReplyFactory,
        OutboundMessageFactory,
        ThreadNoReplyFactory,
    )
    from tests.factories.refunds import (
        RefundFactory,
        RefundRequestFactory,
        RefundRequestLineFactory,
    )

    incident = make_incident()
    order, now, colleague = incident.order, timezone.now(), UserFactory()
    for reason_type in ("INCIDENT_CLOSE", "ORDER_MESSAGING"):
        MarketplaceReasonFactory(connection=incident.connection, type=reason_type)
    CannedReplyFactory.create_batch(size)
    for n in range(size):
        thread = ThreadFactory(connection=incident.connection, order=order)
        for m in range(size * 2):
            MessageFactory(
                thread=thread,
                date_created=now - timedelta(minutes=m),
                attachments=[{"id": f"a{n}-{m}", "name": "foto.jpg", "size": 1200}],
            )
        ThreadNoReplyFactory(thread=thread, marked_by=colleague)
        outbound = OutboundMessageFactory(thread=thread, created_by=colleague)
        OutboundAttachment.objects.create(
            message=outbound,
            name="albaran.pdf",
            content_type="application/pdf",
            size=3,
            content=b"pdf",
        )
        line = OrderLineFactory(order=order, index=n + 2, state="INCIDENT_OPEN")
        IncidentFactory(line=line)
        RefundFactory(line=line)
        RefundRequestLineFactory(request=RefundRequestFactory(order=order), line=line)
        IncidentNoteFactory(incident=incident)
        AuditEntryFactory(incident=incident)
    return incident


@pytest.mark.parametrize("size", [1, 6])
def test_page_queries_do_not_grow_with_the_data(
    agent_client, django_assert_max_num_queries, size
) -> None:
    incident = make_busy_incident(size)
    # The first view fills the cache (canned replies, the marketplace's reasons, the
    # banners of marketplaces whose shop is not open, who may be assigned) and draws the
    # messages, whose text it then reads (every thread's at once): five more.
    with django_assert_max_num_queries(PAGE_QUERIES + 5):
        response = agent_client.get(page_url(incident))
    assert response.status_code == 200
    assert len(response.context["threads"]) == size
    assert len(response.context["refunds"].requests) == size
    assert len(response.context["resolve_panels"]) == size + 1
    with django_assert_max_num_queries(PAGE_QUERIES):
        assert agent_client.get(page_url(incident)).status_code == 200
    with django_assert_max_num_queries(12):
        agent_client.get(reverse("messaging:poll", args=[incident.pk]), HTTP_HX_REQUEST="true")


def test_page_queries_are_the_same_for_small_and_big_orders(
    agent_client, django_assert_num_queries
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size in (1, 5):
        incident = make_busy_incident(size)
        agent_client.get(page_url(incident))  # the cache filled
        with CaptureQueriesContext(connection) as captured:
            agent_client.get(page_url(incident))
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1] <= PAGE_QUERIES
