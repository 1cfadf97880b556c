"""The pages that compose several apps: login required, overview figures."""

import pytest
from django.urls import reverse

from core.sync.runner import marketplace_sync

pytestmark = pytest.mark.django_db


def test_every_page_needs_login(client) -> None:
    response = client.get(reverse("desk:overview"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_page_is_spanish_first(client) -> None:
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert 'lang="es"' in response.content.decode()


def test_overview_shows_each_marketplace(admin_client, connection, sandbox_client, sandbox):
    marketplace_sync(connection=connection, client=sandbox_client)
    response = admin_client.get(reverse("desk:overview"))
    assert response.status_code == 200
    overview = response.context["overviews"][0]
    assert overview.connection == connection
    assert overview.open_total > 0
    assert overview.threads_waiting > 0
    assert 'data-marketplace="pccomponentes"' in response.content.decode()


def test_overview_refresh_is_a_fragment(admin_client, connection, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        response = admin_client.get(reverse("desk:overview"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "<html" not in response.content.decode()
