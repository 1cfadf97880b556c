"""Addresses reversed once (:func:`core.addresses.reverse_ids`) are reverse's own."""

from __future__ import annotations

import pytest
from django.urls import NoReverseMatch, reverse

from core.addresses import reverse_ids

NAMES_AND_IDS = [
    ("desk:inbox", ()),
    ("desk:incident", (7,)),
    ("desk:order", (0,)),
    ("desk:order_history", (123_456_789,)),
    ("incidents:assign", (42,)),
    ("incidents:note", (42,)),
    ("incidents:resolve", (9_876_543_210,)),
    ("messaging:reply", (3, 15)),
    ("messaging:order_no_reply", (15, 3)),
    ("messaging:attachment", (3, 99)),
    ("messaging:order_attachment", (3, "a b&c")),
    ("refunds:full", (8,)),
    ("documents:panel", (8,)),
]


@pytest.mark.parametrize(("name", "ids"), NAMES_AND_IDS)
def test_the_address_is_reverse_s(name, ids) -> None:
    for _ in range(2):  # reversed, then from the pattern kept
        assert reverse_ids(name, *ids) == reverse(name, args=list(ids))


def test_the_script_prefix_is_followed(settings) -> None:
    from django.urls import set_script_prefix

    try:
        set_script_prefix("/desk/")
        assert reverse_ids("desk:incident", 5) == "/desk/incidents/5/"
    finally:
        set_script_prefix("/")
    assert reverse_ids("desk:incident", 5) == "/incidents/5/"


@pytest.mark.parametrize("ids", [(-1,), (None,), (True,), ()])
def test_what_reverse_refuses_is_refused(ids) -> None:
    with pytest.raises(NoReverseMatch):
        reverse("desk:incident", args=list(ids))
    with pytest.raises(NoReverseMatch):
        reverse_ids("desk:incident", *ids)
