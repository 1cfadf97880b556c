"""Forms of the incidents app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.forms.models import ModelChoiceIterator
from django.utils.translation import gettext_lazy as _

from core.form_rendering import WIDGET_RENDERER
from core.forms import own_field, share_fields
from core.kept import Kept
from incidents.resolution import resolution_reason_choices
from incidents.selectors import assignable_user_choices, assignable_users

__all__ = ["AssignForm", "NoteForm", "ResolveForm"]


class _AssignableUserChoices(ModelChoiceIterator):
    """The default assignees' choices from one plain query when the select is drawn
    (:func:`assignable_user_choices`), not a model instance per user."""

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        yield from assignable_user_choices()


class _AssigneeSelect(forms.Select):
    """The assignment select, drawn once for each list of choices and selected user.

    Every incident page shows it with the same seventy-odd options: drawing them cost
    half a millisecond a page. What it draws depends on nothing else than the key of
    :meth:`render` (the choices as they read in the active language, the value, the
    attributes), so a drawing is kept for the next page that has the same."""

    #: Drawings kept (the choices change seldom; the value is one of the users).
    _drawn: Kept[tuple[Any, ...], str] = Kept(256)

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> Any:
        key = (
            name,
            tuple(str(v) for v in self.format_value(value)),
            tuple(sorted(self.build_attrs(self.attrs, attrs).items())),
            self.is_required,
            id(renderer),
            tuple((str(k), str(label)) for k, label in self.choices),
        )
        drawn = self._drawn.get(key)
        if drawn is None:
            drawn = super().render(name, value, attrs, renderer)
            self._drawn.keep(key, drawn)
        return drawn


class _AssigneeField(forms.ModelChoiceField):
    """The assignee: a user by full name (else username), the choices drawn from the
    cache (:class:`_AssignableUserChoices`) by the kept select (:class:`_AssigneeSelect`)."""

    iterator = _AssignableUserChoices
    widget = _AssigneeSelect

    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.username


class AssignForm(forms.Form):
    """Who works the incident; empty means nobody."""

    default_renderer = WIDGET_RENDERER

    assignee = _AssigneeField(
        label=_("Assign to"),
        queryset=None,
        required=False,
        empty_label=_("Nobody"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The users' query checks what is sent, on a field of the form's own; a form only
        # shown draws its choices from the cache, and building the query (three joins)
        # cost more than drawing them.
        if self.is_bound:
            own_field(self, "assignee").queryset = assignable_users()


class NoteForm(forms.Form):
    """An internal note: the team sees it, Mirakl never does."""

    default_renderer = WIDGET_RENDERER

    body = forms.CharField(
        label=_("Internal note"),
        max_length=5000,
        strip=True,
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": _("Only your team sees this note.")}
        ),
    )


class ResolveForm(forms.Form):
    """Mark one incident resolved: a reason from the marketplace's INCIDENT_CLOSE list."""

    default_renderer = WIDGET_RENDERER

    reason_code = forms.ChoiceField(label=_("Resolution reason"), choices=())

    def __init__(self, *args, connection=None, choices=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if choices is None:
            choices = resolution_reason_choices(connection=connection) if connection else []
        self.fields["reason_code"].choices = [
            ("", _("Choose a reason…")),
            *[(code, label or code) for code, label in choices],
        ]


# A form that only shows its fields alters none of them: they are the class's (a bound
# assignment form copies its field; the resolution form's choices are each form's).
share_fields(AssignForm, own=frozenset())
share_fields(NoteForm, own=frozenset())
share_fields(ResolveForm, own=frozenset({"reason_code"}))
