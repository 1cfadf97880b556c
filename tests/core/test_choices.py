"""Badge colours live on the choices (``core.choices``), one mapping per set of states."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from core.choices import Badge, BadgeChoices
from core.sync.health import HealthState
from incidents.models import Incident
from messaging.models import OutboundMessage
from refunds.models import Refund, RefundRequest
from sla.health.banner import ShopStateChoices
from sla.health.rules import Standing
from sla.models import Notification, SlaItem


class Light(BadgeChoices):
    GREEN = "green", _("Go"), Badge.OK
    RED = "red", _("Stop"), Badge.BAD
    OFF = "off", _("Off")


@translation.override("en")
def test_the_badge_is_taken_off_the_value_and_the_label() -> None:
    assert [(value, str(label)) for value, label in Light.choices] == [
        ("green", "Go"),
        ("red", "Stop"),
        ("off", "Off"),
    ]
    assert Light.GREEN == "green" and Light("red") is Light.RED
    assert str(Light.GREEN.label) == "Go"
    assert (Light.GREEN.badge, Light.RED.badge, Light.OFF.badge) == ("ok", "bad", "")


def test_a_stored_value_finds_its_colour_and_an_unknown_one_none() -> None:
    assert Light.badge_of("red") == "bad"
    assert Light.badge_of("blue") == "" and Light.badge_of(None) == "" and Light.badge_of("") == ""


@pytest.mark.parametrize(
    "choices",
    [
        Incident.State,
        SlaItem.State,
        OutboundMessage.State,
        RefundRequest.State,
        Refund.State,
        Notification.Kind,
        HealthState,
        Standing,
        ShopStateChoices,
    ],
    ids=lambda c: c.__qualname__,
)
def test_every_colour_is_a_badge_of_the_style_sheet(choices) -> None:
    css = (Path(settings.BASE_DIR) / "static" / "css" / "app.css").read_text()
    styled = set(re.findall(r"\.badge\.([a-z]+)\b", css))
    for member in choices:
        assert member.badge == "" or member.badge in styled, member


@pytest.mark.parametrize(
    ("model", "state", "badge"),
    [
        (Incident(state="contested"), "contested", "bad"),
        (OutboundMessage(state="failed"), "failed", "bad"),
        (RefundRequest(state="awaiting_approval"), "awaiting_approval", "new"),
        (Refund(state="REFUNDED"), "REFUNDED", "ok"),
    ],
)
def test_models_give_their_states_colour(model, state, badge) -> None:
    assert model.get_state_badge() == badge


def test_a_refund_state_mirakl_adds_later_is_shown_as_sent() -> None:
    with translation.override("en"):
        assert Refund(state="WAITING_REFUND").get_state_display() == "Waiting for refund"
    refund = Refund(state="WAITING_SOMETHING_NEW")
    assert refund.get_state_display() == "WAITING_SOMETHING_NEW"
    assert refund.get_state_badge() == ""


def test_a_notification_is_coloured_by_its_deadline_else_by_its_kind() -> None:
    assert Notification(kind="sla", state="breached").get_badge() == "bad"
    assert Notification(kind="sla", state="nearing").get_badge() == "warn"
    assert Notification(kind="sync_recovered", state="").get_badge() == "ok"
    assert Notification(kind="sync_stale", state="").get_badge() == "bad"


def test_no_template_keeps_a_colour_mapping_of_its_own() -> None:
    """A badge's class comes from the choices: no ``{% if state == … %}bad`` in a template."""
    templates = Path(settings.BASE_DIR) / "templates"
    pattern = re.compile(r'class="badge [^"]*\{% if')
    offenders = [
        str(path.relative_to(templates))
        for path in templates.rglob("*.html")
        if pattern.search(path.read_text())
    ]
    assert offenders == []
