"""Who may be assigned an incident: the select's choices, kept in the cache."""

from __future__ import annotations

import pytest
from django import forms
from django.contrib.auth.models import Group, Permission

from core.form_rendering import WIDGET_RENDERER
from incidents.forms import AssignForm
from incidents.selectors import assignable_user_choices, assignable_users
from tests.factories.core import UserFactory

pytestmark = pytest.mark.django_db


class _ModelChoicesForm(forms.Form):
    """The assignment select as Django's ModelChoiceField draws it from the queryset."""

    default_renderer = WIDGET_RENDERER

    assignee = forms.ModelChoiceField(
        label=AssignForm.base_fields["assignee"].label,
        queryset=None,
        required=False,
        empty_label=AssignForm.base_fields["assignee"].empty_label,
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignable_users()
        self.fields["assignee"].label_from_instance = lambda u: u.get_full_name() or u.username


def test_the_select_draws_what_the_model_choices_give() -> None:
    agent = UserFactory(username="marta", first_name="Marta", last_name="Ruiz", role="agent")
    UserFactory(username="sinnombre", first_name="", last_name="", role="agent")
    UserFactory(username="<b>raro</b>", first_name="Ana & Co", last_name="", role="agent")
    UserFactory(username="jefa", role="account_manager")
    UserFactory(username="admin", is_superuser=True)
    UserFactory(username="baja", role="agent", is_active=False)
    for initial in (None, agent):
        ours = AssignForm(initial={"assignee": initial})["assignee"].as_widget()
        django = _ModelChoicesForm(initial={"assignee": initial})["assignee"].as_widget()
        assert ours == django
    assert "Ana &amp; Co" in ours and "&lt;b&gt;raro&lt;/b&gt;" not in ours
    assert f'<option value="{agent.pk}" selected>Marta Ruiz</option>' in ours
    # The full name, else the username, ordered by first name then username.
    assert [name for _pk, name in assignable_user_choices()][:2] == ["sinnombre", "Ana & Co"]


def test_the_choices_are_forgotten_when_users_groups_or_permissions_change() -> None:
    UserFactory(username="marta", role="agent")
    assert [pk for pk, _name in assignable_user_choices()] == list(
        assignable_users().values_list("pk", flat=True)
    )

    def names() -> set[str]:
        return {name for _pk, name in assignable_user_choices()}

    pedro = UserFactory(username="pedro", first_name="Pedro", last_name="Gil")
    assert "Pedro Gil" not in names()
    pedro.groups.add(Group.objects.get(name="agent"))
    assert "Pedro Gil" in names()
    pedro.first_name = "Pere"
    pedro.save()
    assert "Pere Gil" in names()
    pedro.groups.clear()
    assert "Pere Gil" not in names()

    reply = Permission.objects.get(codename="reply_incident", content_type__app_label="incidents")
    pedro.user_permissions.add(reply)
    assert "Pere Gil" in names()
    pedro.user_permissions.clear()
    clerks = Group.objects.create(name="clerks")
    pedro.groups.add(clerks)
    assert "Pere Gil" not in names()
    clerks.permissions.add(reply)
    assert "Pere Gil" in names()
    pedro.delete()
    assert "Pere Gil" not in names()


def test_the_posted_assignee_is_still_checked_against_the_queryset() -> None:
    agent = UserFactory(username="marta", role="agent")
    outsider = UserFactory(username="jefa", role="account_manager")
    assert AssignForm({"assignee": agent.pk}).is_valid()
    assert not AssignForm({"assignee": outsider.pk}).is_valid()
