"""The admin: every synced model browsable, keys write-only."""

import pytest
from django.urls import reverse

from core.models import MarketplaceConnection
from core.sync.runner import marketplace_sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(connection, sandbox_client):
    marketplace_sync(connection=connection, client=sandbox_client)
    return connection


@pytest.mark.parametrize(
    "model",
    [
        "core/marketplaceconnection",
        "core/marketplacereason",
        "core/order",
        "incidents/incident",
        "core/syncrun",
        "messaging/thread",
        "messaging/message",
        "refunds/refund",
    ],
)
def test_changelists_and_detail_pages_render(admin_client, synced, model) -> None:
    app, name = model.split("/")
    response = admin_client.get(reverse(f"admin:{app}_{name}_changelist"))
    assert response.status_code == 200
    response = admin_client.get(reverse(f"admin:{app}_{name}_changelist"), {"q": "a"})
    assert response.status_code == 200
    obj = response.context["cl"].result_list.first() or response.context["cl"].queryset.first()
    if obj is not None:
        detail = admin_client.get(reverse(f"admin:{app}_{name}_change", args=[obj.pk]))
        assert detail.status_code == 200


def test_api_key_is_never_shown_and_kept_when_left_empty(admin_client, synced) -> None:
    url = reverse("admin:core_marketplaceconnection_change", args=[synced.pk])
    page = admin_client.get(url)
    assert synced.api_key not in page.content.decode()

    data = {
        "code": synced.code,
        "name": "PcComponentes ES",
        "base_url": synced.base_url,
        "api_key": "",
        "shop_id": "",
        "sla_policy": "pccomponentes",
        "is_active": "on",
        "sync_cursors-TOTAL_FORMS": "0",
        "sync_cursors-INITIAL_FORMS": "0",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    synced.refresh_from_db()
    assert synced.name == "PcComponentes ES"
    assert synced.api_key == "sandbox-test-key"


def test_synced_rows_are_read_only(admin_client, synced) -> None:
    response = admin_client.get(reverse("admin:core_order_add"))
    assert response.status_code == 403


def test_sync_now_action_queues_a_sync(admin_client, synced, django_capture_on_commit_callbacks):
    url = reverse("admin:core_marketplaceconnection_changelist")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(
            url, {"action": "sync_now", "_selected_action": [synced.pk]}, follow=True
        )
    assert response.status_code == 200
    assert len(callbacks) == 1
    assert MarketplaceConnection.objects.count() == 1


def test_skipped_records_are_listed_read_only(client) -> None:
    from django.utils import timezone

    from core.sync.models import SkippedRecord
    from tests.factories.core import MarketplaceConnectionFactory, UserFactory

    marketplace = MarketplaceConnectionFactory(code="pcc", name="PcComponentes")
    record = SkippedRecord.objects.create(
        connection=marketplace,
        resource="orders",
        kind=SkippedRecord.Kind.ORDER,
        mirakl_id="59400001-A",
        reason=SkippedRecord.Reason.OUT_OF_RANGE,
        detail="quantity out of range: 100000000000000000000",
        excerpt='{"order_id":"59400001-A","order_lines":[{"quantity":100000000000000000000}]}',
        seen_at=timezone.now(),
    )
    admin = UserFactory(username="root", role="admin", is_staff=True)
    client.force_login(admin)
    client.cookies["django_language"] = "es"

    listing = client.get(reverse("admin:core_skippedrecord_changelist")).content.decode()
    assert "59400001-A" in listing
    assert "Un número que la base de datos no puede guardar" in listing
    detail = client.get(reverse("admin:core_skippedrecord_change", args=[record.pk]))
    assert detail.status_code == 200
    page = detail.content.decode()
    assert "100000000000000000000" in page
    assert 'name="_save"' not in page  # read-only
    delete = reverse("admin:core_skippedrecord_delete", args=[record.pk])
    assert client.post(delete).status_code == 403
