"""Widgets drawn in Python give, byte for byte, what Django's widget templates give."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils import translation
from django.utils.safestring import mark_safe

from core.form_rendering import WIDGET_RENDERER, WidgetRenderer
from incidents.forms import NoteForm, ResolveForm
from messaging.forms import NewThreadForm, NoReplyForm, ReplyForm
from refunds.forms import RejectForm

TEMPLATES = DjangoTemplates()


class EveryWidget(forms.Form):
    text = forms.CharField(
        label="Texto <b>", widget=forms.TextInput(attrs={"placeholder": 'di "hola" & <adiós>'})
    )
    flag_attrs = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"required": True, "disabled": False})
    )
    safe = forms.CharField(initial=mark_safe("<i>ya escapado</i>"), required=False)
    number = forms.IntegerField(initial=1234567)
    amount = forms.DecimalField(initial=Decimal("1234.50"), localize=True, required=False)
    day = forms.DateField(initial=datetime.date(2026, 12, 6), required=False)
    hidden = forms.CharField(widget=forms.HiddenInput, initial="x&y")
    email = forms.EmailField(required=False)
    password = forms.CharField(widget=forms.PasswordInput, required=False)
    area = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), initial="uno\n<dos>")
    empty_area = forms.CharField(widget=forms.Textarea, required=False)
    choice = forms.ChoiceField(choices=[("", "— elige —"), ("a", "A & B"), (1, 2), ("c", "Ç")])
    grouped = forms.ChoiceField(
        choices=[("Grupo <1>", [("x", "Equis"), ("y", "I griega")]), ("z", "Zeta")],
        initial="y",
    )
    many = forms.MultipleChoiceField(choices=[("a", "A"), ("b", "B")], initial=["b"])
    radio = forms.ChoiceField(
        choices=[("a", "A"), ("b", "B <b>")], widget=forms.RadioSelect, initial="a"
    )
    radio_class = forms.ChoiceField(
        choices=[("G", [("a", "A")]), ("b", "B")],
        widget=forms.RadioSelect(attrs={"class": "inline"}),
        required=False,
    )
    boxes = forms.MultipleChoiceField(
        choices=[("a", "A"), ("b", "B")], widget=forms.CheckboxSelectMultiple, required=False
    )
    upload = forms.FileField(required=False)
    check = forms.BooleanField(required=False, initial=True)


def _forms(bound: bool) -> list[forms.Form]:
    data: Any = None
    if bound:
        data = {
            "text": "",
            "number": "no es un número",
            "area": "<script>",
            "choice": "nope",
            "radio": "b",
            "many": ["a", "zz"],
            "thread-1-body": "",
            "thread-1-recipient": "OPERATOR",
            "new-reason": "bad",
            "reason_code": "",
        }
    reasons = [("R1", "Producto dañado"), ("R2", "Retraso <envío>")]
    return [
        EveryWidget(data),
        EveryWidget(data, auto_id=False),
        EveryWidget(data, prefix="p", auto_id="custom_%s"),
        ReplyForm(data, prefix="thread-1", initial={"recipient": "CUSTOMER"}),
        ReplyForm(data, prefix="thread-1", customer_allowed=False),
        NewThreadForm(data, prefix="new", reasons=reasons),
        NoReplyForm(data, prefix="thread-1-noreply"),
        ResolveForm(data, choices=reasons, auto_id="id_resolve_7_%s"),
        NoteForm(data),
        RejectForm(data, prefix="reject-3"),
    ]


@pytest.mark.parametrize("bound", [False, True])
@pytest.mark.parametrize("language", ["es", "en"])
def test_widgets_match_the_templates(bound: bool, language: str) -> None:
    with translation.override(language):
        for form in _forms(bound):
            form.renderer = WIDGET_RENDERER
            fast = {name: str(form[name]) for name in form.fields}
            fast_errors = {name: str(form[name].errors) for name in form.fields}
            fast_non_field = str(form.non_field_errors())
            form.renderer = TEMPLATES
            for name in form.fields:
                assert fast[name] == str(form[name]), (type(form).__name__, name)
                assert fast_errors[name] == str(form[name].errors), (type(form).__name__, name)
            assert fast_non_field == str(form.non_field_errors())


def test_the_page_forms_use_it() -> None:
    for form in _forms(False)[3:]:
        assert isinstance(form.renderer, WidgetRenderer), type(form).__name__


def test_unknown_templates_fall_back_to_django() -> None:
    form = EveryWidget(auto_id="id_%s")
    form.renderer = WIDGET_RENDERER
    assert str(form) == str(EveryWidget(auto_id="id_%s", renderer=TEMPLATES))


def test_the_common_widgets_skip_the_templates(monkeypatch) -> None:
    drawn_by_templates: list[str] = []
    original = DjangoTemplates.render

    def spy(self: Any, template_name: str, context: Any, request: Any = None) -> str:
        drawn_by_templates.append(template_name)
        return original(self, template_name, context, request)

    monkeypatch.setattr(DjangoTemplates, "render", spy)
    with translation.override("es"):
        for form in _forms(False):
            form.renderer = WIDGET_RENDERER
            for name in form.fields:
                str(form[name])
                str(form[name].errors)
    assert drawn_by_templates == []
