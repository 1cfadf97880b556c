"""Django's ``{% translate %}`` tag, with each ``{% translate "text" %}`` rendered once per
language (:func:`kept_translate_install`, at start-up, puts it in Django's i18n library,
which ``{% load i18n %}`` loads).

Django's ``{% translate "text" %}`` makes a lazy translation, translates it, escapes it
and restores its percent signs on every render: about 7 µs a tag, and a page of the desk
renders up to sixty. A tag that translates a literal text (no variable, filter,
``context``, ``noop`` or ``as``) gives the same string for the same language and
autoescaping: it is rendered by Django's own node the first time and kept (until the
translation settings change, as tests do). Every other form is Django's node, unchanged.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template.base import Parser, Token, Variable
from django.templatetags import i18n
from django.templatetags.i18n import TranslateNode, do_translate
from django.utils.translation import get_language

__all__ = ["KeptTranslateNode", "kept_translate_install", "translate"]

#: Rendered tags by (text, language, autoescape): as many as the templates' texts.
_rendered: dict[tuple[str, str | None, bool], str] = {}


@receiver(setting_changed, dispatch_uid="core.i18n_kept.translations_changed")
def _translations_changed(*, setting: str, **kwargs: Any) -> None:
    # What makes Django load its translations anew (django.test.signals).
    if setting in {"LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS", "INSTALLED_APPS"}:
        _rendered.clear()


class KeptTranslateNode(TranslateNode):
    """``{% translate "text" %}``, rendered once per language and autoescaping."""

    def render(self, context: template.Context) -> str:
        key = (self.filter_expression.var.literal, get_language(), context.autoescape)
        value = _rendered.get(key)
        if value is None:
            value = _rendered[key] = super().render(context)
        return value


def translate(parser: Parser, token: Token) -> TranslateNode:
    """Django's ``{% translate %}``; a literal text's node keeps what it renders."""
    node = do_translate(parser, token)
    expression = node.filter_expression
    if (
        isinstance(expression.var, Variable)
        and expression.var.literal is not None
        and not expression.filters
        and not node.noop
        and node.asvar is None
        and node.message_context is None
    ):
        return KeptTranslateNode(expression, node.noop, node.asvar, node.message_context)
    return node


def kept_translate_install() -> None:
    """``{% translate %}`` and ``{% trans %}`` of ``{% load i18n %}`` are :func:`translate`
    (the library's other tags and filters are Django's)."""
    i18n.register.tags["translate"] = i18n.register.tags["trans"] = translate
