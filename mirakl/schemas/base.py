"""What every Mirakl model shares: tolerant parsing, ids as text, UTC datetimes, pages
validated record by record."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from mirakl.errors import MiraklPayloadError

__all__ = [
    "InvalidRecord",
    "MiraklDatetime",
    "MiraklId",
    "MiraklModel",
    "summarize_validation_error",
]


def _id_to_str(value: Any) -> Any:
    """Mirakl sends some ids as JSON numbers (``offer_id``, refund ``id``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return str(int(value))
    return value


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


#: An id: ``str`` in Python whatever JSON type Mirakl used.
MiraklId = Annotated[str, BeforeValidator(_id_to_str)]


#: An aware UTC datetime; ``""`` is read as missing.
MiraklDatetime = Annotated[datetime, BeforeValidator(_blank_to_none), AfterValidator(_as_utc)]


def _null_means_default(cls: type[BaseModel], value: Any, info: ValidationInfo) -> Any:
    # `"refunds": null` or `"has_incident": null` must not reject a whole order.
    if value is None and info.field_name:
        return cls.model_fields[info.field_name].get_default(call_default_factory=True)
    return value


def _has_default_other_than_none(default: Any) -> bool:
    """Whether a field declared with this class attribute has a default that is not None.

    (A required field has no attribute, or a ``Field()`` without a default.)
    """
    if isinstance(default, FieldInfo):
        if default.default_factory is not None:
            return True
        return default.default is not PydanticUndefined and default.default is not None
    return default is not None


class MiraklModel(BaseModel):
    """Base of every Mirakl model: ignore unknown fields, coerce numbers to ``str``.

    ``null`` on a field whose default is not None (a list, ``0``, ``False``) gives the
    default. The check is a Python validator, so it is put only on those fields, each
    class naming its own when it is made (:meth:`__init_subclass__`): every other
    value is validated by pydantic's core alone, which is what lets a page be validated
    from its JSON bytes at core speed (:meth:`mirakl.schemas.OrderPage.from_json`).
    """

    model_config = ConfigDict(
        extra="ignore",
        coerce_numbers_to_str=True,
        populate_by_name=True,
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Runs while pydantic makes the class, before it collects the validators.
        super().__init_subclass__(**kwargs)
        names = [
            name
            for name in cls.__dict__.get("__annotations__", {})
            if not name.startswith("_")
            and name in cls.__dict__
            and _has_default_other_than_none(cls.__dict__[name])
        ]
        if names:
            validator = field_validator(*names, mode="before", check_fields=False)
            setattr(cls, f"_null_means_default_{cls.__name__}", validator(_null_means_default))


class InvalidRecord(MiraklModel):
    """A record of a page that failed validation, kept for logging and later repair."""

    id: str | None = None
    error: str
    raw: dict[str, Any] = Field(default_factory=dict)


_M = TypeVar("_M", bound=BaseModel)


def summarize_validation_error(exc: ValidationError, *, limit: int = 5) -> str:
    """``loc: msg`` pairs without the input values (they may hold personal data)."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:limit]:
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        parts.append(f"{loc}: {err['msg']}")
    extra = exc.error_count() - limit
    if extra > 0:
        parts.append(f"(+{extra} more)")
    return "; ".join(parts)


def _record_id(raw: Any, key: str) -> str | None:
    if isinstance(raw, Mapping):
        value = _id_to_str(raw.get(key))
        if isinstance(value, str) and value:
            return value
    return None


def _validate_records(
    records: list[Any], model: type[_M], *, id_key: str
) -> tuple[list[_M], list[InvalidRecord]]:
    valid: list[_M] = []
    invalid: list[InvalidRecord] = []
    for raw in records:
        if not isinstance(raw, Mapping):
            invalid.append(
                InvalidRecord(id=None, error="record is not a JSON object", raw={"value": raw})
            )
            continue
        try:
            valid.append(model.model_validate(raw))
        except ValidationError as exc:
            invalid.append(
                InvalidRecord(
                    id=_record_id(raw, id_key),
                    error=summarize_validation_error(exc),
                    raw=dict(raw),
                )
            )
    return valid, invalid


def _require_list(payload: Any, key: str, *, call: str) -> list[Any]:
    if not isinstance(payload, Mapping):
        raise MiraklPayloadError(
            f"expected a JSON object with {key!r}, got {type(payload).__name__}", call=call
        )
    value = payload.get(key)
    if not isinstance(value, list):
        raise MiraklPayloadError(f"expected {key!r} to be a list, got {value!r:.80}", call=call)
    return value
