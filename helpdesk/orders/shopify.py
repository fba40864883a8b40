"""Shopify: the Admin REST API (2025-01) and its webhook bodies, mapped to OrderData."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from helpdesk.orders.connector import (
    Connector,
    CustomerData,
    FulfillmentData,
    LineItemData,
    OrderData,
    OrderPage,
    PayloadError,
    RefundData,
    currency,
    full_name,
    ident,
    integer,
    items,
    money,
    obj,
    required_when,
    text,
    when,
)

API_VERSION = "2025-01"
PAGE_SIZE = 250
_NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')
_PAGE_INFO = re.compile(r"[?&]page_info=([^&]+)")


def verify_webhook(secret: str, body: bytes, signature: str) -> bool:
    """X-Shopify-Hmac-Sha256: base64 of HMAC-SHA256 of the raw body with the app's secret."""
    if not secret or not signature:
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, signature.strip())


class ShopifyConnector(Connector):
    platform = "shopify"

    def __init__(self, shop: str, access_token: str, api_url: str | None = None) -> None:
        super().__init__(shop)
        self.api_url = (api_url or f"https://{shop}/admin/api/{API_VERSION}").rstrip("/")
        self.http.headers.update({"X-Shopify-Access-Token": access_token, "Accept": "application/json"})

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> ShopifyConnector | None:
        shop = settings.get("SHOPIFY_SHOP")
        if not shop or not settings.get("SHOPIFY_ACCESS_TOKEN"):
            return None
        return cls(shop, settings["SHOPIFY_ACCESS_TOKEN"], settings.get("SHOPIFY_API_URL"))

    def fetch_order(self, order_id: str) -> OrderData:
        return self.parse_order(self._get(f"{self.api_url}/orders/{order_id}.json").json().get("order"))

    def list_orders(self, cursor: str | None = None, *, customer_id: str | None = None,
                    updated_since: str | None = None) -> OrderPage:
        path = f"customers/{customer_id}/orders.json" if customer_id else "orders.json"
        # With page_info Shopify refuses every other filter: the cursor carries them.
        params: dict[str, Any] = {"limit": PAGE_SIZE}
        if cursor:
            params["page_info"] = cursor
        else:
            params["status"] = "any"
            if updated_since:
                params["updated_at_min"] = updated_since
        response = self._get(f"{self.api_url}/{path}", params=params)
        orders = [self.parse_order(o) for o in items(obj(response.json(), "body"), "orders")]
        total = None
        if cursor is None and not customer_id:
            count = self._get(f"{self.api_url}/orders/count.json", params={"status": "any"}).json()
            total = count.get("count") if isinstance(count, dict) else None
        return OrderPage(orders, _next_page_info(response.headers.get("Link", "")), total)

    def parse_order(self, payload: Any) -> OrderData:
        data = obj(payload, "order")
        order_id = ident(data, "id")
        name = text(data, "name", 64) or ""
        number = text(data, "order_number", 64) or name.lstrip("#") or order_id
        cancelled_at = when(data, "cancelled_at")
        status = "cancelled" if cancelled_at else ("closed" if data.get("closed_at") else "open")
        gateways = items(data, "payment_gateway_names")
        customer = None
        if isinstance(data.get("customer"), Mapping):
            customer = self.parse_customer(data["customer"])
        shipping = sum((money(obj(line, "shipping_lines[]"), "price") or Decimal("0")
                        for line in items(data, "shipping_lines")), Decimal("0"))
        address = data.get("shipping_address")
        return OrderData(
            platform=self.platform, shop=self.shop, order_id=order_id, number=number, name=name or f"#{number}",
            placed_at=required_when(data, "created_at"), updated_at=required_when(data, "updated_at"),
            total=money(data, "total_price", required=True) or Decimal("0"), currency=currency(data, "currency"),
            email=text(data, "email", 254) or text(data, "contact_email", 254)
            or (customer.email if customer else None),
            customer=customer, status=status,
            financial_status=text(data, "financial_status", 32),
            fulfillment_status=text(data, "fulfillment_status", 32) or "unfulfilled",
            gateway=text(data, "gateway", 64) or (str(gateways[0])[:64] if gateways else None),
            subtotal=money(data, "subtotal_price"), shipping_total=shipping, tax_total=money(data, "total_tax"),
            cancelled_at=cancelled_at, cancel_reason=text(data, "cancel_reason", 120),
            shipping_address=dict(address) if isinstance(address, Mapping) else {},
            line_items=[self._line_item(obj(li, "line_items[]")) for li in items(data, "line_items")],
            fulfillments=[self._fulfillment(obj(f, "fulfillments[]")) for f in items(data, "fulfillments")],
            refunds=[self.parse_refund(r)[1] for r in items(data, "refunds")] if "refunds" in data else None,
        )

    def parse_refund(self, payload: Any) -> tuple[str, RefundData]:
        """A refunds/create body (or one of an order's refunds): (order id, refund)."""
        data = obj(payload, "refund")
        amount = Decimal("0")
        transactions = items(data, "transactions")
        for tx in transactions:
            tx = obj(tx, "transactions[]")
            if tx.get("kind") == "refund" and tx.get("status") in (None, "success"):
                amount += money(tx, "amount") or Decimal("0")
        if not transactions:  # a refund of items alone: add up what was refunded
            for line in items(data, "refund_line_items"):
                amount += money(obj(line, "refund_line_items[]"), "subtotal") or Decimal("0")
        refund = RefundData(external_id=ident(data, "id"), amount=amount, note=text(data, "note", 2000),
                            refunded_at=when(data, "processed_at") or when(data, "created_at"))
        return ident(data, "order_id"), refund

    def parse_customer(self, payload: Any) -> CustomerData:
        data = obj(payload, "customer")
        return CustomerData(external_id=ident(data, "id"), email=text(data, "email", 254),
                            name=full_name(data.get("first_name"), data.get("last_name")),
                            phone=text(data, "phone", 40))

    @staticmethod
    def _line_item(data: Mapping[str, Any]) -> LineItemData:
        title = text(data, "title") or text(data, "name")
        if not title:
            raise PayloadError("line_items[].title", "is missing")
        return LineItemData(title=title, quantity=integer(data, "quantity", 1),
                            price=money(data, "price") or Decimal("0"), external_id=text(data, "id", 64),
                            variant=text(data, "variant_title"), sku=text(data, "sku", 120))

    @staticmethod
    def _fulfillment(data: Mapping[str, Any]) -> FulfillmentData:
        numbers = items(data, "tracking_numbers")
        urls = items(data, "tracking_urls")
        return FulfillmentData(
            external_id=ident(data, "id"), status=text(data, "status", 32),
            carrier=text(data, "tracking_company", 120),
            tracking_number=text(data, "tracking_number", 120) or (str(numbers[0])[:120] if numbers else None),
            tracking_url=text(data, "tracking_url", 1000) or (str(urls[0])[:1000] if urls else None),
            shipped_at=when(data, "created_at"))


def _next_page_info(link: str) -> str | None:
    match = _NEXT_LINK.search(link)
    if not match:
        return None
    info = _PAGE_INFO.search(match.group(1))
    return info.group(1) if info else None
