"""Choices that carry the colour of their badge (NetBox's ``ChoiceSet`` colours).

A state shown as a badge says its colour where it is declared, next to its label::

    class State(BadgeChoices):
        NEW = "new", _("New"), Badge.NEW
        CLOSED = "closed", _("Closed")  # a plain badge

so there is one mapping per set of states, and templates read it from the model
(``incident.get_state_badge``) or from the member (``state.badge``) rather than keep
their own. The colours are the badge classes of ``static/css/app.css``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.db.models import TextChoices
from django.db.models.enums import ChoicesType

__all__ = ["Badge", "BadgeChoices"]


class Badge(StrEnum):
    """The colours of a badge (CSS classes of ``.badge``)."""

    PLAIN = ""
    OK = "ok"
    INFO = "info"
    NEW = "new"
    WARN = "warn"
    BAD = "bad"


class BadgeChoicesType(ChoicesType):
    """Takes a member's :class:`Badge` off its value before Django reads value and label."""

    def __new__(
        metacls, classname: str, bases: tuple[type, ...], classdict: Any, **kwds: Any
    ) -> BadgeChoicesType:
        badges: dict[str, Badge] = {}
        for key in classdict._member_names:
            value = classdict[key]
            if isinstance(value, tuple) and value and isinstance(value[-1], Badge):
                badges[key] = value[-1]
                # As Django's ChoicesType does: past enum's guard on double assignment.
                dict.__setitem__(classdict, key, value[:-1])
        cls = super().__new__(metacls, classname, bases, classdict, **kwds)
        member: Any
        for name, member in cls.__members__.items():
            member._badge_ = badges.get(name, Badge.PLAIN)
        return cls


if TYPE_CHECKING:
    # django-stubs give TextChoices a metaclass of their own; type checkers see
    # BadgeChoices as plain TextChoices (a member's value is still a ``str``).
    _BadgeChoicesBase = TextChoices
else:

    class _BadgeChoicesBase(TextChoices, metaclass=BadgeChoicesType):
        pass


class BadgeChoices(_BadgeChoicesBase):
    """:class:`~django.db.models.TextChoices` whose members may end with a :class:`Badge`."""

    _badge_: Badge

    @property
    def badge(self) -> str:
        """The CSS class of this state's badge."""
        return self._badge_

    @classmethod
    def badge_of(cls, value: str | None) -> str:
        """The CSS class of the badge of a stored value ("" for an unknown or empty one).

        A model field holds the value, not the member: ``State.badge_of(incident.state)``.
        """
        member = cls._value2member_map_.get(value or "")
        return member.badge if isinstance(member, BadgeChoices) else Badge.PLAIN
