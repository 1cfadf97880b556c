"""The admin of refund requests (read-only, approve action) and of refund limits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from refunds.models import RefundLimit, RefundRequest
from tests.factories.core import UserFactory
from tests.factories.refunds import RefundRequestFactory, RefundRequestLineFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_en(client, settings):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def test_refund_request_pages_are_read_only(admin_client_en) -> None:
    line = RefundRequestLineFactory(
        request__state=RefundRequest.State.REFUSED,
        request__error_message="The shop does not have a sufficient payable balance",
        mirakl_refund_id="",
    )
    changelist = admin_client_en.get(reverse("admin:refunds_refundrequest_changelist"))
    assert changelist.status_code == 200
    page = admin_client_en.get(
        reverse("admin:refunds_refundrequest_change", args=[line.request.pk])
    )
    assert page.status_code == 200
    assert b"sufficient payable balance" in page.content
    assert b'name="_save"' not in page.content
    add = admin_client_en.get(reverse("admin:refunds_refundrequest_add"))
    assert add.status_code == 403


def test_approve_action(admin_client_en) -> None:
    request = RefundRequestFactory(state=RefundRequest.State.AWAITING_APPROVAL)
    RefundRequestLineFactory(request=request)
    response = admin_client_en.post(
        reverse("admin:refunds_refundrequest_changelist"),
        {"action": "approve", "_selected_action": [request.pk]},
        follow=True,
    )
    assert response.status_code == 200
    request.refresh_from_db()
    assert request.state == RefundRequest.State.QUEUED


def test_refund_limit_is_edited_in_the_admin(admin_client_en) -> None:
    user = UserFactory(username="marta")
    response = admin_client_en.post(
        reverse("admin:refunds_refundlimit_add"), {"user": user.pk, "limit": "150.00"}
    )
    assert response.status_code == 302
    assert RefundLimit.objects.get(user=user).limit == Decimal("150.00")
