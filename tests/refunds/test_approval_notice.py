"""Approvers are told in the app when a refund waits for their approval."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from refunds.approvals import refund_approvers
from refunds.models import RefundRequest
from refunds.rules import RefundLineInput
from refunds.services import refund_request_create
from sla.models import Notification
from tests.factories.core import UserFactory
from tests.factories.refunds import RefundLimitFactory

pytestmark = pytest.mark.django_db

REASON = "17"


def test_a_refund_above_the_limit_notifies_who_may_approve_it(
    shop, agent, approver, django_capture_on_commit_callbacks
) -> None:
    RefundLimitFactory(user=agent, limit=D("50.00"))
    low = UserFactory(username="novata", role="agent")
    RefundLimitFactory(user=low, limit=D("20.00"))  # may not approve 60 €
    UserFactory(username="gestora", role="account_manager")  # may not refund at all
    with django_capture_on_commit_callbacks(execute=True):
        request, _ = refund_request_create(
            order=shop["order"],
            lines=[RefundLineInput(line_id=shop["line1"].pk, quantity=1, amount=D("60.00"))],
            reason_code=REASON,
            actor=agent,
            idempotency_key="aprobar-1",
            kind="partial",
        )
    assert request.state == RefundRequest.State.AWAITING_APPROVAL
    assert refund_approvers(request) == [approver]

    notices = list(Notification.objects.filter(kind=Notification.Kind.REFUND_APPROVAL))
    assert [n.user_id for n in notices] == [approver.pk]
    assert notices[0].incident_id == shop["incident"].pk
    assert "59400001-A" in notices[0].message and "60,00" in notices[0].message


def test_a_refund_within_the_limit_notifies_nobody(
    shop, agent, approver, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        request, _ = refund_request_create(
            order=shop["order"],
            lines=[RefundLineInput(line_id=shop["line1"].pk, quantity=1, amount=D("10.00"))],
            reason_code=REASON,
            actor=agent,
            idempotency_key="aprobar-2",
            kind="partial",
        )
    assert request.state == RefundRequest.State.QUEUED
    assert not Notification.objects.filter(kind=Notification.Kind.REFUND_APPROVAL).exists()


def test_the_notification_links_to_the_approvals(client, shop, agent, approver) -> None:
    Notification.objects.create(
        user=approver, kind=Notification.Kind.REFUND_APPROVAL, message="Un reembolso espera"
    )
    client.force_login(approver)
    html = client.get("/notifications/").content.decode()
    assert 'href="/refunds/approvals/"' in html
