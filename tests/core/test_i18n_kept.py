"""``{% load i18n %}``: a literal ``{% translate %}`` kept per language renders what
Django's tag renders, in every language and form."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.template import Context, Engine
from django.templatetags import i18n
from django.utils import translation

from core import i18n_kept

SOURCES = [
    '{% translate "Queue" %}',
    "{% trans 'Log out' %}",
    '{% translate "Queue" as label %}[{{ label }}]',
    '{% translate "Queue" noop %}',
    '{% translate "Queue" context "menu" %}',
    '{% translate "Queue"|upper %}',
    "{% translate text %}",
    '{% translate "100%% <b>sure</b> & \\"quoted\\"" %}',
    "{% autoescape off %}{% translate '<b>Queue</b> & more' %}{% endautoescape %}",
    "{% translate '<b>Queue</b> & more' %}",
    "{% get_current_language as lang %}{{ lang }} {% translate 'Notifications' %}",
    "{% blocktranslate %}Hola {{ text }}{% endblocktranslate %}",
    "{{ 'es'|language_name_local }}",
]


@contextmanager
def _djangos_own_tag() -> Iterator[None]:
    """Django's ``{% translate %}`` in the i18n library for a while."""
    tags = i18n.register.tags
    kept = tags["translate"], tags["trans"]
    tags["translate"] = tags["trans"] = i18n.do_translate
    try:
        yield
    finally:
        tags["translate"], tags["trans"] = kept


def _engine(*, autoescape: bool = True) -> Engine:
    return Engine(libraries={"i18n": "django.templatetags.i18n"}, autoescape=autoescape)


def _render(source: str, *, autoescape: bool = True) -> str:
    template = _engine(autoescape=autoescape).from_string("{% load i18n %}" + source)
    return template.render(Context({"text": "Queue <i>"}, autoescape=autoescape))


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("autoescape", [True, False])
def test_it_renders_what_django_renders(source: str, autoescape: bool) -> None:
    for language in ("es", "en", "es", None):
        with translation.override(language):
            for _ in range(2):  # the first render keeps it, the second reads it
                ours = _render(source, autoescape=autoescape)
                with _djangos_own_tag():
                    theirs = _render(source, autoescape=autoescape)
                assert ours == theirs, (language, source)


def test_spanish_first_and_english_on_request() -> None:
    source = '{% translate "Log out" %}'
    with translation.override("es"):
        assert _render(source) == "Cerrar sesión"
    with translation.override("en"):
        assert _render(source) == "Log out"


def test_only_literal_texts_are_kept() -> None:
    assert i18n.register.tags["translate"] is i18n.register.tags["trans"] is i18n_kept.translate
    kept = _engine().from_string('{% load i18n %}{% translate "Queue" %}').nodelist[-1]
    assert isinstance(kept, i18n_kept.KeptTranslateNode)
    for source in SOURCES[2:7]:
        node = _engine().from_string("{% load i18n %}" + source).nodelist[1]
        assert not isinstance(node, i18n_kept.KeptTranslateNode), source


def test_changed_translation_settings_forget_what_was_kept(settings) -> None:
    with translation.override("es"):
        _render('{% translate "Queue" %}')
    assert i18n_kept._rendered
    settings.LANGUAGES = [("es", "Spanish"), ("en", "English")]
    assert not i18n_kept._rendered
