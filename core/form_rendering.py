"""Widgets drawn in Python: the same HTML as Django's widget templates, without them.

Django draws every widget through its template engine (``input.html`` including
``attrs.html``, a select including one template per option…): on the order and incident
pages, two dozen widgets cost about a sixth of the page's CPU. :class:`WidgetRenderer`
writes the HTML of the templates it knows (Django's inputs, text areas, selects, radio
buttons, an empty error list, and the reply box's recipient option) in Python, byte for
byte what the templates give (``tests/core/test_form_rendering.py`` compares them), and
hands every other template (a form or a field as a whole, a list with errors, a file
input with a current file) to Django's templates.

A form opts in with ``default_renderer = WIDGET_RENDERER``; its labels, errors, CSRF and
validation are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.forms.renderers import DjangoTemplates
from django.template import Context
from django.template.base import render_value_in_context
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeData

__all__ = ["WIDGET_RENDERER", "WidgetRenderer"]

#: What ``render_value_in_context`` reads of a template context (autoescaped, the
#: active language's formats and time zone, as in a widget template); never written.
_CONTEXT = Context(autoescape=True)


def _text(value: Any) -> str:
    """``{{ value }}`` in an autoescaped template."""
    if isinstance(value, str):
        return conditional_escape(value)
    return render_value_in_context(value, _CONTEXT)


def _string(value: Any) -> str:
    """``{{ value|stringformat:'s' }}``: ``%s`` of the value, escaped unless safe."""
    text = "%s" % (value,)  # noqa: UP031 - the filter's own formatting
    return text if isinstance(value, SafeData) else escape(text)


def _attrs(attrs: Mapping[str, Any]) -> str:
    """``django/forms/widgets/attrs.html``."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            parts.append(f" {_text(name)}")
        else:
            parts.append(f' {_text(name)}="{_string(value)}"')
    return "".join(parts)


def _input(widget: Mapping[str, Any]) -> str:
    """``django/forms/widgets/input.html`` (its final newline included)."""
    value = widget["value"]
    shown = "" if value is None else f' value="{_string(value)}"'
    return (
        f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"'
        f"{shown}{_attrs(widget['attrs'])}>\n"
    )


def _textarea(widget: Mapping[str, Any]) -> str:
    value = widget["value"]
    return (
        f'<textarea name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>\n'
        f"{_text(value) if value else ''}</textarea>\n"
    )


def _select_option(option: Mapping[str, Any]) -> str:
    return (
        f'<option value="{_string(option["value"])}"{_attrs(option["attrs"])}>'
        f"{_text(option['label'])}</option>\n"
    )


def _input_option(option: Mapping[str, Any]) -> str:
    """``input_option.html`` (what ``radio_option.html`` and ``checkbox_option.html``
    include, each adding a newline)."""
    if not option["wrap_label"]:
        return _input(option) + "\n"
    option_id = option["attrs"].get("id")
    label_for = f' for="{_text(option_id)}"' if option_id else ""
    return f"<label{label_for}>{_input(option)} {_text(option['label'])}</label>\n"


def _recipient_option(option: Mapping[str, Any]) -> str:
    """``messaging/widgets/recipient_option.html``: the option with its explanation."""
    option_id = option["attrs"].get("id")
    label_for = f' for="{_text(option_id)}"' if option_id else ""
    return (
        f'<label class="recipient-option"{label_for}>{_input(option)} '
        f'<span class="option-label">{_text(option["label"])}</span> '
        f'<span class="option-help">{_text(option.get("help", ""))}</span></label>\n'
    )


_OPTIONS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "django/forms/widgets/select_option.html": _select_option,
    "django/forms/widgets/radio_option.html": lambda option: _input_option(option) + "\n",
    "django/forms/widgets/checkbox_option.html": lambda option: _input_option(option) + "\n",
    "messaging/widgets/recipient_option.html": _recipient_option,
}


def _option(option: Mapping[str, Any]) -> str | None:
    draw = _OPTIONS.get(option["template_name"])
    return None if draw is None else draw(option)


def _select(widget: Mapping[str, Any]) -> str | None:
    parts = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{_text(group_name)}">')
        for option in group_choices:
            drawn = _option(option)
            if drawn is None:
                return None
            parts.append(f"\n  {drawn}")
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>\n")
    return "".join(parts)


def _multiple_input(widget: Mapping[str, Any]) -> str | None:
    """``multiple_input.html`` (radio buttons and checkboxes)."""
    attrs = widget["attrs"]
    widget_id = attrs.get("id")
    parts = ["<div"]
    if widget_id:
        parts.append(f' id="{_text(widget_id)}"')
    if attrs.get("class"):
        parts.append(f' class="{_text(attrs["class"])}"')
    parts.append(">")
    for group, options, _index in widget["optgroups"]:
        if group:
            parts.append(f"\n  <div><label>{_text(group)}</label>")
        for option in options:
            drawn = _option(option)
            if drawn is None:
                return None
            parts.append(f"<div>\n    {drawn}</div>")
        if group:
            parts.append("\n  </div>")
    parts.append("\n</div>\n")
    return "".join(parts)


def _clearable_file_input(widget: Mapping[str, Any]) -> str | None:
    if widget["is_initial"]:
        return None  # a current file to show: the template's business
    return (
        f'\n<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"'
        f"{_attrs(widget['attrs'])}>\n"
    )


_INPUT_TEMPLATES = (
    "text",
    "hidden",
    "number",
    "email",
    "url",
    "password",
    "search",
    "tel",
    "date",
    "datetime",
    "time",
    "color",
    "file",
    "checkbox",
    "input",
)

_WIDGETS: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    **{f"django/forms/widgets/{name}.html": _input for name in _INPUT_TEMPLATES},
    "django/forms/widgets/textarea.html": _textarea,
    "django/forms/widgets/select.html": _select,
    "django/forms/widgets/radio.html": _multiple_input,
    "django/forms/widgets/checkbox_select.html": _multiple_input,
    "django/forms/widgets/multiple_input.html": _multiple_input,
    "django/forms/widgets/clearable_file_input.html": _clearable_file_input,
}

_ERROR_LISTS = ("django/forms/errors/list/default.html", "django/forms/errors/list/ul.html")


class WidgetRenderer(DjangoTemplates):
    """Django's template renderer, with the common widgets written in Python."""

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        draw = _WIDGETS.get(template_name)
        if draw is not None and "widget" in context:
            drawn = draw(context["widget"])
            if drawn is not None:
                return drawn.strip()
        elif template_name in _ERROR_LISTS and not context.get("errors"):
            return ""
        return super().render(template_name, context, request=request)


#: The one instance forms share (``default_renderer``): its template engine is built once.
WIDGET_RENDERER = WidgetRenderer()
