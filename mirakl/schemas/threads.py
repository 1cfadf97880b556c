"""Threads and messages (M10/M11) and the marketplace's reasons (RE01)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, Self, TypeVar

from pydantic import (
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from mirakl.constants import (
    EntityType,
    Party,
)
from mirakl.schemas.base import (
    InvalidRecord,
    MiraklDatetime,
    MiraklId,
    MiraklModel,
    _record_id,
    _require_list,
    _validate_records,
)

__all__ = [
    "Attachment",
    "Entity",
    "Message",
    "NoReplyNeeded",
    "OrganizationDetails",
    "Participant",
    "Reason",
    "Sender",
    "Thread",
    "ThreadMetadata",
    "ThreadPage",
    "Topic",
]


class Participant(MiraklModel):
    """A thread participant. The OPERATOR participant has no ``id``."""

    type: str
    id: MiraklId | None = None
    display_name: str | None = None


class OrganizationDetails(MiraklModel):
    """The organisation behind a sender (customer, shop or operator)."""

    type: str | None = None
    id: MiraklId | None = None
    display_name: str | None = None


class Sender(MiraklModel):
    """``from`` of a message or ``metadata.last_sender``; ``type`` is e.g. ``SHOP_USER``."""

    type: str
    display_name: str | None = None
    organization_details: OrganizationDetails | None = None

    @property
    def party(self) -> str:
        """``CUSTOMER``, ``OPERATOR`` or ``SHOP``; an unknown type is returned unchanged."""
        return sender_party(self)


class Attachment(MiraklModel):
    """An attachment of a message; download it with M13."""

    id: MiraklId
    name: str | None = None
    size: int | None = None


class Message(MiraklModel):
    """A thread message. ``from_`` is the JSON field ``from``."""

    id: MiraklId
    body: str = ""
    date_created: MiraklDatetime
    from_: Sender = Field(alias="from")
    to: list[Participant] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)


class Topic(MiraklModel):
    """Thread topic: ``FREE_TEXT`` with a subject, or ``REASON_CODE`` with an RE01 code."""

    type: str
    value: str


class Entity(MiraklModel):
    """What a thread is about: an order (``MMP_ORDER``, ``id`` = order_id), an offer..."""

    id: MiraklId
    label: str | None = None
    type: str


class ThreadMetadata(MiraklModel):
    """Thread summary. ``shop_reply_needed_since`` is None when no reply is needed."""

    last_message_date: MiraklDatetime | None = None
    total_count: int | None = None
    shop_reply_needed_since: MiraklDatetime | None = None
    last_sender: Sender | None = None


class NoReplyNeeded(MiraklModel):
    """An entry of ``no_store_reply_needed``."""

    date: MiraklDatetime | None = None
    user_type: str | None = None


class Thread(MiraklModel):
    """An inbox thread (M10, or M11 where ``messages`` is filled only with_messages)."""

    id: MiraklId
    topic: Topic | None = None
    date_created: MiraklDatetime
    date_updated: MiraklDatetime
    entities: list[Entity] = Field(default_factory=list)
    authorized_participants: list[Participant] = Field(default_factory=list)
    current_participants: list[Participant] = Field(default_factory=list)
    metadata: ThreadMetadata | None = None
    no_store_reply_needed: list[NoReplyNeeded] = Field(default_factory=list)
    messages: list[Message] = Field(default_factory=list)
    #: Messages of the payload that could not be read; the thread keeps the others.
    invalid_messages: list[InvalidRecord] = Field(default_factory=list, exclude=True)

    @model_validator(mode="wrap")
    @classmethod
    def _set_unreadable_messages_aside(
        cls, data: Any, handler: ValidatorFunctionWrapHandler
    ) -> Any:
        """One unreadable message costs that message, not its thread.

        The thread is validated whole first (the usual case costs nothing more); when
        only some of its messages fail, it is validated again without them and they
        are kept in ``invalid_messages``.
        """
        try:
            return handler(data)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
            bad: dict[int, list[str]] = {}
            for error in errors:
                loc = error["loc"]
                if len(loc) < 2 or loc[0] != "messages" or not isinstance(loc[1], int):
                    raise
                field = ".".join(str(p) for p in loc[2:]) or "<message>"
                bad.setdefault(loc[1], []).append(f"{field}: {error['msg']}")
            raw = data["messages"]
            thread = handler({**data, "messages": [m for i, m in enumerate(raw) if i not in bad]})
            thread.invalid_messages = [
                InvalidRecord(
                    id=_record_id(raw[i], "id"),
                    error="; ".join(messages[:5]),
                    raw=dict(raw[i]) if isinstance(raw[i], Mapping) else {"value": raw[i]},
                )
                for i, messages in sorted(bad.items())
            ]
            return thread

    @property
    def order_id(self) -> str | None:
        """Id of the first ``MMP_ORDER`` entity, or None."""
        return thread_order_id(self)

    @property
    def needs_reply(self) -> bool:
        """True when Mirakl says the shop owes an answer."""
        return thread_needs_reply(self)

    def participant(self, party: str) -> Participant | None:
        """The first authorized participant of a type (``CUSTOMER``, ``OPERATOR``...)."""
        return thread_participant(self.authorized_participants, party)


class ThreadPage(MiraklModel):
    """One M11 page. ``next_page_token`` is None on the last page."""

    data: list[Thread] = Field(default_factory=list)
    next_page_token: str | None = None
    previous_page_token: str | None = None
    invalid: list[InvalidRecord] = Field(default_factory=list)

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        """Validate an M11 body thread by thread.

        :raises MiraklPayloadError: the body has no ``data`` list.
        """
        records = _require_list(payload, "data", call="M11")
        threads, invalid = _validate_records(records, Thread, id_key="id")
        return cls(
            data=threads,
            next_page_token=_token(payload.get("next_page_token")),
            previous_page_token=_token(payload.get("previous_page_token")),
            invalid=invalid,
        )


def _token(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


class Reason(MiraklModel):
    """An RE01 reason. Filter on ``type`` and ``is_shop_right`` before offering it."""

    code: MiraklId
    label: str | None = None
    type: str
    is_shop_right: bool | None = None


# The rules of a sender and a thread, shared with their struct twins
# (:mod:`mirakl.schemas.records`): each reads only the attributes both forms have.


def sender_party(sender: Any) -> str:
    """A sender's ``CUSTOMER``, ``OPERATOR`` or ``SHOP``: its organisation's type, else
    its own type (``OPERATOR_USER`` is the operator); an unknown type unchanged."""
    org_type = sender.organization_details.type if sender.organization_details else None
    if org_type:
        return str(org_type).upper()
    kind = sender.type.upper()
    for known in Party:
        if kind == known or kind.startswith(f"{known}_"):
            return known.value
    return str(sender.type)


def thread_order_id(thread: Any) -> str | None:
    """Id of a thread's first ``MMP_ORDER`` entity, or None."""
    for entity in thread.entities:
        if entity.type == EntityType.MMP_ORDER:
            return str(entity.id)
    return None


def thread_needs_reply(thread: Any) -> bool:
    """True when Mirakl says the shop owes the thread an answer."""
    return bool(thread.metadata and thread.metadata.shop_reply_needed_since)


class _Typed(Protocol):
    @property
    def type(self) -> str: ...


_P = TypeVar("_P", bound=_Typed)


def thread_participant(participants: Iterable[_P], party: str) -> _P | None:
    """A thread's first authorized participant of a type, or None."""
    for candidate in participants:
        if candidate.type == party:
            return candidate
    return None
