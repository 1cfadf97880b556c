"""Render sandbox records as Mirakl JSON, with per-record caches.

Orders and thread headers are serialised once and cached as JSON text (dropped on change),
messages once for good (they never change). A page is then a string join, which keeps a
100-item OR11 or M11 page in the low milliseconds.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from mirakl.sandbox.catalog import ShopProfile
from mirakl.sandbox.clock import format_ms
from mirakl.sandbox.models import (
    ZERO,
    Cancelation,
    Line,
    Message,
    Order,
    Participant,
    Refund,
    Thread,
)

__all__ = [
    "IVA_CODE",
    "IVA_RATE",
    "Renderer",
    "dumps",
    "money",
    "q2",
    "vat_included",
]

IVA_CODE = "IVA21"
IVA_RATE = Decimal("21")
_CENT = Decimal("0.01")
_HUNDRED = Decimal("100")
_NO_ADDRESS_STATES = frozenset({"STAGING", "WAITING_ACCEPTANCE", "REFUSED"})
_REFUNDABLE = frozenset({"SHIPPING", "SHIPPED", "TO_COLLECT", "RECEIVED", "INCIDENT_OPEN"})


def q2(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def vat_included(gross: Decimal) -> Decimal:
    """The IVA part of a tax-included amount."""
    return q2(gross * IVA_RATE / (_HUNDRED + IVA_RATE))


def money(value: Decimal) -> float:
    """Amounts go out as JSON numbers with (at most) two decimals, like Mirakl's."""
    return float(value)


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def _date(ms: int | None) -> str | None:
    return None if ms is None else format_ms(ms)


def _tax_list(entries: list[tuple[str, Decimal]]) -> list[dict[str, Any]]:
    return [{"amount": money(amount), "code": code} for code, amount in entries]


class Renderer:
    """Knows the shop (for participants and senders) and renders records."""

    def __init__(self, shop: ShopProfile) -> None:
        self.shop = shop
        self.shop_participant = Participant("SHOP", shop.name, shop.shop_id)
        self.operator_participant = Participant("OPERATOR", shop.operator_name)
        self._senders = {
            "OPERATOR": {
                "display_name": shop.operator_name,
                "organization_details": {"display_name": shop.operator_name, "type": "OPERATOR"},
                "type": "OPERATOR_USER",
            },
            "SHOP": {
                "display_name": shop.user_email,
                "organization_details": {
                    "display_name": shop.name,
                    "id": shop.shop_id,
                    "type": "SHOP",
                },
                "type": "SHOP_USER",
            },
        }

    # ----------------------------------------------------------------- orders
    def order_json(self, order: Order) -> str:
        if order.cache is None:
            order.cache = dumps(self.order_dict(order))
        return order.cache

    def order_dict(self, order: Order) -> dict[str, Any]:
        lines = [self.line_dict(line) for line in order.lines]
        price = sum((line.price for line in order.lines), ZERO)
        shipping = sum((line.shipping_price for line in order.lines), ZERO)
        commission = sum((_line_commission_total(line) for line in order.lines), ZERO)
        carrier = order.carrier
        tracking = order.tracking if carrier else None
        return {
            "acceptance_decision_date": _date(order.acceptance_ms),
            "can_cancel": order.state == "SHIPPING",
            "can_shop_ship": order.state == "SHIPPING",
            "channel": {"code": "ES", "label": "España"},
            "commercial_id": order.commercial_id,
            "created_date": format_ms(order.created_ms),
            "currency_iso_code": "EUR",
            "customer": self.customer_dict(order),
            "customer_debited_date": _date(order.debited_ms),
            "customer_notification_email": (
                f"notification+{order.notification_token}@notification.mirakl.net"
            ),
            "delivery_date": None,
            "fulfillment": {"center": {"code": "DEFAULT"}},
            "fully_refunded": order.fully_refunded,
            "has_customer_message": order.has_customer_message,
            "has_incident": order.has_incident,
            "has_invoice": order.has_invoice,
            "last_updated_date": format_ms(order.updated_ms),
            "leadtime_to_ship": order.leadtime_to_ship,
            "order_additional_fields": [],
            "order_id": order.order_id,
            "order_lines": lines,
            "order_state": order.state,
            "order_state_reason_code": None,
            "order_state_reason_label": None,
            "order_tax_mode": "TAX_INCLUDED",
            "paymentType": order.payment_type,
            "payment_type": order.payment_type,
            "payment_workflow": "PAY_ON_ACCEPTANCE",
            "price": money(price),
            "promotions": {"applied_promotions": [], "total_deduced_amount": 0},
            "quote_id": None,
            "shipping_carrier_code": carrier.code if carrier else None,
            "shipping_company": carrier.name if carrier else None,
            "shipping_deadline": format_ms(order.shipping_deadline_ms),
            "shipping_price": money(shipping),
            "shipping_tracking": tracking,
            "shipping_tracking_url": (
                carrier.tracking_url.format(tracking=tracking) if carrier and tracking else None
            ),
            "shipping_type_code": order.shipping_type[0],
            "shipping_type_label": order.shipping_type[1],
            "shipping_zone_code": order.shipping_zone[0],
            "shipping_zone_label": order.shipping_zone[1],
            "total_commission": money(commission),
            "total_price": money(price + shipping),
            "transaction_date": _date(order.debited_ms),
            "transaction_number": order.transaction_number,
        }

    def customer_dict(self, order: Order) -> dict[str, Any]:
        c = order.customer
        billing: dict[str, Any] | None = None
        shipping: dict[str, Any] | None = None
        if order.state not in _NO_ADDRESS_STATES:
            billing = {
                "city": c.city,
                "civility": c.civility,
                "company": c.company,
                "country": "España",
                "country_iso_code": "ESP",
                "firstname": c.firstname,
                "lastname": c.lastname,
                "phone": c.phone,
                "phone_secondary": None,
                "state": c.province,
                "street_1": c.street_1,
                "street_2": c.street_2,
                "zip_code": c.zip_code,
            }
            shipping = dict(billing, additional_info=c.additional_info)
        return {
            "billing_address": billing,
            "civility": c.civility,
            "customer_id": c.customer_id,
            "firstname": c.firstname,
            "lastname": c.lastname,
            "locale": "es_ES",
            "shipping_address": shipping,
        }

    def line_dict(self, line: Line) -> dict[str, Any]:
        product = line.product
        commission = q2(line.price * line.commission_rate)
        commission_vat = q2(commission * IVA_RATE / _HUNDRED)
        iva = {"amount": money(vat_included(line.price)), "code": IVA_CODE, "rate": 21.0}
        shipping_iva = {
            "amount": money(vat_included(line.shipping_price)),
            "code": IVA_CODE,
            "rate": 21.0,
        }
        return {
            "can_refund": line.state in _REFUNDABLE and not line.fully_refunded(),
            "cancelations": [self.cancelation_dict(c) for c in line.cancelations],
            "category_code": product.category_code,
            "category_label": product.category_label,
            "commission_fee": money(commission),
            "commission_rate_vat": 21.0,
            "commission_taxes": [{"amount": money(commission_vat), "code": IVA_CODE, "rate": 21.0}],
            "commission_vat": money(commission_vat),
            "created_date": format_ms(line.created_ms),
            "debited_date": _date(line.debited_ms),
            "description": None,
            "last_updated_date": format_ms(line.updated_ms),
            "offer_id": line.offer_id,
            "offer_sku": product.offer_sku,
            "offer_state_code": "11",
            "order_line_additional_fields": [],
            "order_line_id": line.line_id,
            "order_line_index": line.index,
            "order_line_state": line.state,
            "order_line_state_reason_code": line.reason_code,
            "order_line_state_reason_label": line.reason_label,
            "price": money(line.price),
            "price_additional_info": None,
            "price_unit": money(line.price_unit),
            "product_medias": [
                {
                    "media_url": f"/media/product/image/{product.product_sku}",
                    "mime_type": "image/jpeg",
                    "type": "ORIGINAL",
                }
            ],
            "product_shop_sku": product.offer_sku,
            "product_sku": product.product_sku,
            "product_title": product.title,
            "promotions": [],
            "quantity": line.quantity,
            "received_date": _date(line.received_ms),
            "refunds": [self.refund_dict(r) for r in line.refunds],
            "shipped_date": _date(line.shipped_ms),
            "shipping_price": money(line.shipping_price),
            "shipping_price_additional_unit": None,
            "shipping_price_unit": None,
            "shipping_taxes": [shipping_iva],
            "taxes": [iva],
            "total_commission": money(commission + commission_vat),
            "total_price": money(line.price + line.shipping_price),
        }

    @staticmethod
    def refund_dict(refund: Refund) -> dict[str, Any]:
        return {
            "amount": money(refund.amount),
            "commission_amount": money(refund.commission_amount),
            "commission_tax_amount": money(refund.commission_tax),
            "commission_taxes": [{"amount": money(refund.commission_tax), "code": IVA_CODE}],
            "commission_total_amount": money(refund.commission_amount + refund.commission_tax),
            "created_date": format_ms(refund.created_ms),
            "id": refund.refund_id,
            "quantity": refund.quantity,
            "reason_code": refund.reason_code,
            "shipping_amount": money(refund.shipping_amount),
            "shipping_taxes": _tax_list(refund.shipping_taxes),
            "state": refund.state,
            "taxes": _tax_list(refund.taxes),
        }

    @staticmethod
    def cancelation_dict(cancel: Cancelation) -> dict[str, Any]:
        return {
            "amount": money(cancel.amount),
            "commission_amount": money(cancel.commission_amount),
            "commission_taxes": [{"amount": money(cancel.commission_tax), "code": IVA_CODE}],
            "commission_total_amount": money(cancel.commission_amount + cancel.commission_tax),
            "created_date": format_ms(cancel.created_ms),
            "id": cancel.cancelation_id,
            "quantity": cancel.quantity,
            "reason_code": cancel.reason_code,
            "shipping_amount": money(cancel.shipping_amount),
            "shipping_taxes": [{"amount": money(cancel.shipping_tax), "code": IVA_CODE}],
            "taxes": [{"amount": money(cancel.tax), "code": IVA_CODE}],
        }

    # ---------------------------------------------------------------- threads
    def participant(self, thread: Thread, kind: str) -> Participant:
        if kind == "CUSTOMER":
            return thread.customer
        if kind == "SHOP":
            return self.shop_participant
        return self.operator_participant

    def authorized(self, thread: Thread) -> list[Participant]:
        return [thread.customer, self.operator_participant, self.shop_participant]

    def sender_dict(self, thread: Thread, kind: str) -> dict[str, Any]:
        if kind == "CUSTOMER":
            c = thread.customer
            return {
                "display_name": c.display_name,
                "organization_details": {
                    "display_name": c.display_name,
                    "id": c.id,
                    "type": "CUSTOMER",
                },
                "type": "CUSTOMER_USER",
            }
        return self._senders[kind]

    def thread_header_json(self, thread: Thread) -> str:
        """The thread without ``messages`` (what M11 returns with with_messages=false)."""
        if thread.cache is None:
            thread.cache = dumps(self.thread_dict(thread))
        return thread.cache

    def thread_json(self, thread: Thread, *, last: int | None = None) -> str:
        """The thread with its messages: all of them, or only the ``last`` N."""
        messages = thread.messages if last is None else thread.messages[-last:]
        header = self.thread_header_json(thread)
        body = ",".join(self.message_json(thread, m) for m in messages)
        return f'{header[:-1]},"messages":[{body}]}}'

    def thread_dict(self, thread: Thread) -> dict[str, Any]:
        last = thread.messages[-1] if thread.messages else None
        order = ("CUSTOMER", "OPERATOR", "SHOP")
        current = [
            self.participant(thread, kind).as_dict() for kind in order if kind in thread.current
        ]
        return {
            "authorized_participants": [p.as_dict() for p in self.authorized(thread)],
            "current_participants": current,
            "date_created": format_ms(thread.created_ms),
            "date_updated": format_ms(thread.updated_ms),
            "entities": [{"id": thread.order_id, "label": thread.order_id, "type": "MMP_ORDER"}],
            "id": thread.thread_id,
            "metadata": {
                "last_message_date": format_ms(last.created_ms) if last else None,
                "last_sender": self.sender_dict(thread, last.sender) if last else None,
                "shop_reply_needed_since": _date(thread.shop_reply_needed_since),
                "total_count": len(thread.messages),
            },
            "no_store_reply_needed": [
                {"date": format_ms(ms), "user_type": user_type}
                for ms, user_type in thread.no_store_reply_needed
            ],
            "topic": {"type": thread.topic_type, "value": thread.topic_value},
        }

    def message_json(self, thread: Thread, message: Message) -> str:
        if message.cache is None:
            message.cache = dumps(self.message_dict(thread, message))
        return message.cache

    def message_dict(self, thread: Thread, message: Message) -> dict[str, Any]:
        return {
            "attachments": [
                {"id": a.attachment_id, "name": a.name, "size": a.size} for a in message.attachments
            ],
            "body": message.body,
            "date_created": format_ms(message.created_ms),
            "from": self.sender_dict(thread, message.sender),
            "id": message.message_id,
            "to": [self.participant(thread, kind).as_dict() for kind in message.to],
        }


def _line_commission_total(line: Line) -> Decimal:
    commission = q2(line.price * line.commission_rate)
    return commission + q2(commission * IVA_RATE / _HUNDRED)
