"""What the API returns: shapes, lookups by Mirakl id, pagination, replies, "no reply
required", new conversations, the schema."""

from __future__ import annotations

import uuid

import pytest
from django.core.management import call_command
from django.test import Client

from core.models import MarketplaceConnection
from messaging.models import OutboundMessage
from tests.factories.core import MarketplaceConnectionFactory, OrderFactory
from tests.factories.incidents import IncidentFactory

pytestmark = pytest.mark.django_db

SECRET = "very-secret-shop-key-123"


def test_marketplaces_never_return_the_api_key(api_client_for, desk) -> None:
    client = api_client_for("admin")
    listing = client.get("/api/v1/marketplaces/")
    detail = client.get(f"/api/v1/marketplaces/{desk['connection'].pk}/")
    created = client.post(
        "/api/v1/marketplaces/",
        {
            "code": "mediamarkt",
            "name": "MediaMarkt",
            "base_url": "https://mm.mirakl.net/",
            "api_key": "another-secret-key-987",
        },
        format="json",
    )
    changed = client.patch(
        f"/api/v1/marketplaces/{desk['connection'].pk}/",
        {"api_key": "rotated-secret-key-555"},
        format="json",
    )
    for response in (listing, detail, created, changed):
        assert response.status_code in (200, 201)
        body = response.content.decode()
        assert "api_key" not in body
        for secret in (SECRET, "another-secret-key-987", "rotated-secret-key-555"):
            assert secret not in body
    assert created.json()["base_url"] == "https://mm.mirakl.net"
    assert MarketplaceConnection.objects.get(code="mediamarkt").api_key == "another-secret-key-987"
    desk["connection"].refresh_from_db()
    assert desk["connection"].api_key == "rotated-secret-key-555"


def test_marketplace_change_keeps_the_key_when_left_out(api_client_for, desk) -> None:
    response = api_client_for("admin").patch(
        f"/api/v1/marketplaces/{desk['connection'].pk}/", {"name": "PcC"}, format="json"
    )
    assert response.status_code == 200
    desk["connection"].refresh_from_db()
    assert (desk["connection"].name, desk["connection"].api_key) == ("PcC", SECRET)


def test_marketplace_create_requires_a_key_and_valid_fields(api_client_for, db) -> None:
    client = api_client_for("admin")
    no_key = client.post(
        "/api/v1/marketplaces/",
        {"code": "mm", "name": "MM", "base_url": "https://mm.mirakl.net"},
        format="json",
    )
    bad_url = client.post(
        "/api/v1/marketplaces/",
        {"code": "mm", "name": "MM", "base_url": "not a url", "api_key": "k-123456"},
        format="json",
    )
    assert no_key.status_code == 400 and "api_key" in no_key.json()
    assert bad_url.status_code == 400 and "base_url" in bad_url.json()


def test_incidents_by_order_include_closed_episodes(api_client_for, desk) -> None:
    from django.utils import timezone

    closed = IncidentFactory(line=desk["line"], episode=2, closed_at=timezone.now(), state="closed")
    IncidentFactory()  # another order
    client = api_client_for("agent")
    by_order = client.get("/api/v1/incidents/", {"order": desk["order"].mirakl_id}).json()
    assert {row["id"] for row in by_order["results"]} == {desk["incident"].pk, closed.pk}
    assert all(row["order"] == desk["order"].mirakl_id for row in by_order["results"])
    open_only = client.get("/api/v1/incidents/").json()
    assert closed.pk not in {row["id"] for row in open_only["results"]}


def test_incident_detail_has_the_sla_and_ids(api_client_for, desk) -> None:
    data = api_client_for("agent").get(f"/api/v1/incidents/{desk['incident'].pk}/").json()
    assert data["order"] == "59400123-A"
    assert data["line"] == "59400123-A-1"
    assert data["marketplace"] == "pccomponentes"
    assert set(data) >= {"state", "sla_due_at", "sla_state", "assignee", "opened_at"}


def test_incidents_are_cursor_paginated(api_client_for, db) -> None:
    IncidentFactory.create_batch(5)
    client = api_client_for("agent")
    first = client.get("/api/v1/incidents/", {"page_size": 2}).json()
    assert len(first["results"]) == 2
    assert "cursor=" in first["next"]
    seen = [row["id"] for row in first["results"]]
    url = first["next"]
    while url:
        page = client.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 5


def test_incident_filters_are_validated(api_client_for, desk) -> None:
    client = api_client_for("agent")
    assert client.get("/api/v1/incidents/", {"state": "bogus"}).status_code == 400
    assert client.get("/api/v1/incidents/", {"connection": "abc"}).status_code == 400
    assert client.get("/api/v1/incidents/", {"assignee": "x"}).status_code == 400
    assert client.get("/api/v1/incidents/", {"cursor": "garbage"}).status_code == 400


def test_incident_list_query_budget(api_client_for, desk, django_assert_max_num_queries) -> None:
    IncidentFactory.create_batch(10)
    client = api_client_for("agent")
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/incidents/")
    assert len(response.json()["results"]) == 11


def test_order_detail_has_lines_and_refunds(api_client_for, desk) -> None:
    data = api_client_for("account_manager").get("/api/v1/orders/59400123-A/").json()
    assert data["mirakl_id"] == "59400123-A"
    [line] = data["lines"]
    assert line["mirakl_id"] == "59400123-A-1"
    assert [r["mirakl_id"] for r in line["refunds"]] == [desk["refund"].mirakl_id]
    assert "customer_email" not in data and "billing_address" not in data


def test_order_id_shared_by_two_marketplaces_needs_the_marketplace(api_client_for, desk) -> None:
    other = MarketplaceConnectionFactory(code="mediamarkt")
    OrderFactory(connection=other, mirakl_id="59400123-A")
    client = api_client_for("agent")
    ambiguous = client.get("/api/v1/orders/59400123-A/")
    assert ambiguous.status_code == 400
    assert "marketplace" in ambiguous.json()
    picked = client.get("/api/v1/orders/59400123-A/", {"marketplace": "mediamarkt"})
    assert picked.status_code == 200
    assert picked.json()["marketplace"] == "mediamarkt"


def test_thread_detail_returns_message_bodies_as_json_data(api_client_for, desk) -> None:
    response = api_client_for("agent").get("/api/v1/threads/thread-1/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["X-Content-Type-Options"] == "nosniff"
    [message] = response.json()["messages"]
    # Data, not markup: kept verbatim in a JSON string, never rendered as HTML.
    assert message["body"] == "Hola <script>alert(1)</script>"


def test_threads_list_by_order(api_client_for, desk) -> None:
    client = api_client_for("agent")
    rows = client.get("/api/v1/threads/", {"order": "59400123-A"}).json()["results"]
    assert [row["mirakl_id"] for row in rows] == ["thread-1"]
    assert client.get("/api/v1/threads/", {"order": "other"}).json()["results"] == []


def test_reply_goes_through_the_outbox(
    api_client_for, desk, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    import messaging.api.views

    calls = []
    real = messaging.api.views.outbound_reply_queue

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(messaging.api.views, "outbound_reply_queue", spy)
    key = str(uuid.uuid4())
    client = api_client_for("agent")
    with django_capture_on_commit_callbacks() as callbacks:
        first = client.post(
            "/api/v1/threads/thread-1/replies/",
            {"recipients": "operator", "body": "Lo revisamos hoy."},
            format="json",
            HTTP_IDEMPOTENCY_KEY=key,
        )
    again = client.post(
        "/api/v1/threads/thread-1/replies/",
        {"recipients": "operator", "body": "Lo revisamos hoy."},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert first.status_code == 201
    assert again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["idempotency_key"] == key
    assert first.json()["recipients"] == ["OPERATOR"]
    assert first.json()["state"] == "queued"
    assert calls[0]["choice"] == "OPERATOR" and calls[0]["thread"] == desk["thread"]
    assert len(callbacks) == 1  # the delivery task, after commit
    assert OutboundMessage.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "headers", "field"),
    [
        ({"recipients": "everyone", "body": "x"}, {}, "recipients"),
        ({"recipients": "operator", "body": ""}, {}, "body"),
        (
            {"recipients": "operator", "body": "x"},
            {"HTTP_IDEMPOTENCY_KEY": "nope"},
            "Idempotency-Key",
        ),
        # The thread has no customer among its participants.
        ({"recipients": "customer", "body": "x"}, {}, "recipients"),
    ],
)
def test_reply_is_validated(api_client_for, desk, body, headers, field) -> None:
    response = api_client_for("agent").post(
        "/api/v1/threads/thread-1/replies/", body, format="json", **headers
    )
    assert response.status_code == 400
    assert field in response.json()
    assert not OutboundMessage.objects.exists()


def test_refunds_list_filters_by_order(api_client_for, desk) -> None:
    from tests.factories.refunds import RefundFactory

    RefundFactory()
    client = api_client_for("agent")
    rows = client.get("/api/v1/refunds/", {"order": "59400123-A"}).json()["results"]
    assert [row["mirakl_id"] for row in rows] == [desk["refund"].mirakl_id]
    assert rows[0]["order"] == "59400123-A"


def test_sla_breaches_and_kpis(api_client_for, desk) -> None:
    client = api_client_for("account_manager")
    [breach] = client.get("/api/v1/sla/breaches/").json()["results"]
    assert breach["order"] == "59400123-A"
    assert breach["lateness_seconds"] > 0
    assert client.get("/api/v1/sla/breaches/", {"marketplace": "nope"}).json()["results"] == []
    [kpi] = client.get("/api/v1/sla/kpis/").json()
    assert kpi["marketplace"] == "pccomponentes"
    assert kpi["breaches_unanswered"] == 1
    assert kpi["open_incidents"] == 1


def test_session_auth_works_and_needs_csrf_for_writes(make_user, desk) -> None:
    user = make_user("agent")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/api/v1/incidents/").status_code == 200
    response = client.post(
        "/api/v1/threads/thread-1/replies/",
        {"recipients": "operator", "body": "x"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_openapi_schema_is_valid(tmp_path) -> None:
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml")
    )
    schema = (tmp_path / "schema.yml").read_text()
    for path in (
        "/api/v1/incidents/",
        "/api/v1/queue/",
        "/api/v1/queue/{id}/",
        "/api/v1/orders/{mirakl_id}/",
        "/api/v1/threads/{mirakl_id}/replies/",
        "/api/v1/threads/{mirakl_id}/no-reply/",
        "/api/v1/orders/{order_id}/threads/",
        "/api/v1/refunds/",
        "/api/v1/sla/breaches/",
        "/api/v1/sla/kpis/",
    ):
        assert f"  {path}:" in schema
    assert "tokenAuth" in schema


def test_docs_page_is_served_without_a_cdn(make_user) -> None:
    client = Client()
    client.force_login(make_user("agent"))
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()
    # Swagger UI's one inline <style> is allowed on this page only; scripts never inline.
    policy = page["Content-Security-Policy"]
    assert "script-src 'self';" in policy + ";"
    assert "'unsafe-inline'" in policy.split("style-src")[1].split(";")[0]
    assert "<script>" not in html
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "/api/schema/" in script.content.decode()


def test_docs_page_needs_a_login(db) -> None:
    response = Client().get("/api/docs/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --------------------------------------------------------------------------- no reply


def test_no_reply_marks_the_thread_and_audits_as_api(api_client_for, desk) -> None:
    from incidents.models import AuditEntry
    from messaging.models import ThreadNoReply

    client = api_client_for("agent")
    url = "/api/v1/threads/thread-1/no-reply/"

    # The incident is not resolved: the mark needs "confirm" (clock rule N1).
    unconfirmed = client.post(url, {"reason": "Solo da las gracias."}, format="json")
    assert unconfirmed.status_code == 400
    assert unconfirmed.json()["code"] == "unresolved_incident"
    assert not ThreadNoReply.objects.exists()

    first = client.post(url, {"reason": "  Solo da las gracias.  ", "confirm": True}, format="json")
    again = client.post(url, {"reason": "Otra vez", "confirm": True}, format="json")

    assert first.status_code == 201, first.content
    mark = ThreadNoReply.objects.get()
    assert (mark.thread, mark.marked_by.username, mark.reason) == (
        desk["thread"],
        "agent-user",
        "Solo da las gracias.",
    )
    assert mark.last_message_at == desk["message"].date_created
    assert first.json() == {
        "id": mark.pk,
        "thread": "thread-1",
        "marketplace": "pccomponentes",
        "reason": "Solo da las gracias.",
        "marked_by": "agent-user",
        "last_message_at": first.json()["last_message_at"],
        "at": first.json()["at"],
    }
    # The SLA clock reads the thread's marks: ours is there at once.
    desk["thread"].refresh_from_db()
    assert [m["user_type"] for m in desk["thread"].no_store_reply_needed] == ["SHOP"]
    entry = AuditEntry.objects.get(action=AuditEntry.Action.NO_REPLY)
    assert (entry.source, entry.actor.username, entry.order) == ("api", "agent-user", desk["order"])
    assert entry.detail.endswith(": Solo da las gracias.")
    # Already marked and nothing new since: the same mark, nothing written twice.
    assert again.status_code == 200
    assert again.json()["id"] == mark.pk
    assert ThreadNoReply.objects.count() == 1
    assert AuditEntry.objects.filter(action=AuditEntry.Action.NO_REPLY).count() == 1


def test_no_reply_marks_again_once_a_new_message_arrived(api_client_for, desk) -> None:
    from datetime import timedelta

    from messaging.models import ThreadNoReply
    from tests.factories.messaging import MessageFactory

    client = api_client_for("agent")
    url = "/api/v1/threads/thread-1/no-reply/"
    assert (
        client.post(url, {"reason": "Gracias", "confirm": True}, format="json").status_code == 201
    )
    MessageFactory(
        thread=desk["thread"],
        body="¡Gracias otra vez!",
        date_created=desk["message"].date_created + timedelta(minutes=5),
    )

    response = client.post(
        url, {"reason": "Vuelve a dar las gracias", "confirm": True}, format="json"
    )

    assert response.status_code == 201
    assert ThreadNoReply.objects.count() == 2
    assert response.json()["reason"] == "Vuelve a dar las gracias"


def test_no_reply_is_refused_when_the_shop_wrote_last(api_client_for, desk) -> None:
    from datetime import timedelta

    from django.utils.translation import gettext

    from incidents.models import AuditEntry
    from messaging.models import Party, ThreadNoReply
    from tests.factories.messaging import MessageFactory

    MessageFactory(
        thread=desk["thread"],
        author_type=Party.SHOP,
        body="Te lo enviamos hoy.",
        date_created=desk["message"].date_created + timedelta(minutes=5),
    )

    response = api_client_for("agent").post(
        "/api/v1/threads/thread-1/no-reply/", {"reason": "Nada más"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": gettext("Only a conversation whose last message is inbound can be marked."),
        "code": "refused",
    }
    assert not ThreadNoReply.objects.exists()
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.NO_REPLY).exists()


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 501}])
def test_no_reply_needs_a_reason(api_client_for, desk, body) -> None:
    from messaging.models import ThreadNoReply

    response = api_client_for("agent").post(
        "/api/v1/threads/thread-1/no-reply/", body, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["reason"]
    assert not ThreadNoReply.objects.exists()


def test_no_reply_thread_id_shared_by_two_marketplaces(api_client_for, desk) -> None:
    from messaging.models import ThreadNoReply
    from tests.factories.messaging import MessageFactory, ThreadFactory

    other = ThreadFactory(connection=MarketplaceConnectionFactory(code="mediamarkt"))
    other.mirakl_id = "thread-1"
    other.save(update_fields=["mirakl_id"])
    MessageFactory(thread=other)
    client = api_client_for("agent")
    url = "/api/v1/threads/thread-1/no-reply/"

    ambiguous = client.post(url, {"reason": "Gracias"}, format="json")
    picked = client.post(f"{url}?marketplace=mediamarkt", {"reason": "Gracias"}, format="json")
    unknown = client.post("/api/v1/threads/nope/no-reply/", {"reason": "Gracias"}, format="json")

    assert ambiguous.status_code == 400
    assert list(ambiguous.json()) == ["marketplace"]
    assert picked.status_code == 201
    assert picked.json()["marketplace"] == "mediamarkt"
    assert ThreadNoReply.objects.get().thread == other
    assert unknown.status_code == 404


# --------------------------------------------------------------------------- new thread

NEW_THREAD_URL = "/api/v1/orders/59400123-A/threads/"


@pytest.fixture
def messaging_reasons(desk) -> None:
    from tests.factories.core import MarketplaceReasonFactory

    connection = desk["connection"]
    MarketplaceReasonFactory(
        connection=connection, type="ORDER_MESSAGING", code="ORDER_DELIVERY", label="Entrega"
    )
    MarketplaceReasonFactory(
        connection=connection, type="ORDER_MESSAGING", code="ORDER_INVOICE", label="Factura"
    )
    # Not the shop's to use, and not a messaging reason: neither may start a thread.
    MarketplaceReasonFactory(
        connection=connection, type="ORDER_MESSAGING", code="OPERATOR_ONLY", is_shop_right=False
    )


def test_new_thread_goes_through_the_outbox(
    api_client_for, desk, messaging_reasons, django_capture_on_commit_callbacks
) -> None:
    from incidents.models import AuditEntry

    client = api_client_for("agent")
    key = str(uuid.uuid4())
    payload = {
        "recipients": "customer",
        "reason_code": "ORDER_DELIVERY",
        "body": "Hola Lucía, tu pedido sale hoy.",
    }
    with django_capture_on_commit_callbacks() as callbacks:
        first = client.post(NEW_THREAD_URL, payload, format="json", HTTP_IDEMPOTENCY_KEY=key)
    with django_capture_on_commit_callbacks() as repeat_callbacks:
        again = client.post(NEW_THREAD_URL, payload, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == 201, first.content
    outbound = OutboundMessage.objects.get()
    assert (outbound.kind, outbound.order, outbound.thread) == ("new_thread", desk["order"], None)
    assert (outbound.topic_type, outbound.topic_value) == ("REASON_CODE", "ORDER_DELIVERY")
    assert outbound.recipients == ["CUSTOMER"]
    assert outbound.body == "Hola Lucía, tu pedido sale hoy."
    assert outbound.created_by.username == "agent-user"
    assert str(outbound.idempotency_key) == key
    body = first.json()
    assert body["id"] == outbound.pk
    assert (body["kind"], body["state"], body["marketplace"], body["order"]) == (
        "new_thread",
        "queued",
        "pccomponentes",
        "59400123-A",
    )
    assert (body["topic_type"], body["topic_value"]) == ("REASON_CODE", "ORDER_DELIVERY")
    assert len(callbacks) == 1  # the delivery task, after commit
    entry = AuditEntry.objects.get(action=AuditEntry.Action.NEW_THREAD)
    assert (entry.actor.username, entry.order, entry.source) == (
        "agent-user",
        desk["order"],
        "api",
    )
    # A repeat: the same message, nothing queued again.
    assert again.status_code == 200
    assert again.json()["id"] == outbound.pk
    assert repeat_callbacks == []
    assert OutboundMessage.objects.count() == 1
    assert AuditEntry.objects.filter(action=AuditEntry.Action.NEW_THREAD).count() == 1


def test_new_thread_with_a_subject_of_its_own(api_client_for, desk, messaging_reasons) -> None:
    response = api_client_for("agent").post(
        NEW_THREAD_URL,
        {"recipients": "both", "subject": " Recogida del artículo ", "body": "Pasan mañana."},
        format="json",
    )
    assert response.status_code == 201, response.content
    outbound = OutboundMessage.objects.get()
    assert (outbound.topic_type, outbound.topic_value) == ("FREE_TEXT", "Recogida del artículo")
    assert outbound.recipients == ["CUSTOMER", "OPERATOR"]


@pytest.mark.parametrize("code", ["NOPE", "OPERATOR_ONLY", "INC_SOLVED_DELIVERED", "17"])
def test_new_thread_refuses_a_reason_the_marketplace_does_not_offer(
    api_client_for, desk, messaging_reasons, code
) -> None:
    from django.utils.translation import gettext

    response = api_client_for("agent").post(
        NEW_THREAD_URL,
        {"recipients": "operator", "reason_code": code, "body": "Hola"},
        format="json",
    )
    assert response.status_code == 400
    expected = gettext(
        "Not a reason this marketplace offers for a new conversation "
        "(ORDER_MESSAGING). Use one of: %(codes)s."
    ) % {"codes": "ORDER_DELIVERY, ORDER_INVOICE"}
    assert response.json() == {"reason_code": [expected]}
    assert not OutboundMessage.objects.exists()


def test_new_thread_without_synced_reasons_asks_for_a_subject(api_client_for, desk) -> None:
    from django.utils.translation import gettext

    response = api_client_for("agent").post(
        NEW_THREAD_URL,
        {"recipients": "operator", "reason_code": "ORDER_DELIVERY", "body": "Hola"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "reason_code": [
            gettext(
                "This marketplace has no reasons for a new conversation "
                "(ORDER_MESSAGING): write a subject instead."
            )
        ]
    }


@pytest.mark.parametrize(
    ("body", "headers", "field"),
    [
        ({"recipients": "operator", "body": "Hola"}, {}, "subject"),
        ({"recipients": "operator", "subject": "  ", "body": "Hola"}, {}, "subject"),
        ({"recipients": "everyone", "subject": "Entrega", "body": "Hola"}, {}, "recipients"),
        ({"recipients": "operator", "subject": "Entrega", "body": " "}, {}, "body"),
        ({"recipients": "operator", "subject": "x" * 256, "body": "Hola"}, {}, "subject"),
        ({"recipients": "operator", "reason_code": "x" * 65, "body": "Hola"}, {}, "reason_code"),
        (
            {"recipients": "operator", "subject": "Entrega", "body": "Hola"},
            {"HTTP_IDEMPOTENCY_KEY": "nope"},
            "Idempotency-Key",
        ),
    ],
)
def test_new_thread_is_validated(api_client_for, desk, body, headers, field) -> None:
    response = api_client_for("agent").post(NEW_THREAD_URL, body, format="json", **headers)
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not OutboundMessage.objects.exists()


def test_new_thread_key_of_another_message_is_refused(api_client_for, desk) -> None:
    client = api_client_for("agent")
    key = str(uuid.uuid4())
    reply = client.post(
        "/api/v1/threads/thread-1/replies/",
        {"recipients": "operator", "body": "Lo revisamos."},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert reply.status_code == 201

    response = client.post(
        NEW_THREAD_URL,
        {"recipients": "operator", "subject": "Entrega", "body": "Hola"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert response.status_code == 400
    assert list(response.json()) == ["Idempotency-Key"]
    assert OutboundMessage.objects.count() == 1


def test_new_thread_order_id_shared_by_two_marketplaces(api_client_for, desk) -> None:
    from tests.factories.core import MarketplaceReasonFactory

    other = MarketplaceConnectionFactory(code="mediamarkt")
    order = OrderFactory(connection=other, mirakl_id="59400123-A")
    MarketplaceReasonFactory(connection=other, type="ORDER_MESSAGING", code="MM_DELIVERY")
    client = api_client_for("agent")
    payload = {"recipients": "operator", "reason_code": "MM_DELIVERY", "body": "Hola"}

    ambiguous = client.post(NEW_THREAD_URL, payload, format="json")
    # The reasons are those of the marketplace named: PcComponentes has no MM_DELIVERY.
    wrong = client.post(f"{NEW_THREAD_URL}?marketplace=pccomponentes", payload, format="json")
    picked = client.post(f"{NEW_THREAD_URL}?marketplace=mediamarkt", payload, format="json")
    unknown = client.post("/api/v1/orders/nope-1/threads/", payload, format="json")

    assert ambiguous.status_code == 400
    assert list(ambiguous.json()) == ["marketplace"]
    assert wrong.status_code == 400
    assert list(wrong.json()) == ["reason_code"]
    assert picked.status_code == 201, picked.content
    assert OutboundMessage.objects.get().order == order
    assert picked.json()["marketplace"] == "mediamarkt"
    assert unknown.status_code == 404
