"""The reply box and the other conversation actions of the incident page."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.outbox.kinds import OutboxKind
from incidents.models import AuditEntry, Incident
from messaging.models import CannedReply, OutboundMessage, Party, ThreadNoReply
from tests.factories.core import MarketplaceReasonFactory, OutboxEntryFactory, UserFactory
from tests.messaging.fixtures import control, open_incident_thread

pytestmark = pytest.mark.django_db

BODY = "Hola, sentimos las molestias: hoy mismo te enviamos una unidad nueva."


def reply_url(incident, thread) -> str:
    return reverse("messaging:reply", args=[incident.pk, thread.pk])


def reply_data(thread, **overrides) -> dict:
    """What the reply form posts, as the page rendered it."""
    prefix = f"thread-{thread.pk}"
    last = thread.messages.order_by("-date_created", "-pk").first()
    data = {
        "recipient": "CUSTOMER",
        "body": BODY,
        "idempotency_key": str(uuid.uuid4()),
        "last_message_id": last.mirakl_id if last else "",
    }
    data.update(overrides)
    return {f"{prefix}-{key}": value for key, value in data.items()}


def sandbox_bodies(sandbox, thread) -> list[str]:
    return [m["body"] for m in sandbox.state.thread_payload(thread.mirakl_id)["messages"]]


def test_reply_is_stored_delivered_and_shown(
    agent_client, agent, synced, sandbox, django_capture_on_commit_callbacks
) -> None:
    incident, thread = open_incident_thread()
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(
            reply_url(incident, thread), reply_data(thread), HTTP_HX_REQUEST="true"
        )

    # Shown at once, before the delivery task ran (it runs once the request committed).
    assert response.status_code == 200
    outbound = OutboundMessage.objects.get()
    html = response.content.decode()
    assert f'id="thread-{thread.pk}"' in html
    assert f'data-outbound="{outbound.pk}"' in html
    assert 'data-delivery="queued"' in html
    assert 'id="history" hx-swap-oob="true"' in html
    assert "Reply queued" in html
    # Then delivered to Mirakl.
    outbound.refresh_from_db()
    assert outbound.state == OutboundMessage.State.SENT
    assert outbound.created_by == agent and outbound.incident == incident
    assert sandbox_bodies(sandbox, thread).count(BODY) == 1
    page = agent_client.get(reverse("desk:incident", args=[incident.pk])).content.decode()
    assert 'data-delivery="sent"' in page


def test_resubmitted_form_sends_once(
    agent_client, synced, sandbox, django_capture_on_commit_callbacks
) -> None:
    incident, thread = open_incident_thread()
    data = reply_data(thread)
    with django_capture_on_commit_callbacks(execute=True):
        first = agent_client.post(reply_url(incident, thread), data)
        again = agent_client.post(reply_url(incident, thread), data)

    assert first.status_code == again.status_code == 302
    assert first["Location"].endswith(f"#thread-{thread.pk}")
    assert OutboundMessage.objects.count() == 1
    assert sandbox_bodies(sandbox, thread).count(BODY) == 1


def test_new_message_meanwhile_asks_to_confirm(
    agent_client, synced, sandbox, sandbox_client
) -> None:
    from core.sync.runner import marketplace_sync

    incident, thread = open_incident_thread()
    data = reply_data(thread)  # the form as rendered before the customer wrote again
    control(sandbox, "messages", {"thread_id": thread.mirakl_id, "body": "¿Hola?"})
    marketplace_sync(connection=synced, client=sandbox_client)

    response = agent_client.post(reply_url(incident, thread), data, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert not OutboundMessage.objects.exists()
    assert 'data-warning="new_message"' in html
    assert "Send anyway" in html
    assert "¿Hola?" in html  # the new message is shown above the form
    assert BODY in html  # what the agent wrote is kept

    confirmed = dict(data)
    confirmed[f"thread-{thread.pk}-confirmed"] = "on"
    agent_client.post(reply_url(incident, thread), confirmed, HTTP_HX_REQUEST="true")
    assert OutboundMessage.objects.count() == 1


def test_copying_the_operator_without_need_asks_to_confirm(agent_client, synced) -> None:
    incident, thread = open_incident_thread()
    thread.messages.filter(author_type=Party.OPERATOR).delete()
    response = agent_client.post(
        reply_url(incident, thread),
        reply_data(thread, recipient="BOTH"),
        HTTP_HX_REQUEST="true",
    )
    assert 'data-warning="operator_copy"' in response.content.decode()
    assert not OutboundMessage.objects.exists()


def test_operator_reply_goes_without_customer(
    agent_client, synced, sandbox, django_capture_on_commit_callbacks
) -> None:
    incident, thread = open_incident_thread(last_author=Party.OPERATOR)
    with django_capture_on_commit_callbacks(execute=True):
        agent_client.post(
            reply_url(incident, thread),
            reply_data(thread, recipient="OPERATOR"),
            HTTP_HX_REQUEST="true",
        )
    message = next(
        m for m in sandbox.state.thread_payload(thread.mirakl_id)["messages"] if m["body"] == BODY
    )
    assert [r["type"] for r in message["to"]] == ["OPERATOR"]


def _recipient_case(agent_client, *messages, sweep: bool = True):
    """An incident whose order has one thread with ``messages`` (author, to, minutes
    after the opening): the reply box's default recipient and the page's HTML."""
    from django.utils import timezone

    from sla.services import sla_sweep
    from tests.factories.incidents import IncidentFactory
    from tests.factories.messaging import MessageFactory, ThreadFactory

    opened = timezone.now() - timedelta(hours=5)
    incident = IncidentFactory(opened_at=opened)
    thread = ThreadFactory(
        connection=incident.connection,
        order=incident.order,
        authorized_participants=[{"type": "CUSTOMER", "id": "c1"}, {"type": "OPERATOR"}],
    )
    for author, to, minutes in messages:
        MessageFactory(
            thread=thread,
            author_type=author,
            recipients=[{"type": party} for party in to],
            date_created=opened + timedelta(minutes=minutes),
        )
    if sweep:
        sla_sweep()
    response = agent_client.get(reverse("desk:incident", args=[incident.pk]))
    entry = next(e for e in response.context["threads"] if e["view"].thread == thread)
    return entry["form"]["recipient"].value(), response.content.decode()


@pytest.mark.parametrize("sweep", [True, False], ids=["swept", "before the sweep"])
def test_default_recipient_is_who_is_owed(agent_client, db, sweep) -> None:
    C, OP, S = Party.CUSTOMER, Party.OPERATOR, Party.SHOP  # noqa: N806
    # The marketplace's notice of the opening, last inbound message: the customer is owed.
    assert _recipient_case(agent_client, (C, [S, OP], -30), (OP, [S], 0), sweep=sweep)[0] == C
    # A real operator question after the shop answered the customer: the operator.
    choice, _ = _recipient_case(
        agent_client, (OP, [S], 0), (S, [C], 10), (OP, [S], 60), sweep=sweep
    )
    assert choice == OP
    # Both waiting: the oldest wait (the customer's) comes first.
    choice, html = _recipient_case(agent_client, (C, [S], 30), (OP, [S], 60), sweep=sweep)
    assert choice == C
    assert "the operator can read it but is not notified" in html  # each choice explained


def test_the_reply_box_says_who_is_owed_and_by_when(agent_client, db) -> None:
    C, OP, S = Party.CUSTOMER, Party.OPERATOR, Party.SHOP  # noqa: N806
    _, html = _recipient_case(agent_client, (C, [S, OP], -30), (OP, [S], 0))
    assert "data-owed" in html
    assert "Reply owed to" in html


@pytest.mark.parametrize(
    ("files", "error"),
    [
        ([("virus.exe", b"MZ")], "this type of file is not accepted"),
        ([("grande.pdf", b"x" * (5 * 1024 * 1024 + 1))], "per file"),
        ([("vacio.pdf", b"")], "is empty"),
        ([(f"f{n}.pdf", b"%PDF") for n in range(6)], "At most 5 files"),
    ],
)
def test_attachment_limits(agent_client, synced, files, error) -> None:
    incident, thread = open_incident_thread()
    data = reply_data(thread)
    data[f"thread-{thread.pk}-attachments"] = [
        SimpleUploadedFile(name, content) for name, content in files
    ]
    response = agent_client.post(reply_url(incident, thread), data, HTTP_HX_REQUEST="true")
    assert error in response.content.decode()
    assert not OutboundMessage.objects.exists()


def test_attachment_is_sent(
    agent_client, synced, sandbox, django_capture_on_commit_callbacks
) -> None:
    incident, thread = open_incident_thread()
    data = reply_data(thread)
    data[f"thread-{thread.pk}-attachments"] = [SimpleUploadedFile("etiqueta.pdf", b"%PDF-1.7")]
    with django_capture_on_commit_callbacks(execute=True):
        agent_client.post(reply_url(incident, thread), data, HTTP_HX_REQUEST="true")
    message = next(
        m for m in sandbox.state.thread_payload(thread.mirakl_id)["messages"] if m["body"] == BODY
    )
    assert [a["name"] for a in message["attachments"]] == ["etiqueta.pdf"]


def test_empty_reply_is_refused(agent_client, synced) -> None:
    incident, thread = open_incident_thread()
    response = agent_client.post(
        reply_url(incident, thread), reply_data(thread, body="   "), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert not OutboundMessage.objects.exists()


def test_replying_needs_the_permission(client, synced) -> None:
    incident, thread = open_incident_thread()
    client.force_login(UserFactory(username="jefa", role="account_manager"))
    assert client.post(reply_url(incident, thread), reply_data(thread)).status_code == 403
    page = client.get(reverse("desk:incident", args=[incident.pk])).content.decode()
    assert "reply-box" not in page
    assert not OutboundMessage.objects.exists()


def test_no_reply_required(agent_client, agent, synced) -> None:
    incident, thread = open_incident_thread()
    url = reverse("messaging:no_reply", args=[incident.pk, thread.pk])
    prefix = f"thread-{thread.pk}-noreply"

    refused = agent_client.post(url, {f"{prefix}-reason": ""}, HTTP_HX_REQUEST="true")
    assert "This field is required" in refused.content.decode()
    Incident.objects.filter(pk=incident.pk).update(state=Incident.State.IN_PROGRESS)
    # Not resolved: the page says why and asks for a confirmation (clock rule N1).
    asked = agent_client.post(
        url, {f"{prefix}-reason": "Solo da las gracias."}, HTTP_HX_REQUEST="true"
    )
    assert "data-no-reply-confirm" in asked.content.decode()
    assert not ThreadNoReply.objects.exists()
    response = agent_client.post(
        url,
        {f"{prefix}-reason": "Solo da las gracias.", f"{prefix}-confirmed": "on"},
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    mark = ThreadNoReply.objects.get(thread=thread)
    assert mark.marked_by == agent and mark.reason == "Solo da las gracias."
    assert "data-no-reply" in html and "Solo da las gracias." in html
    assert "data-needs-reply" not in html
    assert "mark it in the back office" in html
    assert AuditEntry.objects.filter(incident=incident, action="no_reply").exists()


def test_no_reply_refused_when_we_wrote_last(agent_client, synced) -> None:
    incident, thread = open_incident_thread(last_author=Party.SHOP)
    url = reverse("messaging:no_reply", args=[incident.pk, thread.pk])
    response = agent_client.post(url, {f"thread-{thread.pk}-noreply-reason": "x"})
    assert "whose last message is inbound" in response.content.decode()
    assert not ThreadNoReply.objects.exists()


def test_start_a_conversation(
    agent_client, synced, sandbox, django_capture_on_commit_callbacks
) -> None:
    incident, thread = open_incident_thread()
    url = reverse("messaging:new_thread", args=[incident.pk])
    key = str(uuid.uuid4())
    base = {
        "new-recipient": "CUSTOMER",
        "new-body": "Hola, te adjuntamos la factura.",
        "new-idempotency_key": key,
    }

    missing = agent_client.post(url, base, HTTP_HX_REQUEST="true")
    assert "Choose a subject or write one." in missing.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(url, {**base, "new-reason": "21"}, HTTP_HX_REQUEST="true")

    outbound = OutboundMessage.objects.get()
    assert outbound.kind == OutboundMessage.Kind.NEW_THREAD
    assert outbound.state == OutboundMessage.State.SENT
    assert sandbox.state.thread_payload(outbound.mirakl_thread_id)["topic"]["value"] == "21"
    html = response.content.decode()
    assert 'hx-swap-oob="afterbegin:#thread-list"' in html
    assert f'id="thread-new-{outbound.pk}"' in html


def _new_thread_options(html: str) -> list[str]:
    select = re.search(r'<select name="new-reason"[^>]*>(.*?)</select>', html, re.S)
    assert select is not None, "the new-conversation form has no subject list"
    return re.findall(r'<option value="([^"]*)"', select.group(1))


def test_new_thread_subjects_are_the_shop_usable_messaging_reasons(agent_client, synced) -> None:
    MarketplaceReasonFactory(
        connection=synced, type="ORDER_MESSAGING", code="29", is_shop_right=False
    )
    incident, _thread = open_incident_thread()

    page = agent_client.get(reverse("desk:incident", args=[incident.pk]))

    assert page.status_code == 200
    assert _new_thread_options(page.content.decode()) == [
        "",
        "20",
        "21",
        "22",
        "23",
        "24",
        "25",
        "26",
    ]


@pytest.mark.parametrize("code", ["29", "17", "999"])
def test_new_thread_subject_outside_the_list_is_refused(
    agent_client, synced, code, django_capture_on_commit_callbacks
) -> None:
    MarketplaceReasonFactory(
        connection=synced, type="ORDER_MESSAGING", code="29", is_shop_right=False
    )
    incident, _thread = open_incident_thread()
    url = reverse("messaging:new_thread", args=[incident.pk])
    data = {
        "new-recipient": "CUSTOMER",
        "new-body": "Hola, te adjuntamos la factura.",
        "new-idempotency_key": str(uuid.uuid4()),
        "new-reason": code,
    }

    with django_capture_on_commit_callbacks() as callbacks:
        response = agent_client.post(url, data, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert "Choose a subject from the marketplace&#x27;s list." in response.content.decode()
    assert callbacks == []
    assert not OutboundMessage.objects.exists()
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.NEW_THREAD).exists()


def test_new_thread_subject_withdrawn_meanwhile_is_refused_by_the_service(
    agent_client, synced, monkeypatch
) -> None:
    """The form offered the code, but the reasons sync took it away before the post."""
    from core.models import MarketplaceReason
    from messaging import views

    incident, _thread = open_incident_thread()
    offered = views.new_thread_reasons(incident)
    MarketplaceReason.objects.filter(connection=synced, type="ORDER_MESSAGING", code="21").update(
        is_shop_right=False
    )
    monkeypatch.setattr(views, "new_thread_reasons", lambda incident: offered)
    url = reverse("messaging:new_thread", args=[incident.pk])
    data = {
        "new-recipient": "CUSTOMER",
        "new-body": "Hola, te adjuntamos la factura.",
        "new-idempotency_key": str(uuid.uuid4()),
        "new-reason": "21",
    }

    partial = agent_client.post(url, data, HTTP_HX_REQUEST="true")
    page = agent_client.post(url, data)

    for response in (partial, page):
        assert response.status_code == 200
        assert "Choose a subject from the marketplace&#x27;s list." in response.content.decode()
    assert not OutboundMessage.objects.exists()


def test_retry_a_failed_message(
    agent_client, agent, synced, sandbox, django_capture_on_commit_callbacks
) -> None:
    incident, thread = open_incident_thread()
    outbound = OutboundMessage.objects.create(
        connection=thread.connection,
        order=thread.order,
        thread=thread,
        incident=incident,
        kind="reply",
        recipients=["CUSTOMER"],
        body=BODY,
        state=OutboundMessage.State.FAILED,
        delivery=OutboxEntryFactory(
            kind=OutboxKind.REPLY,
            group_key=f"thread:{thread.pk}",
            state="failed",
            attempts=3,
            last_error="M12 HTTP 400: The thread is closed",
        ),
        created_by=agent,
    )
    page = agent_client.get(reverse("desk:incident", args=[incident.pk])).content.decode()
    assert "The thread is closed" in page and "Retry" in page

    url = reverse("messaging:retry", args=[incident.pk, outbound.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(url, HTTP_HX_REQUEST="true")

    outbound.refresh_from_db()
    assert response.status_code == 200
    assert outbound.state == OutboundMessage.State.SENT
    assert sandbox_bodies(sandbox, thread).count(BODY) == 1


def test_live_lint(agent_client, synced) -> None:
    incident, thread = open_incident_thread()
    url = reverse("messaging:lint", args=[incident.pk])
    key = f"thread-{thread.pk}-body"
    warned = agent_client.post(url, {key: "Hello, we will send you a new one today."})
    assert 'data-warning="language"' in warned.content.decode()
    clean = agent_client.post(url, {key: BODY})
    assert "data-warning" not in clean.content.decode()


def test_canned_reply_fills_the_box(agent_client, synced) -> None:
    incident, thread = open_incident_thread()
    canned = CannedReply.objects.get(title="Reenvío con nuevo seguimiento")
    url = reverse("messaging:canned", args=[incident.pk])
    response = agent_client.get(url, {"canned": canned.pk, "prefix": f"thread-{thread.pk}"})
    html = response.content.decode()
    assert f'name="thread-{thread.pk}-body"' in html
    assert f'id="id_thread-{thread.pk}-body"' in html
    assert incident.order.mirakl_id in html
    assert "{order_number}" not in html
    assert agent_client.get(url, {"canned": canned.pk, "prefix": "evil"}).status_code == 404
