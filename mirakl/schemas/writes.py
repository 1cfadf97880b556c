"""What the shop sends: messages and threads (M12, OR43), resolutions (OR64), refunds
(OR28), and what Mirakl answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    Field,
)

from mirakl.schemas.base import MiraklId, MiraklModel
from mirakl.schemas.threads import Topic

__all__ = [
    "AttachmentFile",
    "MessageCreated",
    "MessageInput",
    "Recipient",
    "RefundCreated",
    "RefundLineRequest",
    "RefundRequest",
    "RefundResult",
    "ResolveIncidentInput",
    "TaxAmount",
    "ThreadInput",
]


class Recipient(MiraklModel):
    """An M12 ``to`` entry: ``{"type": "OPERATOR"}`` or ``{"type": "CUSTOMER", "id": ...}``."""

    type: str
    id: MiraklId | None = None


class MessageInput(MiraklModel):
    """The M12 ``message_input`` part."""

    body: str
    to: list[Recipient]
    topic: Topic | None = None

    def to_payload(self) -> dict[str, Any]:
        """JSON-ready dict without the ``None`` fields Mirakl does not expect."""
        return self.model_dump(mode="json", exclude_none=True)


class ThreadInput(MiraklModel):
    """The OR43 ``thread_input`` part: ``to`` is a list of strings, ``topic`` required."""

    body: str
    to: list[str]
    topic: Topic

    def to_payload(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return self.model_dump(mode="json", exclude_none=True)


class MessageCreated(MiraklModel):
    """Answer of M12 and OR43 (201)."""

    message_id: MiraklId
    thread_id: MiraklId


class ResolveIncidentInput(MiraklModel):
    """OR64 body. ``reason_code`` is omitted when None."""

    reason_code: str | None = None

    def to_payload(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return self.model_dump(mode="json", exclude_none=True)


class TaxAmount(MiraklModel):
    """A tax amount sent in (or echoed by) OR28."""

    code: str
    amount: Decimal


NonNegativeDecimal = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class RefundLineRequest(MiraklModel):
    """One OR28 ``refunds[]`` element: what to refund on one order line.

    ``amount`` is the offer-price part, ``shipping_amount`` the shipping part; whether tax
    is included depends on ``order_tax_mode``. ``quantity`` is informative for Mirakl.
    """

    order_line_id: MiraklId
    amount: NonNegativeDecimal
    shipping_amount: NonNegativeDecimal = Decimal(0)
    quantity: int | None = Field(default=None, ge=0)
    reason_code: MiraklId
    taxes: list[TaxAmount] = Field(default_factory=list)
    shipping_taxes: list[TaxAmount] = Field(default_factory=list)
    currency_iso_code: str | None = None
    excluded_from_shipment: bool | None = None

    def to_payload(self) -> dict[str, Any]:
        """Dict with ``Decimal`` amounts kept as they are (see ``client.encode_json``).

        ``None`` fields and empty tax lists are omitted: an empty list would tell Mirakl
        "no tax", while omitting it lets Mirakl refuse the call when taxes are required.
        """
        payload = self.model_dump(mode="python", exclude_none=True)
        for key in ("taxes", "shipping_taxes"):
            if not payload.get(key):
                payload.pop(key, None)
        return payload


class RefundRequest(MiraklModel):
    """The OR28 body."""

    order_tax_mode: str | None = None
    refunds: list[RefundLineRequest]

    def to_payload(self) -> dict[str, Any]:
        """Dict with exact ``Decimal`` amounts."""
        payload: dict[str, Any] = {}
        if self.order_tax_mode is not None:
            payload["order_tax_mode"] = self.order_tax_mode
        payload["refunds"] = [line.to_payload() for line in self.refunds]
        return payload


class RefundCreated(MiraklModel):
    """One refund created by OR28. Only ``refund_id`` and ``order_line_id`` are required."""

    refund_id: MiraklId
    order_refund_id: MiraklId | None = None
    order_line_id: MiraklId
    amount: Decimal | None = None
    shipping_amount: Decimal | None = None
    quantity: int | None = None
    reason_code: MiraklId | None = None
    currency_iso_code: str | None = None
    excluded_from_shipment: bool | None = None
    taxes: list[TaxAmount] = Field(default_factory=list)
    shipping_taxes: list[TaxAmount] = Field(default_factory=list)


class RefundResult(MiraklModel):
    """The OR28 answer."""

    order_tax_mode: str | None = None
    refunds: list[RefundCreated] = Field(default_factory=list)


class AttachmentFile(MiraklModel):
    """A downloaded attachment (M13)."""

    content: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def size(self) -> int:
        """Number of bytes."""
        return len(self.content)
