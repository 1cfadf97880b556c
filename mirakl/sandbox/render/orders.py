"""Orders as OR11 renders them: order, customer, lines, refunds, cancelations."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mirakl.sandbox.clock import format_ms
from mirakl.sandbox.models import (
    REFUNDABLE_STATES,
    ZERO,
    Cancelation,
    Line,
    Order,
    Refund,
)
from mirakl.sandbox.render.values import (
    IVA_CODE,
    IVA_RATE,
    JSON_IVA,
    date_or_none,
    json_bool,
    json_date,
    json_int,
    json_money,
    json_str,
    json_taxes,
    legacy_refund_state,
    money,
    q2,
    tax_list,
    vat_included,
)

__all__ = ["OrderRenderer"]

_HUNDRED = Decimal("100")
_NO_ADDRESS_STATES = frozenset({"STAGING", "WAITING_ACCEPTANCE", "REFUSED"})


class OrderRenderer:
    """OR11's order payload, as data (``*_dict``) and as JSON text (``*_json``)."""

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
        shipping_state = json_bool(state == "SHIPPING")
        debited = json_date(order.debited_ms)
        return (
            f'{{"acceptance_decision_date":{json_date(order.acceptance_ms)}'
            f',"can_cancel":{shipping_state},"can_shop_ship":{shipping_state}'
            ',"channel":{"code":"ES","label":"España"}'
            f',"commercial_id":{json_str(order.commercial_id)}'
            f',"created_date":"{format_ms(order.created_ms)}","currency_iso_code":"EUR"'
            f',"customer":{self._customer_text(order)}'
            f',"customer_debited_date":{debited}'
            ',"customer_notification_email":'
            f"{json_str(f'notification+{order.notification_token}@notification.mirakl.net')}"
            ',"delivery_date":null,"fulfillment":{"center":{"code":"DEFAULT"}}'
            f',"fully_refunded":{json_bool(order.fully_refunded)}'
            f',"has_customer_message":{json_bool(order.has_customer_message)}'
            f',"has_incident":{json_bool(order.has_incident)}'
            f',"has_invoice":{json_bool(order.has_invoice)}'
            f',"last_updated_date":"{format_ms(order.updated_ms)}"'
            f',"leadtime_to_ship":{json_int(order.leadtime_to_ship)}'
            ',"order_additional_fields":[]'
            f',"order_id":{json_str(order.order_id)}'
            f',"order_lines":[{",".join(rendered)}]'
            f',"order_state":{json_str(state)}'
            ',"order_state_reason_code":null,"order_state_reason_label":null'
            ',"order_tax_mode":"TAX_INCLUDED"'
            f',"paymentType":{json_str(order.payment_type)},"payment_type":{json_str(order.payment_type)}'
            ',"payment_workflow":"PAY_ON_ACCEPTANCE"'
            f',"price":{json_money(price)}'
            ',"promotions":{"applied_promotions":[],"total_deduced_amount":0}'
            ',"quote_id":null'
            f',"shipping_carrier_code":{json_str(carrier.code if carrier else None)}'
            f',"shipping_company":{json_str(carrier.name if carrier else None)}'
            f',"shipping_deadline":"{format_ms(order.shipping_deadline_ms)}"'
            f',"shipping_price":{json_money(shipping)}'
            f',"shipping_tracking":{json_str(tracking)}'
            f',"shipping_tracking_url":{json_str(tracking_url)}'
            f',"shipping_type_code":{json_str(order.shipping_type[0])}'
            f',"shipping_type_label":{json_str(order.shipping_type[1])}'
            f',"shipping_zone_code":{json_str(order.shipping_zone[0])}'
            f',"shipping_zone_label":{json_str(order.shipping_zone[1])}'
            f',"total_commission":{json_money(commission)}'
            f',"total_price":{json_money(price + shipping)}'
            f',"transaction_date":{debited}'
            f',"transaction_number":{json_str(order.transaction_number)}}}'
        )

    def _customer_text(self, order: Order) -> str:
        c = order.customer
        if order.state in _NO_ADDRESS_STATES:
            billing = shipping = "null"
        else:
            address = (
                f'{{"city":{json_str(c.city)},"civility":{json_str(c.civility)}'
                f',"company":{json_str(c.company)},"country":"España","country_iso_code":"ESP"'
                f',"firstname":{json_str(c.firstname)},"lastname":{json_str(c.lastname)}'
                f',"phone":{json_str(c.phone)},"phone_secondary":null,"state":{json_str(c.province)}'
                f',"street_1":{json_str(c.street_1)},"street_2":{json_str(c.street_2)}'
                f',"zip_code":{json_str(c.zip_code)}'
            )
            billing = address + "}"
            shipping = f'{address},"additional_info":{json_str(c.additional_info)}}}'
        return (
            f'{{"billing_address":{billing},"civility":{json_str(c.civility)}'
            f',"customer_id":{json_str(c.customer_id)},"firstname":{json_str(c.firstname)}'
            f',"lastname":{json_str(c.lastname)},"locale":"es_ES","shipping_address":{shipping}}}'
        )

    def _line_text(self, line: Line, commission: Decimal, commission_vat: Decimal) -> str:
        product = line.product
        offer_sku = json_str(product.offer_sku)
        can_refund = line.state in REFUNDABLE_STATES and not line.fully_refunded()
        return (
            f'{{"can_refund":{json_bool(can_refund)}'
            f',"cancelations":[{",".join(self.cancelation_text(c) for c in line.cancelations)}]'
            f',"category_code":{json_str(product.category_code)}'
            f',"category_label":{json_str(product.category_label)}'
            f',"commission_fee":{json_money(commission)},"commission_rate_vat":21.0'
            f',"commission_taxes":[{{"amount":{json_money(commission_vat)},"code":{JSON_IVA},"rate":21.0}}]'
            f',"commission_vat":{json_money(commission_vat)}'
            f',"created_date":"{format_ms(line.created_ms)}"'
            f',"debited_date":{json_date(line.debited_ms)},"description":null'
            f',"last_updated_date":"{format_ms(line.updated_ms)}"'
            f',"offer_id":{json_int(line.offer_id)},"offer_sku":{offer_sku},"offer_state_code":"11"'
            ',"order_line_additional_fields":[]'
            f',"order_line_id":{json_str(line.line_id)},"order_line_index":{json_int(line.index)}'
            f',"order_line_state":{json_str(line.state)}'
            f',"order_line_state_reason_code":{json_str(line.reason_code)}'
            f',"order_line_state_reason_label":{json_str(line.reason_label)}'
            f',"price":{json_money(line.price)},"price_additional_info":null'
            f',"price_unit":{json_money(line.price_unit)}'
            ',"product_medias":[{"media_url":'
            f"{json_str(f'/media/product/image/{product.product_sku}')}"
            ',"mime_type":"image/jpeg","type":"ORIGINAL"}]'
            f',"product_shop_sku":{offer_sku},"product_sku":{json_str(product.product_sku)}'
            f',"product_title":{json_str(product.title)},"promotions":[]'
            f',"quantity":{json_int(line.quantity)},"received_date":{json_date(line.received_ms)}'
            f',"refunds":[{",".join(self.refund_text(r) for r in line.refunds)}]'
            f',"shipped_date":{json_date(line.shipped_ms)}'
            f',"shipping_price":{json_money(line.shipping_price)}'
            ',"shipping_price_additional_unit":null,"shipping_price_unit":null'
            f',"shipping_taxes":[{{"amount":{json_money(vat_included(line.shipping_price))}'
            f',"code":{JSON_IVA},"rate":21.0}}]'
            f',"taxes":[{{"amount":{json_money(vat_included(line.price))},"code":{JSON_IVA},"rate":21.0}}]'
            f',"total_commission":{json_money(commission + commission_vat)}'
            f',"total_price":{json_money(line.price + line.shipping_price)}}}'
        )

    @staticmethod
    def refund_text(refund: Refund) -> str:
        tax = json_money(refund.commission_tax)
        total = json_money(refund.commission_amount + refund.commission_tax)
        return (
            f'{{"amount":{json_money(refund.amount)}'
            f',"commission_amount":{json_money(refund.commission_amount)}'
            f',"commission_tax_amount":{tax}'
            f',"commission_taxes":[{{"amount":{tax},"code":{JSON_IVA}}}]'
            f',"commission_total_amount":{total}'
            f',"created_date":"{format_ms(refund.created_ms)}"'
            f',"id":{json_str(refund.refund_id)},"quantity":{json_int(refund.quantity)}'
            f',"reason_code":{json_str(refund.reason_code)}'
            f',"refund_state":{json_str(refund.state)}'
            f',"shipping_amount":{json_money(refund.shipping_amount)}'
            f',"shipping_taxes":[{json_taxes(refund.shipping_taxes)}]'
            f',"state":{json_str(legacy_refund_state(refund.state))}'
            f',"taxes":[{json_taxes(refund.taxes)}]}}'
        )

    @staticmethod
    def cancelation_text(cancel: Cancelation) -> str:
        total = json_money(cancel.commission_amount + cancel.commission_tax)
        return (
            f'{{"amount":{json_money(cancel.amount)}'
            f',"commission_amount":{json_money(cancel.commission_amount)}'
            f',"commission_taxes":[{{"amount":{json_money(cancel.commission_tax)},"code":{JSON_IVA}}}]'
            f',"commission_total_amount":{total}'
            f',"created_date":"{format_ms(cancel.created_ms)}"'
            f',"id":{json_str(cancel.cancelation_id)},"quantity":{json_int(cancel.quantity)}'
            f',"reason_code":{json_str(cancel.reason_code)}'
            f',"shipping_amount":{json_money(cancel.shipping_amount)}'
            f',"shipping_taxes":[{{"amount":{json_money(cancel.shipping_tax)},"code":{JSON_IVA}}}]'
            f',"taxes":[{{"amount":{json_money(cancel.tax)},"code":{JSON_IVA}}}]}}'
        )

    def order_dict(self, order: Order) -> dict[str, Any]:
        lines = [self.line_dict(line) for line in order.lines]
        price = sum((line.price for line in order.lines), ZERO)
        shipping = sum((line.shipping_price for line in order.lines), ZERO)
        commission = sum((_line_commission_total(line) for line in order.lines), ZERO)
        carrier = order.carrier
        tracking = order.tracking if carrier else None
        return {
            "acceptance_decision_date": date_or_none(order.acceptance_ms),
            "can_cancel": order.state == "SHIPPING",
            "can_shop_ship": order.state == "SHIPPING",
            "channel": {"code": "ES", "label": "España"},
            "commercial_id": order.commercial_id,
            "created_date": format_ms(order.created_ms),
            "currency_iso_code": "EUR",
            "customer": self.customer_dict(order),
            "customer_debited_date": date_or_none(order.debited_ms),
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
            "transaction_date": date_or_none(order.debited_ms),
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
            "can_refund": line.state in REFUNDABLE_STATES and not line.fully_refunded(),
            "cancelations": [self.cancelation_dict(c) for c in line.cancelations],
            "category_code": product.category_code,
            "category_label": product.category_label,
            "commission_fee": money(commission),
            "commission_rate_vat": 21.0,
            "commission_taxes": [{"amount": money(commission_vat), "code": IVA_CODE, "rate": 21.0}],
            "commission_vat": money(commission_vat),
            "created_date": format_ms(line.created_ms),
            "debited_date": date_or_none(line.debited_ms),
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
            "received_date": date_or_none(line.received_ms),
            "refunds": [self.refund_dict(r) for r in line.refunds],
            "shipped_date": date_or_none(line.shipped_ms),
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
            "shipping_taxes": tax_list(refund.shipping_taxes),
            "state": legacy_refund_state(refund.state),
            "taxes": tax_list(refund.taxes),
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


def _line_commission_total(line: Line) -> Decimal:
    commission = q2(line.price * line.commission_rate)
    return commission + q2(commission * IVA_RATE / _HUNDRED)
