"""The refund pages: the incident page's panel, full and partial refunds, approvals."""

from __future__ import annotations

import html
import re
import uuid
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from refunds.models import RefundLimit, RefundRequest
from refunds.rules import RefundValidationError
from refunds.services import refund_request_create
from tests.factories.core import (
    MarketplaceReasonFactory,
    OrderFactory,
    OrderLineFactory,
    UserFactory,
)
from tests.factories.incidents import IncidentFactory

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"


@pytest.fixture
def incident():
    """An open incident on a two-line order, each line with its VAT; REFUND reasons synced."""
    order = OrderFactory(
        state="RECEIVED",
        price=Decimal("129.80"),
        shipping_price=Decimal("7.90"),
        total_price=Decimal("137.70"),
    )
    line = OrderLineFactory(
        order=order,
        mirakl_id=f"{order.mirakl_id}-1",
        index=1,
        state="INCIDENT_OPEN",
        quantity=2,
        price=Decimal("99.90"),
        shipping_price=Decimal("4.95"),
        total_price=Decimal("104.85"),
        taxes=[{"code": "TAXDEFAULT", "amount": "17.34"}],
        shipping_taxes=[{"code": "TAXDEFAULT", "amount": "0.86"}],
    )
    OrderLineFactory(
        order=order,
        mirakl_id=f"{order.mirakl_id}-2",
        index=2,
        state="RECEIVED",
        product_title="Ratón inalámbrico",
        quantity=1,
        price=Decimal("29.90"),
        shipping_price=Decimal("2.95"),
        total_price=Decimal("32.85"),
        taxes=[{"code": "TAXDEFAULT", "amount": "5.19"}],
        shipping_taxes=[{"code": "TAXDEFAULT", "amount": "0.51"}],
    )
    for code, label in (("14", "Artículo defectuoso o dañado"), ("19", "Acuerdo con el cliente")):
        MarketplaceReasonFactory(connection=order.connection, type="REFUND", code=code, label=label)
    MarketplaceReasonFactory(
        connection=order.connection, type="INCIDENT_CLOSE", code="INC_SOLVED", label="Resuelta"
    )
    return IncidentFactory(line=line, order=order, connection=order.connection)


def _client(user, language: str = "en") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = language
    return client


@pytest.fixture
def agent():
    return UserFactory(username="marta", first_name="Marta", last_name="Ruiz", role="agent")


@pytest.fixture
def agent_client(agent) -> Client:
    """The agent reading the English source strings (the messages tested exactly)."""
    return _client(agent)


@pytest.fixture
def es_client(agent) -> Client:
    """The agent in Spanish: amounts as ``1.234,50 €``."""
    return _client(agent, language="es")


def _lines(incident):
    return list(incident.order.lines.order_by("index"))


def _page(client: Client, incident) -> str:
    response = client.get(reverse("desk:incident", args=[incident.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _label_of(page: str, name: str) -> str:
    """The ``<label>`` holding the input ``name`` (its errors are rendered inside it)."""
    for label in re.findall(r"<label[^>]*>(?:(?!</label>).)*</label>", page, flags=re.S):
        if f'name="{name}"' in label:
            return label
    raise AssertionError(f"no label holds the input {name}")


def _partial_data(incident, key: str | None = None, **values: str) -> dict[str, str]:
    """What the partial form posts: ``values`` by field name without the line prefix of
    the incident's line (``amount="12,50"``), the other line left empty."""
    line = incident.line
    data = {"reason_code": "14", "idempotency_key": key or str(uuid.uuid4())}
    for name, value in values.items():
        data[f"l{line.pk}-{name.replace('__', '-')}"] = value
    return data


def _review(client: Client, incident, data: dict[str, str]) -> str:
    response = client.post(reverse("refunds:partial", args=[incident.pk]), data)
    assert response.status_code == 200
    return response.content.decode()


def _confirm_data(page: str) -> dict[str, str]:
    """The hidden fields of the confirmation step, as the browser would post them."""
    form = page[page.index('<div class="refund-form"') :]
    return {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
        if name != "csrfmiddlewaretoken"
    }


# ---------------------------------------------------------------------------- panel


def test_panel_shows_what_is_left_per_line_and_the_buttons(agent_client, incident) -> None:
    page = _page(agent_client, incident)
    panel = page[page.index('id="refunds"') :]
    assert 'data-refund-action="full"' in panel
    assert 'data-refund-action="partial"' in panel
    first, second = _lines(incident)
    assert f'data-line="{first.pk}"' in panel and f'data-line="{second.pk}"' in panel
    assert "does not: the incident still has to be marked resolved" in panel
    assert "data-pending" not in panel.split(">", 1)[0]
    assert "every 3s" not in panel  # nothing pending: no polling


def test_panel_amounts_are_in_euros_in_spanish(es_client, incident) -> None:
    panel = _page(es_client, incident).split('id="refunds"', 1)[1]
    left = re.findall(r"<td class=\"num\" data-left>(.*?)</td>", panel, flags=re.S)
    assert f"99,90{NBSP}€" in left[0] and f"4,95{NBSP}€" in left[0]
    assert f"29,90{NBSP}€" in left[1] and f"2,95{NBSP}€" in left[1]


def test_account_manager_sees_the_panel_without_buttons_and_gets_403(incident) -> None:
    manager = _client(UserFactory(role="account_manager"))
    panel = _page(manager, incident).split('id="refunds"', 1)[1]
    assert "data-refund-action" not in panel
    for name in ("refunds:full", "refunds:partial"):
        url = reverse(name, args=[incident.pk])
        assert manager.get(url).status_code == 403
        assert manager.post(url, {"reason_code": "14"}).status_code == 403
    assert manager.get(reverse("refunds:approvals")).status_code == 403
    assert RefundRequest.objects.count() == 0


def test_account_manager_cannot_approve_or_reject(incident, awaiting) -> None:
    manager = _client(UserFactory(role="account_manager"))
    for name in ("refunds:approve", "refunds:reject"):
        response = manager.post(reverse(name, args=[awaiting.pk]), {"origin": "panel"})
        assert response.status_code == 403
    awaiting.refresh_from_db()
    assert awaiting.state == RefundRequest.State.AWAITING_APPROVAL


def test_refund_pages_need_a_login(client, incident) -> None:
    response = client.get(reverse("refunds:partial", args=[incident.pk]))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


# ---------------------------------------------------------------------------- full refund


def test_full_refund_form_offers_only_the_marketplace_refund_reasons(agent_client, incident):
    page = agent_client.get(reverse("refunds:full", args=[incident.pk])).content.decode()
    select = re.search(r'<select name="reason_code".*?</select>', page, flags=re.S).group(0)
    assert re.findall(r'<option value="([^"]*)"', select) == ["", "14", "19"]
    assert "closes the incident" in page
    assert 'name="idempotency_key"' in page


def test_full_refund_review_shows_every_line_taxes_shipping_and_the_exact_total(
    es_client, incident
) -> None:
    data = {"reason_code": "19", "idempotency_key": str(uuid.uuid4())}
    page = es_client.post(reverse("refunds:full", args=[incident.pk]), data).content.decode()
    summary = page[page.index("data-summary") :]
    for amount in ("99,90", "4,95", "17,34", "0,86", "29,90", "2,95", "5,19", "0,51"):
        assert f"{amount}{NBSP}€" in summary
    # Amounts are tax included: the total is products plus shipping.
    assert f"data-refund-total>137,70{NBSP}€<" in summary
    assert "Acuerdo con el cliente" in page
    assert "data-confirm" in page
    assert RefundRequest.objects.count() == 0  # nothing before the confirmation


def test_full_refund_confirmed_twice_creates_one_request(
    agent_client, incident, django_capture_on_commit_callbacks
) -> None:
    key = str(uuid.uuid4())
    url = reverse("refunds:full", args=[incident.pk])
    review = agent_client.post(url, {"reason_code": "19", "idempotency_key": key})
    confirm = _confirm_data(review.content.decode())
    assert confirm["idempotency_key"] == key and confirm["expected_total"] == "137.70"

    with django_capture_on_commit_callbacks() as callbacks:
        first = agent_client.post(url, confirm)
        again = agent_client.post(url, confirm)

    assert first.status_code == again.status_code == 302
    assert first["Location"].endswith(f"/incidents/{incident.pk}/#refunds")
    refund = RefundRequest.objects.get()
    assert refund.kind == RefundRequest.Kind.FULL
    assert refund.total == Decimal("137.70")
    assert len(callbacks) == 1  # one delivery queued
    page = _page(agent_client, incident)
    assert "nothing was sent twice" in page
    assert f'data-request="{refund.pk}"' in page


def test_full_refund_is_reviewed_again_when_the_total_changed(agent_client, incident) -> None:
    url = reverse("refunds:full", args=[incident.pk])
    data = {
        "reason_code": "19",
        "idempotency_key": str(uuid.uuid4()),
        "confirmed": "True",
        "expected_total": "100.00",
    }
    page = agent_client.post(url, data).content.decode()
    assert "data-changed" in page
    assert RefundRequest.objects.count() == 0


def test_full_refund_without_reason_says_so_next_to_the_select(agent_client, incident) -> None:
    data = {"reason_code": "", "idempotency_key": str(uuid.uuid4())}
    page = agent_client.post(reverse("refunds:full", args=[incident.pk]), data).content.decode()
    assert "This field is required." in page
    assert "data-confirm" not in page


# ---------------------------------------------------------------------------- partial refund


def test_partial_form_has_inputs_per_line_and_per_tax(agent_client, incident) -> None:
    page = agent_client.get(reverse("refunds:partial", args=[incident.pk])).content.decode()
    for line in _lines(incident):
        for name in ("quantity", "amount", "tax-0", "shipping_amount", "shipping_tax-0"):
            assert f'name="l{line.pk}-{name}"' in page
    assert "Tax TAXDEFAULT" in _label_of(page, f"l{incident.line.pk}-tax-0")
    assert "does not close the incident" in page
    assert "marked resolved" in page
    assert re.search(r'name="idempotency_key" value="[0-9a-f-]{36}"', page)


def test_partial_review_shows_the_total_then_confirm_creates_it(
    es_client, incident, django_capture_on_commit_callbacks
) -> None:
    agent_client = es_client
    key = str(uuid.uuid4())
    page = _review(
        agent_client,
        incident,
        _partial_data(
            incident, key, quantity="1", amount="49,95", tax__0="8,67", shipping_amount="2"
        ),
    )
    assert f"data-refund-total>51,95{NBSP}€<" in page
    assert f"8,67{NBSP}€" in page
    assert RefundRequest.objects.count() == 0
    confirm = _confirm_data(page)
    assert confirm["idempotency_key"] == key
    assert confirm["confirmed"] in ("on", "True")

    with django_capture_on_commit_callbacks() as callbacks:
        response = agent_client.post(reverse("refunds:partial", args=[incident.pk]), confirm)
    assert response.status_code == 302
    refund = RefundRequest.objects.get()
    assert (refund.kind, refund.total, refund.state) == ("partial", Decimal("51.95"), "queued")
    line = refund.lines.get()
    assert (line.line_id, line.quantity, line.amount, line.shipping_amount) == (
        incident.line.pk,
        1,
        Decimal("49.95"),
        Decimal("2.00"),
    )
    assert line.taxes == {"TAXDEFAULT": "8.67"}
    assert len(callbacks) == 1
    panel = _page(agent_client, incident).split('id="refunds"', 1)[1]
    assert 'data-refund-state="queued"' in panel
    assert "every 3s" in panel  # polls until Mirakl answered


def test_review_says_when_the_refund_will_wait_for_approval(agent_client, agent, incident) -> None:
    RefundLimit.objects.create(user=agent, limit=Decimal("50.00"))

    under = _review(agent_client, incident, _partial_data(incident, quantity="1", amount="30"))
    assert "data-refund-total>" in under and "data-needs-approval" not in under
    alone = _review(agent_client, incident, _partial_data(incident, quantity="1", amount="60"))
    assert "data-needs-approval" in alone
    assert "Above your limit of 50.00" in html.unescape(alone).replace(NBSP, " ")

    refund_request_create(
        order=incident.order,
        lines=_inputs(incident, "30.00"),
        reason_code="14",
        actor=agent,
        idempotency_key=str(uuid.uuid4()),
        kind=RefundRequest.Kind.PARTIAL,
        incident=incident,
    )
    together = _review(agent_client, incident, _partial_data(incident, quantity="1", amount="25"))
    text = html.unescape(together).replace(NBSP, " ")
    assert "data-needs-approval" in together
    assert (
        "With the 30.00 € you have already asked to refund on this order, this is above your "
        "limit of 50.00 €: a second person will have to approve it before it is sent."
    ) in text

    confirm = _confirm_data(together)
    response = agent_client.post(reverse("refunds:partial", args=[incident.pk]), confirm)
    assert response.status_code == 302
    latest = RefundRequest.objects.latest("pk")
    assert (latest.total, latest.state) == (Decimal("25.00"), "awaiting_approval")


def test_partial_double_submit_with_the_same_key_creates_one_request(
    agent_client, incident, django_capture_on_commit_callbacks
) -> None:
    confirm = _confirm_data(_review(agent_client, incident, _partial_data(incident, amount="10")))
    url = reverse("refunds:partial", args=[incident.pk])
    with django_capture_on_commit_callbacks():
        responses = [agent_client.post(url, confirm, HTTP_HX_REQUEST="true") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert all(r["HX-Redirect"].endswith("#refunds") for r in responses)
    assert RefundRequest.objects.count() == 1


def test_partial_amount_over_what_is_left_shows_the_service_message_at_the_field(
    agent_client, incident
) -> None:
    data = _partial_data(incident, amount="120.00")
    data.update(confirmed="True", expected_total="120.00")
    page = agent_client.post(reverse("refunds:partial", args=[incident.pk]), data).content.decode()
    label = _label_of(page, f"l{incident.line.pk}-amount")
    assert "Only 99.90 EUR left to refund on this line." in label
    assert RefundRequest.objects.count() == 0


def test_partial_review_shows_the_error_before_the_summary(agent_client, incident) -> None:
    data = _partial_data(incident, amount="120.00")
    page = agent_client.post(reverse("refunds:partial", args=[incident.pk]), data).content.decode()
    label = _label_of(page, f"l{incident.line.pk}-amount")
    assert "Only 99.90 EUR left to refund on this line." in label
    assert "data-confirm" not in page  # no confirm step for a refund that cannot be made
    assert RefundRequest.objects.count() == 0


def test_partial_tax_over_what_is_left_is_shown_at_that_tax(agent_client, incident) -> None:
    data = _partial_data(incident, amount="10", tax__0="20", shipping_tax__0="1")
    data.update(confirmed="True", expected_total="10.00")
    page = agent_client.post(reverse("refunds:partial", args=[incident.pk]), data).content.decode()
    pk = incident.line.pk
    assert "Only 17.34 EUR of tax TAXDEFAULT left to refund on this line." in _label_of(
        page, f"l{pk}-tax-0"
    )
    assert "Only 0.86 EUR of shipping tax TAXDEFAULT left to refund on this line." in _label_of(
        page, f"l{pk}-shipping_tax-0"
    )
    assert "left to refund" not in _label_of(page, f"l{pk}-amount")


def test_partial_errors_in_spanish_are_the_services_own(incident, agent) -> None:
    client = _client(agent, language="es")
    data = _partial_data(incident, amount="120,00", shipping_amount="9,00")
    data.update(confirmed="True", expected_total="129.00")
    page = html.unescape(
        client.post(reverse("refunds:partial", args=[incident.pk]), data).content.decode()
    )
    from refunds.rules import RefundLineInput

    item = RefundLineInput(
        line_id=incident.line.pk,
        quantity=0,
        amount=Decimal("120.00"),
        shipping_amount=Decimal("9.00"),
    )
    with translation.override("es"), pytest.raises(RefundValidationError) as raised:
        refund_request_create(
            order=incident.order,
            lines=[item],
            reason_code="14",
            actor=agent,
            idempotency_key="check",
            kind=RefundRequest.Kind.PARTIAL,
        )
    pk = incident.line.pk
    assert raised.value.errors[(pk, "amount")][0] in _label_of(page, f"l{pk}-amount")
    assert raised.value.errors[(pk, "shipping_amount")][0] in _label_of(
        page, f"l{pk}-shipping_amount"
    )


def test_partial_amount_with_three_decimals_is_refused_by_the_form(agent_client, incident):
    page = _review(agent_client, incident, _partial_data(incident, amount="1.234"))
    assert "no more than 2 decimal places" in _label_of(page, f"l{incident.line.pk}-amount")
    assert "data-confirm" not in page


def test_partial_with_nothing_entered_asks_for_an_amount(agent_client, incident) -> None:
    page = _review(agent_client, incident, _partial_data(incident))
    assert "Enter what to refund on at least one line." in page
    assert "data-confirm" not in page


def test_htmx_review_answers_the_form_fragment_only(agent_client, incident) -> None:
    response = agent_client.post(
        reverse("refunds:partial", args=[incident.pk]),
        _partial_data(incident, amount="10"),
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div class="refund-form" id="refund-form">')
    assert "<html" not in body and "data-confirm" in body


def test_partial_change_goes_back_to_the_inputs_with_what_was_typed(agent_client, incident):
    confirm = _confirm_data(_review(agent_client, incident, _partial_data(incident, amount="10")))
    page = _review(agent_client, incident, {**confirm, "edit": "1"})
    assert "data-review" in page and "data-confirm" not in page
    assert 'value="10"' in _label_of(page, f"l{incident.line.pk}-amount")
    assert f'value="{confirm["idempotency_key"]}"' in page


# ---------------------------------------------------------------------------- approval


@pytest.fixture
def awaiting(incident, agent):
    """A partial refund of 50 EUR by the agent, above their 20 EUR limit."""
    RefundLimit.objects.create(user=agent, limit=Decimal("20.00"))
    refund, _ = refund_request_create(
        order=incident.order,
        lines=_inputs(incident, "50.00"),
        reason_code="14",
        actor=agent,
        idempotency_key=str(uuid.uuid4()),
        kind=RefundRequest.Kind.PARTIAL,
        incident=incident,
    )
    assert refund.state == RefundRequest.State.AWAITING_APPROVAL
    return refund


def _inputs(incident, amount: str):
    from refunds.rules import RefundLineInput

    return [RefundLineInput(line_id=incident.line.pk, quantity=1, amount=Decimal(amount))]


def test_pending_approval_shows_approve_and_reject_to_someone_else(
    agent_client, incident, awaiting
) -> None:
    own = _page(agent_client, incident).split('id="refunds"', 1)[1]
    assert "Pending approval by a second person" in own
    assert "data-approve" not in own  # never one's own
    assert "data-own-request" in own

    colleague = _client(UserFactory(username="jorge", role="agent"))
    other = _page(colleague, incident).split('id="refunds"', 1)[1]
    assert "data-approve" in other and "data-reject" in other
    assert reverse("refunds:approve", args=[awaiting.pk]) in other


def test_approve_from_the_panel_queues_it(
    incident, awaiting, django_capture_on_commit_callbacks
) -> None:
    colleague = UserFactory(username="jorge", role="agent")
    client = _client(colleague)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("refunds:approve", args=[awaiting.pk]),
            {"origin": "panel"},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="panel refunds" id="refunds"')
    assert 'data-refund-state="queued"' in body
    awaiting.refresh_from_db()
    assert awaiting.state == RefundRequest.State.QUEUED and awaiting.approved_by == colleague
    assert len(callbacks) == 1


def test_approval_above_the_approvers_own_limit_shows_the_services_message(
    incident, awaiting
) -> None:
    colleague = UserFactory(username="jorge", role="agent")
    RefundLimit.objects.create(user=colleague, limit=Decimal("10.00"))
    response = _client(colleague).post(
        reverse("refunds:approve", args=[awaiting.pk]), {"origin": "panel"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert "This refund of 50.00 EUR is above your own limit of 10.00 EUR." in body
    assert "data-approval-error" in body
    awaiting.refresh_from_db()
    assert awaiting.state == RefundRequest.State.AWAITING_APPROVAL


def test_self_approval_is_refused(agent_client, incident, awaiting) -> None:
    response = agent_client.post(
        reverse("refunds:approve", args=[awaiting.pk]), {"origin": "panel"}, HTTP_HX_REQUEST="true"
    )
    assert "Another user must approve your own refund." in response.content.decode()
    awaiting.refresh_from_db()
    assert awaiting.state == RefundRequest.State.AWAITING_APPROVAL


def test_reject_needs_a_reason_then_frees_the_amount(incident, awaiting) -> None:
    client = _client(UserFactory(username="jorge", role="agent"))
    url = reverse("refunds:reject", args=[awaiting.pk])
    prefix = f"reject-{awaiting.pk}"
    empty = client.post(url, {"origin": "panel", f"{prefix}-reason": ""}, HTTP_HX_REQUEST="true")
    assert "This field is required." in empty.content.decode()
    awaiting.refresh_from_db()
    assert awaiting.state == RefundRequest.State.AWAITING_APPROVAL

    response = client.post(
        url,
        {"origin": "panel", f"{prefix}-reason": "Ya tiene un vale"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert 'data-refund-state="rejected"' in body and "Ya tiene un vale" in body
    awaiting.refresh_from_db()
    assert awaiting.state == RefundRequest.State.REJECTED


def test_approvals_page_lists_requests_awaiting_approval(incident, awaiting) -> None:
    client = _client(UserFactory(username="jorge", role="agent"))
    page = client.get(reverse("refunds:approvals")).content.decode()
    assert f'data-request="{awaiting.pk}"' in page
    assert incident.order.mirakl_id in page
    assert "data-total>50.00" in page.replace(NBSP, " ")

    response = client.post(
        reverse("refunds:approve", args=[awaiting.pk]),
        {"origin": "approvals"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert 'id="approvals"' in body and "No refund is waiting for approval." in body


# ---------------------------------------------------------------------------- live state


def test_panel_poll_answers_204_until_something_changed(agent_client, incident, awaiting):
    url = reverse("refunds:panel", args=[incident.pk])
    first = agent_client.get(url, HTTP_HX_REQUEST="true")
    assert first.status_code == 200
    version = re.search(r'data-version="([0-9a-f]+)"', first.content.decode()).group(1)
    assert 'hx-trigger="every 3s"' in first.content.decode()
    assert agent_client.get(url, {"v": version}, HTTP_HX_REQUEST="true").status_code == 204

    RefundRequest.objects.filter(pk=awaiting.pk).update(state=RefundRequest.State.SENT)
    changed = agent_client.get(url, {"v": version}, HTTP_HX_REQUEST="true")
    assert changed.status_code == 200
    assert 'data-refund-state="sent"' in changed.content.decode()
    assert "every 3s" not in changed.content.decode()  # nothing pending: polling stops


def test_refused_for_balance_is_translated_with_the_guides_advice(
    es_client, incident, awaiting
) -> None:
    RefundRequest.objects.filter(pk=awaiting.pk).update(
        state=RefundRequest.State.REFUSED,
        error_message="The shop does not have a sufficient payable balance for the refund",
    )
    panel = _page(es_client, incident).split('id="refunds"', 1)[1]
    assert 'data-refund-state="refused"' in panel
    assert "data-refused-balance" in panel
    assert "saldo pagadero suficiente" in panel
    assert "consultad con vuestro Account Manager" in panel
    assert "sufficient payable balance" not in panel  # never Mirakl's English on screen


def test_other_refusals_quote_mirakls_message(agent_client, incident, awaiting) -> None:
    RefundRequest.objects.filter(pk=awaiting.pk).update(
        state=RefundRequest.State.REFUSED, error_message="Order line is not refundable"
    )
    panel = _page(agent_client, incident).split('id="refunds"', 1)[1]
    assert "Order line is not refundable" in panel
    assert "data-refused-balance" not in panel
