"""The JSON shape of an ORDER, for agents (API) and, trimmed, for the shopper who owns it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from helpdesk.orders.models import Order
from helpdesk.tickets.serialize import iso


def amount(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def order_dict(order: Order, *, for_agent: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": order.public_id,
        "number": order.number,
        "name": order.display_name,
        "status": order.status,
        "financial_status": order.financial_status,
        "fulfillment_status": order.fulfillment_status,
        "currency": order.currency,
        "total": amount(order.total),
        "refunded_total": amount(order.refunded_total),
        "placed_at": iso(order.placed_at),
        "cancelled_at": iso(order.cancelled_at),
        "line_items": [{"id": li.external_id, "title": li.title, "variant": li.variant, "sku": li.sku,
                        "quantity": li.quantity, "price": amount(li.price)} for li in order.line_items],
        "fulfillments": [{"status": f.status, "carrier": f.carrier, "tracking_number": f.tracking_number,
                          "tracking_url": f.tracking_url, "shipped_at": iso(f.shipped_at)}
                         for f in order.fulfillments],
        "refunds": [{"amount": amount(r.amount), "note": r.note, "refunded_at": iso(r.refunded_at)}
                    for r in order.refunds],
    }
    if for_agent:
        data.update({
            "platform": order.platform, "shop": order.shop, "platform_order_id": order.order_id,
            "email": order.email, "gateway": order.gateway,
            "customer": {"id": order.customer.public_id, "name": order.customer.display_name}
            if order.customer else None,
            "subtotal": amount(order.subtotal), "shipping_total": amount(order.shipping_total),
            "tax_total": amount(order.tax_total), "cancel_reason": order.cancel_reason,
            "updated_at": iso(order.platform_updated_at),
        })
    return data
