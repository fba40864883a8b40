"""Magento 2 (Adobe Commerce): /rest/V1/orders searched by updated_at; no webhooks, so we pull."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from helpdesk.orders.connector import (
    ActionRequest,
    ActionResult,
    Connector,
    CustomerData,
    LineItemData,
    OrderData,
    OrderPage,
    PayloadError,
    PlatformError,
    PlatformRateLimited,
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
from helpdesk.orders.platform import Field, Platform

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

    ACTIONS = ("refund", "cancel", "resend_confirmation")

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any]) -> MagentoConnector:
        return cls(credentials["url"], credentials.get("access_token") or "")

    # --- order actions: credit memos, cancel, the order email -----------------------------------

    def refund(self, request: ActionRequest) -> ActionResult:
        """POST /V1/order/{id}/refund makes a credit memo; an amount alone is an adjustment refund."""
        arguments: dict[str, Any] = {"shipping_amount": float(request.shipping)}
        lines: list[dict[str, Any]] = []
        if request.amount is not None and not request.lines:
            arguments["adjustment_positive"] = float(request.amount)
        else:
            lines = [{"order_item_id": int(li.external_id) if li.external_id.isdigit() else li.external_id,
                      "qty": li.quantity} for li in request.lines]
        if request.restock and lines:
            arguments["extension_attributes"] = {"return_to_stock_items": [li["order_item_id"] for li in lines]}
        body = {"items": lines, "notify": request.notify, "appendComment": bool(request.reason),
                "comment": {"comment": request.reason or "", "is_visible_on_front": 0}, "arguments": arguments}
        memo = self._send("POST", f"{self.api_url}/order/{request.order_id}/refund", body).json()
        amount = request.amount if request.amount is not None else (
            sum((li.price * li.quantity for li in request.lines), Decimal("0")) + request.shipping)
        return ActionResult(f"Refunded {amount:.2f} {request.currency} (credit memo {memo})", str(memo), amount)

    def cancel(self, request: ActionRequest) -> ActionResult:
        refunded = None
        if request.refund and request.amount:
            refunded = self.refund(ActionRequest("refund", request.order_id, request.currency,
                                                 amount=request.amount, reason=request.reason, notify=request.notify))
        try:
            ok = self._send("POST", f"{self.api_url}/orders/{request.order_id}/cancel").json()
        except (PlatformRateLimited, PlatformError) as exc:
            if refunded is None:
                raise
            # The money went back already: never let a retry refund it twice.
            raise PlatformError(f"{refunded.summary}, but the cancel failed ({exc}); cancel it again "
                                "without a refund") from exc
        if ok is not True:
            raise PlatformError("magento: the order cannot be cancelled (it is invoiced or shipped)")
        return ActionResult("Cancelled" + (f", {refunded.summary.lower()}" if refunded else ""),
                            refunded.external_id if refunded else None, refunded.amount if refunded else None)

    def resend_confirmation(self, request: ActionRequest) -> ActionResult:
        if self._send("POST", f"{self.api_url}/orders/{request.order_id}/emails").json() is not True:
            raise PlatformError("magento: the order email was not sent")
        return ActionResult("Order confirmation sent again to the customer")

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
            gateway=text(payment, "method", 64), payment_reference=text(payment, "last_trans_id"),
            subtotal=money(data, "subtotal"),
            shipping_total=money(data, "shipping_amount"), tax_total=money(data, "tax_amount"),
            cancelled_at=updated if status == "cancelled" else None, line_items=lines,
            refunds=[RefundData(external_id="total_refunded", amount=refunded)] if refunded else [],
        )


PLATFORM = Platform(
    key="magento", label="Magento 2", connector=MagentoConnector, pulls=True,
    fields=(Field("url", "Store URL (https://shop.example)", required=True),
            Field("access_token", "Integration access token", secret=True, required=True)),
    extra_settings=("MAGENTO_PULL_SECONDS",))
