"""The role groups exist with their permissions."""

import pytest
from django.contrib.auth.models import Group

from core.roles import ROLE_PERMISSIONS, Role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", list(ROLE_PERMISSIONS))
def test_role_groups_have_their_permissions(role: str) -> None:
    group = Group.objects.get(name=role)
    granted = {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }
    assert granted == set(ROLE_PERMISSIONS[role])


def test_only_agents_and_admins_differ_where_it_matters() -> None:
    assert "incidents.refund_incident" in ROLE_PERMISSIONS[Role.AGENT]
    assert "incidents.refund_incident" not in ROLE_PERMISSIONS[Role.ACCOUNT_MANAGER]
    assert "core.change_marketplaceconnection" not in ROLE_PERMISSIONS[Role.AGENT]
    assert "incidents.review_sla" in ROLE_PERMISSIONS[Role.ACCOUNT_MANAGER]
