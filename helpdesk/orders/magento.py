"""Magento 2 (Adobe Commerce): /rest/V1/orders searched by updated_at; no webhooks, so we pull."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from helpdesk.orders.connector import (
    Connector,
    CustomerData,
    LineItemData,
    OrderData,
    OrderPage,
    PayloadError,
    RefundData,
    currency,
    full_name,
    ident,
    items,
    money,
    obj,
    required_when,
    text,
)

PAGE_SIZE = 100
# Magento's order status -> (order status, financial status, fulfilment status)
STATUSES = {
    "pending": ("open", "pending", "unfulfilled"),
    "pending_payment": ("open", "pending", "unfulfilled"),
    "processing": ("open", "paid", "unfulfilled"),
    "holded": ("open", "paid", "unfulfilled"),
    "payment_review": ("open", "pending", "unfulfilled"),
    "complete": ("closed", "paid", "fulfilled"),
    "closed": ("closed", "refunded", "fulfilled"),
    "canceled": ("cancelled", "voided", "unfulfilled"),
    "fraud": ("open", "disputed", "unfulfilled"),
}


def search_params(since: str | None, page: int) -> dict[str, Any]:
    """searchCriteria for orders updated at or after `since`, oldest first.

    `gteq` rather than `gt`: orders that share the watermark's second are fetched again, which the
    out-of-order guard turns into no-ops, instead of being skipped for ever.
    """
    params: dict[str, Any] = {
        "searchCriteria[sortOrders][0][field]": "updated_at",
        "searchCriteria[sortOrders][0][direction]": "ASC",
        "searchCriteria[pageSize]": PAGE_SIZE,
        "searchCriteria[currentPage]": page,
    }
    if since:
        prefix = "searchCriteria[filter_groups][0][filters][0]"
        params.update({f"{prefix}[field]": "updated_at", f"{prefix}[value]": since,
                       f"{prefix}[condition_type]": "gteq"})
    return params


class MagentoConnector(Connector):
    platform = "magento"

    def __init__(self, url: str, access_token: str) -> None:
        super().__init__(urlsplit(url).netloc or url)
        self.api_url = url.rstrip("/") + "/rest/V1"
        self.http.headers.update({"Authorization": f"Bearer {access_token}", "Accept": "application/json"})

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> MagentoConnector | None:
        url = settings.get("MAGENTO_URL")
        if not url or not settings.get("MAGENTO_ACCESS_TOKEN"):
            return None
        return cls(url, settings["MAGENTO_ACCESS_TOKEN"])

    def fetch_order(self, order_id: str) -> OrderData:
        return self.parse_order(self._get(f"{self.api_url}/orders/{order_id}").json())

    def list_orders(self, cursor: str | None = None, *, customer_id: str | None = None,
                    updated_since: str | None = None) -> OrderPage:
        page = int(cursor or 1)
        params = search_params(updated_since, page)
        if customer_id:
            prefix = "searchCriteria[filter_groups][1][filters][0]"
            params.update({f"{prefix}[field]": "customer_id", f"{prefix}[value]": customer_id,
                           f"{prefix}[condition_type]": "eq"})
        body = obj(self._get(f"{self.api_url}/orders", params=params).json(), "body")
        orders = [self.parse_order(o) for o in items(body, "items")]
        total = body.get("total_count") if isinstance(body.get("total_count"), int) else None
        more = total is not None and page * PAGE_SIZE < total
        return OrderPage(orders, str(page + 1) if more else None, total)

    def parse_order(self, payload: Any) -> OrderData:
        data = obj(payload, "order")
        order_id = ident(data, "entity_id")
        number = text(data, "increment_id", 64) or order_id
        status, financial, fulfilment = STATUSES.get(str(data.get("status") or "pending"),
                                                     ("open", "pending", "unfulfilled"))
        refunded = money(data, "total_refunded") or Decimal("0")
        if refunded and financial == "paid":
            financial = "partially_refunded"
        payment = data.get("payment") if isinstance(data.get("payment"), Mapping) else {}
        email = text(data, "customer_email", 254)
        updated = required_when(data, "updated_at")  # Magento answers in UTC without an offset
        lines = []
        for line in items(data, "items"):
            line = obj(line, "items[]")
            if line.get("parent_item_id"):  # a configurable's child repeats its parent line
                continue
            title = text(line, "name")
            if not title:
                raise PayloadError("items[].name", "is missing")
            lines.append(LineItemData(title=title, quantity=int(Decimal(str(line.get("qty_ordered") or 1))),
                                      price=money(line, "price") or Decimal("0"),
                                      external_id=text(line, "item_id", 64), sku=text(line, "sku", 120)))
        customer_id = data.get("customer_id")
        return OrderData(
            platform=self.platform, shop=self.shop, order_id=order_id, number=number, name=f"#{number}",
            placed_at=required_when(data, "created_at"), updated_at=updated,
            total=money(data, "grand_total", required=True) or Decimal("0"),
            currency=currency(data, "order_currency_code"), email=email,
            customer=CustomerData(external_id=str(customer_id) if customer_id else None, email=email,
                                  name=full_name(data.get("customer_firstname"), data.get("customer_lastname"))),
            status=status, financial_status=financial, fulfillment_status=fulfilment,
            gateway=text(payment, "method", 64), subtotal=money(data, "subtotal"),
            shipping_total=money(data, "shipping_amount"), tax_total=money(data, "tax_amount"),
            cancelled_at=updated if status == "cancelled" else None, line_items=lines,
            refunds=[RefundData(external_id="total_refunded", amount=refunded)] if refunded else [],
        )
