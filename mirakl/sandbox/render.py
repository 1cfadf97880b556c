"""Render sandbox records as Mirakl JSON, with per-record caches.

Orders and thread headers are serialised once and cached as UTF-8 JSON (dropped on change),
messages once for good (they never change). A page is then a join of byte strings, with
nothing to encode, which keeps a 100-item OR11 or M11 page well under a millisecond once
its records were rendered (``SandboxState.warm`` renders them all in the background).

Two renderings of each record live here: ``*_dict`` builds the payload as Python data (the
readable reference, and what tests compare against), ``*_json`` writes the same JSON text
directly (``dumps(x_dict(r)) == x_json(r)``, byte for byte) about four times faster, which
is what a first read of a record costs: a page of 100 orders nobody read yet.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from json.encoder import encode_basestring
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
    "legacy_refund_state",
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
#: A refund carries its state twice, as Mirakl sends it: ``refund_state`` (every state)
#: and the deprecated ``state``, which "will not contain newer states added to refunds".
#: For those it shows the older state that follows (an inference: MIRAKL_API_ACCOUNT.md
#: documents no value for them).
_LEGACY_REFUND_STATES = {"WAITING_REFUND_TAX_CONFIRMATION": "WAITING_REFUND"}


def legacy_refund_state(state: str) -> str:
    """The deprecated ``state`` field of a refund in ``state`` (``refund_state``)."""
    return _LEGACY_REFUND_STATES.get(state, state)


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


# ---------------------------------------------------- direct JSON text writers
# Each one writes exactly what ``json.dumps(value, ensure_ascii=False)`` writes for the
# value the matching ``*_dict`` code puts in the payload.
_float_repr = float.__repr__


def _s(value: str | None) -> str:
    """A string (or null)."""
    return "null" if value is None else encode_basestring(value)


def _m(value: Decimal) -> str:
    """An amount: ``money(value)`` as JSON."""
    return _float_repr(float(value))


def _b(value: bool) -> str:
    return "true" if value else "false"


def _i(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def _dt(ms: int | None) -> str:
    """A date (or null)."""
    return "null" if ms is None else f'"{format_ms(ms)}"'


def _tax_list_json(entries: list[tuple[str, Decimal]]) -> str:
    return ",".join(f'{{"amount":{_m(amount)},"code":{_s(code)}}}' for code, amount in entries)


_IVA = encode_basestring(IVA_CODE)


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
        self._sender_texts = {kind: dumps(value) for kind, value in self._senders.items()}
        self._participant_texts = {
            "OPERATOR": dumps(self.operator_participant.as_dict()),
            "SHOP": dumps(self.shop_participant.as_dict()),
        }

    # ----------------------------------------------------------------- orders
    def order_json(self, order: Order) -> bytes:
        """The order's JSON (UTF-8), from its cache."""
        cache = order.cache
        if cache is None:
            cache = order.cache = self.order_text(order).encode()
        return cache

    def order_text(self, order: Order) -> str:
        """``dumps(self.order_dict(order))``, written directly (no cache)."""
        lines = order.lines
        price = shipping = commission = ZERO
        rendered = []
        for line in lines:
            line_commission = q2(line.price * line.commission_rate)
            line_commission_vat = q2(line_commission * IVA_RATE / _HUNDRED)
            price += line.price
            shipping += line.shipping_price
            commission += line_commission + line_commission_vat
            rendered.append(self._line_text(line, line_commission, line_commission_vat))
        carrier = order.carrier
        tracking = order.tracking if carrier else None
        tracking_url = (
            carrier.tracking_url.format(tracking=tracking) if carrier and tracking else None
        )
        state = order.state
        shipping_state = _b(state == "SHIPPING")
        debited = _dt(order.debited_ms)
        return (
            f'{{"acceptance_decision_date":{_dt(order.acceptance_ms)}'
            f',"can_cancel":{shipping_state},"can_shop_ship":{shipping_state}'
            ',"channel":{"code":"ES","label":"España"}'
            f',"commercial_id":{_s(order.commercial_id)}'
            f',"created_date":"{format_ms(order.created_ms)}","currency_iso_code":"EUR"'
            f',"customer":{self._customer_text(order)}'
            f',"customer_debited_date":{debited}'
            ',"customer_notification_email":'
            f"{_s(f'notification+{order.notification_token}@notification.mirakl.net')}"
            ',"delivery_date":null,"fulfillment":{"center":{"code":"DEFAULT"}}'
            f',"fully_refunded":{_b(order.fully_refunded)}'
            f',"has_customer_message":{_b(order.has_customer_message)}'
            f',"has_incident":{_b(order.has_incident)}'
            f',"has_invoice":{_b(order.has_invoice)}'
            f',"last_updated_date":"{format_ms(order.updated_ms)}"'
            f',"leadtime_to_ship":{_i(order.leadtime_to_ship)}'
            ',"order_additional_fields":[]'
            f',"order_id":{_s(order.order_id)}'
            f',"order_lines":[{",".join(rendered)}]'
            f',"order_state":{_s(state)}'
            ',"order_state_reason_code":null,"order_state_reason_label":null'
            ',"order_tax_mode":"TAX_INCLUDED"'
            f',"paymentType":{_s(order.payment_type)},"payment_type":{_s(order.payment_type)}'
            ',"payment_workflow":"PAY_ON_ACCEPTANCE"'
            f',"price":{_m(price)}'
            ',"promotions":{"applied_promotions":[],"total_deduced_amount":0}'
            ',"quote_id":null'
            f',"shipping_carrier_code":{_s(carrier.code if carrier else None)}'
            f',"shipping_company":{_s(carrier.name if carrier else None)}'
            f',"shipping_deadline":"{format_ms(order.shipping_deadline_ms)}"'
            f',"shipping_price":{_m(shipping)}'
            f',"shipping_tracking":{_s(tracking)}'
            f',"shipping_tracking_url":{_s(tracking_url)}'
            f',"shipping_type_code":{_s(order.shipping_type[0])}'
            f',"shipping_type_label":{_s(order.shipping_type[1])}'
            f',"shipping_zone_code":{_s(order.shipping_zone[0])}'
            f',"shipping_zone_label":{_s(order.shipping_zone[1])}'
            f',"total_commission":{_m(commission)}'
            f',"total_price":{_m(price + shipping)}'
            f',"transaction_date":{debited}'
            f',"transaction_number":{_s(order.transaction_number)}}}'
        )

    def _customer_text(self, order: Order) -> str:
        c = order.customer
        if order.state in _NO_ADDRESS_STATES:
            billing = shipping = "null"
        else:
            address = (
                f'{{"city":{_s(c.city)},"civility":{_s(c.civility)}'
                f',"company":{_s(c.company)},"country":"España","country_iso_code":"ESP"'
                f',"firstname":{_s(c.firstname)},"lastname":{_s(c.lastname)}'
                f',"phone":{_s(c.phone)},"phone_secondary":null,"state":{_s(c.province)}'
                f',"street_1":{_s(c.street_1)},"street_2":{_s(c.street_2)}'
                f',"zip_code":{_s(c.zip_code)}'
            )
            billing = address + "}"
            shipping = f'{address},"additional_info":{_s(c.additional_info)}}}'
        return (
            f'{{"billing_address":{billing},"civility":{_s(c.civility)}'
            f',"customer_id":{_s(c.customer_id)},"firstname":{_s(c.firstname)}'
            f',"lastname":{_s(c.lastname)},"locale":"es_ES","shipping_address":{shipping}}}'
        )

    def _line_text(self, line: Line, commission: Decimal, commission_vat: Decimal) -> str:
        product = line.product
        offer_sku = _s(product.offer_sku)
        return (
            f'{{"can_refund":{_b(line.state in _REFUNDABLE and not line.fully_refunded())}'
            f',"cancelations":[{",".join(self.cancelation_text(c) for c in line.cancelations)}]'
            f',"category_code":{_s(product.category_code)}'
            f',"category_label":{_s(product.category_label)}'
            f',"commission_fee":{_m(commission)},"commission_rate_vat":21.0'
            f',"commission_taxes":[{{"amount":{_m(commission_vat)},"code":{_IVA},"rate":21.0}}]'
            f',"commission_vat":{_m(commission_vat)}'
            f',"created_date":"{format_ms(line.created_ms)}"'
            f',"debited_date":{_dt(line.debited_ms)},"description":null'
            f',"last_updated_date":"{format_ms(line.updated_ms)}"'
            f',"offer_id":{_i(line.offer_id)},"offer_sku":{offer_sku},"offer_state_code":"11"'
            ',"order_line_additional_fields":[]'
            f',"order_line_id":{_s(line.line_id)},"order_line_index":{_i(line.index)}'
            f',"order_line_state":{_s(line.state)}'
            f',"order_line_state_reason_code":{_s(line.reason_code)}'
            f',"order_line_state_reason_label":{_s(line.reason_label)}'
            f',"price":{_m(line.price)},"price_additional_info":null'
            f',"price_unit":{_m(line.price_unit)}'
            ',"product_medias":[{"media_url":'
            f"{_s(f'/media/product/image/{product.product_sku}')}"
            ',"mime_type":"image/jpeg","type":"ORIGINAL"}]'
            f',"product_shop_sku":{offer_sku},"product_sku":{_s(product.product_sku)}'
            f',"product_title":{_s(product.title)},"promotions":[]'
            f',"quantity":{_i(line.quantity)},"received_date":{_dt(line.received_ms)}'
            f',"refunds":[{",".join(self.refund_text(r) for r in line.refunds)}]'
            f',"shipped_date":{_dt(line.shipped_ms)}'
            f',"shipping_price":{_m(line.shipping_price)}'
            ',"shipping_price_additional_unit":null,"shipping_price_unit":null'
            f',"shipping_taxes":[{{"amount":{_m(vat_included(line.shipping_price))}'
            f',"code":{_IVA},"rate":21.0}}]'
            f',"taxes":[{{"amount":{_m(vat_included(line.price))},"code":{_IVA},"rate":21.0}}]'
            f',"total_commission":{_m(commission + commission_vat)}'
            f',"total_price":{_m(line.price + line.shipping_price)}}}'
        )

    @staticmethod
    def refund_text(refund: Refund) -> str:
        tax = _m(refund.commission_tax)
        return (
            f'{{"amount":{_m(refund.amount)}'
            f',"commission_amount":{_m(refund.commission_amount)}'
            f',"commission_tax_amount":{tax}'
            f',"commission_taxes":[{{"amount":{tax},"code":{_IVA}}}]'
            f',"commission_total_amount":{_m(refund.commission_amount + refund.commission_tax)}'
            f',"created_date":"{format_ms(refund.created_ms)}"'
            f',"id":{_s(refund.refund_id)},"quantity":{_i(refund.quantity)}'
            f',"reason_code":{_s(refund.reason_code)}'
            f',"refund_state":{_s(refund.state)}'
            f',"shipping_amount":{_m(refund.shipping_amount)}'
            f',"shipping_taxes":[{_tax_list_json(refund.shipping_taxes)}]'
            f',"state":{_s(legacy_refund_state(refund.state))}'
            f',"taxes":[{_tax_list_json(refund.taxes)}]}}'
        )

    @staticmethod
    def cancelation_text(cancel: Cancelation) -> str:
        return (
            f'{{"amount":{_m(cancel.amount)}'
            f',"commission_amount":{_m(cancel.commission_amount)}'
            f',"commission_taxes":[{{"amount":{_m(cancel.commission_tax)},"code":{_IVA}}}]'
            f',"commission_total_amount":{_m(cancel.commission_amount + cancel.commission_tax)}'
            f',"created_date":"{format_ms(cancel.created_ms)}"'
            f',"id":{_s(cancel.cancelation_id)},"quantity":{_i(cancel.quantity)}'
            f',"reason_code":{_s(cancel.reason_code)}'
            f',"shipping_amount":{_m(cancel.shipping_amount)}'
            f',"shipping_taxes":[{{"amount":{_m(cancel.shipping_tax)},"code":{_IVA}}}]'
            f',"taxes":[{{"amount":{_m(cancel.tax)},"code":{_IVA}}}]}}'
        )

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
            "refund_state": refund.state,
            "shipping_amount": money(refund.shipping_amount),
            "shipping_taxes": _tax_list(refund.shipping_taxes),
            "state": legacy_refund_state(refund.state),
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

    def thread_header_json(self, thread: Thread) -> bytes:
        """The thread without ``messages`` (what M11 returns with with_messages=false)."""
        cache = thread.cache
        if cache is None:
            cache = thread.cache = self.thread_header_text(thread).encode()
        return cache

    def thread_json(self, thread: Thread, *, last: int | None = None) -> bytes:
        """The thread with its messages: all of them, or only the ``last`` N."""
        messages = thread.messages if last is None else thread.messages[-last:]
        header = self.thread_header_json(thread)
        render = self.message_json
        body = b",".join([m.cache or render(thread, m) for m in messages])
        return b"".join((header[:-1], b',"messages":[', body, b"]}"))

    # Direct JSON text of the thread records (see the module docstring).
    def participant_text(self, thread: Thread, kind: str) -> str:
        if kind == "CUSTOMER":
            return _participant_text(thread.customer)
        return self._participant_texts["SHOP" if kind == "SHOP" else "OPERATOR"]

    def sender_text(self, thread: Thread, kind: str) -> str:
        if kind == "CUSTOMER":
            c = thread.customer
            name = _s(c.display_name)
            return (
                f'{{"display_name":{name},"organization_details":{{"display_name":{name}'
                f',"id":{_s(c.id)},"type":"CUSTOMER"}},"type":"CUSTOMER_USER"}}'
            )
        return self._sender_texts[kind]

    def thread_header_text(self, thread: Thread) -> str:
        """``dumps(self.thread_dict(thread))``, written directly (no cache)."""
        last = thread.messages[-1] if thread.messages else None
        customer = _participant_text(thread.customer)
        participants = self._participant_texts
        current = ",".join(
            customer if kind == "CUSTOMER" else participants[kind]
            for kind in ("CUSTOMER", "OPERATOR", "SHOP")
            if kind in thread.current
        )
        order_id = _s(thread.order_id)
        not_needed = ",".join(
            f'{{"date":"{format_ms(ms)}","user_type":{_s(user_type)}}}'
            for ms, user_type in thread.no_store_reply_needed
        )
        return (
            f'{{"authorized_participants":[{customer},{participants["OPERATOR"]}'
            f',{participants["SHOP"]}],"current_participants":[{current}]'
            f',"date_created":"{format_ms(thread.created_ms)}"'
            f',"date_updated":"{format_ms(thread.updated_ms)}"'
            f',"entities":[{{"id":{order_id},"label":{order_id},"type":"MMP_ORDER"}}]'
            f',"id":{_s(thread.thread_id)}'
            f',"metadata":{{"last_message_date":{_dt(last.created_ms if last else None)}'
            f',"last_sender":{self.sender_text(thread, last.sender) if last else "null"}'
            f',"shop_reply_needed_since":{_dt(thread.shop_reply_needed_since)}'
            f',"total_count":{len(thread.messages)}}}'
            f',"no_store_reply_needed":[{not_needed}]'
            f',"topic":{{"type":{_s(thread.topic_type)},"value":{_s(thread.topic_value)}}}}}'
        )

    def message_text(self, thread: Thread, message: Message) -> str:
        """``dumps(self.message_dict(thread, message))``, written directly (no cache)."""
        attachments = ",".join(
            f'{{"id":{_s(a.attachment_id)},"name":{_s(a.name)},"size":{a.size}}}'
            for a in message.attachments
        )
        to = ",".join(self.participant_text(thread, kind) for kind in message.to)
        return (
            f'{{"attachments":[{attachments}],"body":{_s(message.body)}'
            f',"date_created":"{format_ms(message.created_ms)}"'
            f',"from":{self.sender_text(thread, message.sender)}'
            f',"id":{_s(message.message_id)},"to":[{to}]}}'
        )

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

    def message_json(self, thread: Thread, message: Message) -> bytes:
        cache = message.cache
        if cache is None:
            cache = message.cache = self.message_text(thread, message).encode()
        return cache

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


def _participant_text(participant: Participant) -> str:
    name, kind = _s(participant.display_name), _s(participant.type)
    if participant.id is None:
        return f'{{"display_name":{name},"type":{kind}}}'
    return f'{{"display_name":{name},"id":{_s(participant.id)},"type":{kind}}}'


def _line_commission_total(line: Line) -> Decimal:
    commission = q2(line.price * line.commission_rate)
    return commission + q2(commission * IVA_RATE / _HUNDRED)
