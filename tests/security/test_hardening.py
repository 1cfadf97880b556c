"""The smaller hardening items: links from Mirakl data, CSV cells, webhook markup,
API keys with control characters, a connection moved to another host, API caching."""

from __future__ import annotations

import csv
import io
import json
import logging
from typing import Any
from urllib.parse import quote

import pytest
import responses
from django.test import Client

from core.csv_safety import csv_cell
from core.forms import MarketplaceConnectionForm
from core.models import MarketplaceConnection
from core.roles import Role
from core.templatetags.incidesk import http_url
from mirakl.client import MiraklClient
from mirakl.errors import MiraklError
from tests.api import conftest as api_fixtures

pytestmark = pytest.mark.django_db

desk = api_fixtures.desk
make_user = api_fixtures.make_user
api_client_for = api_fixtures.api_client_for

GOOD_KEY = "7f3c2a10-5b1e-4c8d-9a6f-0e2d4b6c8a1f"


def _browser(make_user, role: str) -> Client:
    client = Client()
    client.force_login(make_user(role))
    return client


# --------------------------------------------------------------------------- links


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("https://track.example.com/ES123?lang=es", True),
        ("http://seguimiento.example.es/123", True),
        ("javascript:alert(document.cookie)", False),
        ("JaVaScRiPt:alert(1)", False),
        (" javascript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("java\nscript:alert(1)", False),
        ("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", False),
        ("vbscript:msgbox(1)", False),
        ("//evil.example/x", False),
        ("https:/evil", False),
        ("ftp://files.example/x", False),
    ],
)
def test_only_http_links_are_made_from_a_tracking_url(make_user, desk, url, linked) -> None:
    order = desk["order"]
    order.shipping_tracking_url = url
    order.shipping_tracking = "ES123"
    order.save(update_fields=["shipping_tracking_url", "shipping_tracking"])
    html = _browser(make_user, Role.AGENT).get(f"/incidents/{desk['incident'].pk}/").content
    section = html.decode().split('id="shipping"', 1)[1].split("</section>", 1)[0]
    assert ("<a href=" in section) == linked
    assert "ES123" in section  # the tracking number is shown either way
    assert http_url(url) == (url if linked else "")


# --------------------------------------------------------------------------- CSV


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("https://evil","x")', '\'=HYPERLINK("https://evil","x")'),
        ("+34 600 000 000", "'+34 600 000 000"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("-1.5", "-1.5"),
        (-3, "-3"),
        ("59400123-A", "59400123-A"),
        (None, ""),
    ],
)
def test_csv_cells_are_never_formulas(value, cell) -> None:
    assert csv_cell(value) == cell


def _rows(response) -> list[list[str]]:
    body = b"".join(response) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode())))


def test_sla_csvs_neutralise_formula_cells(make_user, desk) -> None:
    connection = desk["connection"]
    connection.name = '=HYPERLINK("https://evil.example","Abrir")'
    connection.save(update_fields=["name"])
    order = desk["order"]
    order.mirakl_id = "@SUM(1+1)"
    order.save(update_fields=["mirakl_id"])
    client = _browser(make_user, Role.ACCOUNT_MANAGER)

    breaches = _rows(client.get("/sla/breaches.csv"))
    kpis = _rows(client.get("/sla/kpis.csv"))

    assert breaches[1][0] == "'" + connection.name
    assert breaches[1][3] == "'@SUM(1+1)"
    assert kpis[1][0] == "'" + connection.name
    for row in breaches[1:] + kpis[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), row
            assert not cell.startswith("-") or cell.lstrip("-").replace(".", "").isdigit()


def test_the_audit_export_goes_through_the_same_helper(make_user, desk) -> None:
    from incidents.audit import audit_log
    from incidents.models import AuditEntry

    audit_log(
        action=AuditEntry.Action.NOTE,
        source=AuditEntry.Source.USER,
        actor=None,
        detail="=cmd|' /C calc'!A0",
        order=desk["order"],
    )
    rows = _rows(_browser(make_user, Role.ACCOUNT_MANAGER).get("/audit/export.csv"))
    details = [row[9] for row in rows[1:]]
    assert "'=cmd|' /C calc'!A0" in details


# --------------------------------------------------------------------------- webhooks


HOSTILE_NAME = "<https://evil.example|Abrir> <!channel> *urgente* [x](https://evil.example)"


@pytest.fixture
def hostile_item(desk):
    from tests.factories.sla import SlaItemFactory

    connection = desk["connection"]
    connection.name = HOSTILE_NAME
    connection.save(update_fields=["name"])
    order = desk["order"]
    order.mirakl_id = "59400123-A<!here>"
    order.save(update_fields=["mirakl_id"])
    return SlaItemFactory(incident=desk["incident"], connection=connection)


def test_slack_text_escapes_links_and_mentions(hostile_item, settings) -> None:
    from sla.alerts import alert_webhook_text

    settings.LANGUAGE_CODE = "en"
    text = alert_webhook_text(
        hostile_item, "breached", target="https://hooks.slack.com/services/T0/B0/X"
    )
    assert "<" not in text and ">" not in text  # no link, no mention, no <!here>
    assert "&lt;https://evil.example|Abrir&gt; &lt;!channel&gt;" in text
    assert "59400123-A&lt;!here&gt;" in text
    assert text.endswith(f"/incidents/{hostile_item.incident_id}/")


def test_teams_text_escapes_markdown_and_html(hostile_item, settings) -> None:
    from sla.alerts import alert_webhook_text

    settings.LANGUAGE_CODE = "en"
    text = alert_webhook_text(
        hostile_item, "nearing", target="https://tienda.webhook.office.com/webhookb2/x"
    )
    assert "<" not in text.split(" http")[0]
    assert "\\[x\\]\\(https://evil.example\\)" in text  # no Markdown link
    assert "\\*urgente\\*" in text
    assert "&lt;\\!channel&gt;" in text


def test_the_webhook_post_sends_the_escaped_text(hostile_item, settings) -> None:
    from core.outbox.engine import outbox_deliver
    from core.outbox.kinds import OutboxKind
    from sla.models import AlertDelivery
    from tests.factories.core import OutboxEntryFactory

    settings.LANGUAGE_CODE = "en"
    hook = "https://hooks.slack.com/services/T0/B0/X"
    delivery = AlertDelivery.objects.create(
        item=hostile_item,
        state="breached",
        channel=AlertDelivery.Channel.WEBHOOK,
        target=hook,
        delivery=OutboxEntryFactory(kind=OutboxKind.SLA_WEBHOOK),
    )
    with responses.RequestsMock(assert_all_requests_are_fired=True) as hooks:
        hooks.post(hook, json={"ok": True})
        assert outbox_deliver(entry_id=delivery.delivery_id).outcome == "sent"
        sent = json.loads(hooks.calls[0].request.body)["text"]
    assert "<!channel>" not in sent and "&lt;!channel&gt;" in sent


# --------------------------------------------------------------------------- API keys

BAD_KEYS = ["line\nbreak-secret-123", "tab\tsecret-123", "nul\x00secret-123", "space secret-123"]


def _connection_form(**data: Any) -> dict[str, Any]:
    return {
        "code": "mediamarkt",
        "name": "MediaMarkt",
        "base_url": "https://mediamarkt-prod.mirakl.net",
        "api_key": GOOD_KEY,
        "shop_id": "",
        "sla_policy": MarketplaceConnection.Policy.MEDIAMARKT,
        "is_active": "on",
        **data,
    }


@pytest.mark.parametrize("key", BAD_KEYS)
def test_the_admin_form_refuses_a_key_with_control_characters(key) -> None:
    form = MarketplaceConnectionForm(data=_connection_form(api_key=key))
    assert not form.is_valid()
    assert "api_key" in form.errors
    assert "secret-123" not in json.dumps(form.errors)


@pytest.mark.parametrize("key", BAD_KEYS)
def test_the_api_refuses_a_key_with_control_characters(api_client_for, desk, key) -> None:
    client = api_client_for(Role.ADMIN)
    created = client.post("/api/v1/marketplaces/", _connection_form(api_key=key), format="json")
    changed = client.patch(
        f"/api/v1/marketplaces/{desk['connection'].pk}/", {"api_key": key}, format="json"
    )
    for response in (created, changed):
        assert response.status_code == 400
        assert "api_key" in response.json()
        assert "secret-123" not in response.content.decode()
    assert not MarketplaceConnection.objects.filter(code="mediamarkt").exists()


def test_the_command_refuses_a_key_with_control_characters() -> None:
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError) as error:
        call_command(
            "add_marketplace",
            "--code=mediamarkt",
            "--name=MediaMarkt",
            "--base-url=https://mediamarkt-prod.mirakl.net",
            "--api-key=line\nbreak-secret-123",
        )
    assert "api_key" in str(error.value)
    assert "secret-123" not in str(error.value)


@pytest.mark.parametrize("key", BAD_KEYS)
def test_the_client_sends_nothing_with_such_a_key_and_never_repeats_it(key) -> None:
    from mirakl.errors import MiraklAuthError

    session = _RefusingSession("must not be called")
    client = MiraklClient(base_url="https://x.mirakl.net", api_key=key, session=session)
    with pytest.raises(MiraklAuthError) as error:
        client.list_reasons()
    assert "secret-123" not in str(error.value)
    assert "enter it again" in str(error.value)


def test_a_stored_key_with_a_line_break_never_reaches_sync_records_or_logs(
    desk, make_user, caplog
) -> None:
    """A key saved before keys were checked: the sync fails without quoting it."""
    from core.sync.models import SyncCursor, SyncRun
    from core.sync.runner import marketplaces_sync

    secret = "line\nbreak-secret-123"
    MarketplaceConnection.objects.filter(pk=desk["connection"].pk).update(api_key=secret)
    with caplog.at_level(logging.INFO):
        outcome = marketplaces_sync()
    assert "secret-123" not in str(outcome[desk["connection"].code])
    assert "secret-123" not in caplog.text
    # The sync says what is wrong with the key (the overview shows it).
    errors = list(SyncCursor.objects.values_list("last_error", flat=True))
    assert errors and all("enter it again" in error for error in errors)
    stored = " ".join(
        [*SyncCursor.objects.values_list("last_error", flat=True)]
        + [str(run.__dict__) for run in SyncRun.objects.all()]
    )
    assert "secret-123" not in stored
    overview = _browser(make_user, Role.AGENT).get("/").content.decode()
    assert "secret-123" not in overview


class _RefusingSession:
    """A transport that refuses the request the way http.client does: quoting it."""

    def __init__(self, message: str) -> None:
        self.message = message

    def request(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError(self.message)

    def close(self) -> None:
        pass


#: A key with the characters each quoting escapes differently (all visible ASCII).
QUOTY_KEY = "sk-3f\"a\\b'c/d+e%f"


@pytest.mark.parametrize(
    "form",
    [
        QUOTY_KEY,
        repr(QUOTY_KEY),
        json.dumps(QUOTY_KEY),
        repr(QUOTY_KEY.encode()),
        quote(QUOTY_KEY, safe=""),
        quote(QUOTY_KEY),
    ],
    ids=["raw", "repr", "json", "bytes", "url", "url-path"],
)
def test_the_client_scrubs_every_quoted_form_of_the_key(form) -> None:
    client = MiraklClient(
        base_url="https://x.mirakl.net",
        api_key=QUOTY_KEY,
        session=_RefusingSession(f"Invalid header value {form}"),
    )
    with pytest.raises(MiraklError) as error:
        client.list_reasons()
    message = str(error.value)
    assert "[REDACTED]" in message
    assert "3f" not in message  # nothing of the key is left
    assert error.value.__cause__ is None


# --------------------------------------------------------------------------- moving host


def test_the_admin_form_asks_for_the_key_again_when_the_host_changes(desk) -> None:
    connection = desk["connection"]
    old_key = connection.api_key
    data = _connection_form(
        code=connection.code, name=connection.name, api_key="", base_url="https://evil.example"
    )
    form = MarketplaceConnectionForm(data=data, instance=connection)
    assert not form.is_valid()
    assert "api_key" in form.errors
    # The same host (another path, a trailing slash) keeps the stored key.
    same = _connection_form(
        code=connection.code, name=connection.name, api_key="", base_url=connection.base_url + "/"
    )
    form = MarketplaceConnectionForm(data=same, instance=connection)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["api_key"] == old_key
    # With the key typed again, the move is accepted.
    moved = {**data, "api_key": GOOD_KEY}
    form = MarketplaceConnectionForm(data=moved, instance=connection)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["api_key"] == GOOD_KEY


def test_the_api_asks_for_the_key_again_when_the_host_changes(api_client_for, desk) -> None:
    connection = desk["connection"]
    url = f"/api/v1/marketplaces/{connection.pk}/"
    client = api_client_for(Role.ADMIN)
    refused = client.patch(url, {"base_url": "https://evil.example"}, format="json")
    assert refused.status_code == 400
    assert "api_key" in refused.json()
    connection.refresh_from_db()
    assert connection.base_url != "https://evil.example"
    kept = client.patch(url, {"name": "PcComponentes ES"}, format="json")
    assert kept.status_code == 200
    moved = client.patch(
        url, {"base_url": "https://new-prod.mirakl.net", "api_key": GOOD_KEY}, format="json"
    )
    assert moved.status_code == 200
    connection.refresh_from_db()
    assert (connection.base_url, connection.api_key) == ("https://new-prod.mirakl.net", GOOD_KEY)


# --------------------------------------------------------------------------- API caching


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        (Role.AGENT, "/api/v1/incidents/", 200),
        (Role.AGENT, "/api/v1/orders/59400123-A/", 200),
        (Role.AGENT, "/api/v1/orders/nope/", 404),
        (Role.AGENT, "/api/v1/orders/?page_size=x", 400),
        (Role.AGENT, "/api/v1/sla/kpis/", 403),
        ("anonymous", "/api/v1/incidents/", 401),
        (Role.AGENT, "/api/schema/", 200),
    ],
)
def test_api_answers_are_never_cached(api_client_for, desk, role, path, status) -> None:
    response = api_client_for(role).get(path)
    assert response.status_code == status
    assert "no-store" in response["Cache-Control"]
