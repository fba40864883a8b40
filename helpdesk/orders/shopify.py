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
    ActionRequest,
    ActionResult,
    Connector,
    CustomerData,
    FulfillmentData,
    LineItemData,
    OrderData,
    OrderPage,
    PayloadError,
    PlatformError,
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
from helpdesk.orders.platform import Credentials, CredentialsOf, Field, Inbound, Platform, WebhookRefused

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

    ACTIONS = ("refund", "cancel", "reship", "update_address", "resend_confirmation")

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any]) -> ShopifyConnector:
        return cls(credentials["shop"], credentials.get("access_token") or "", credentials.get("api_url"))

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

    def payment_references(self, order_id: str) -> list[str]:
        """orders/{id}/transactions: the gateway's ids of the money taken (a Stripe or PayPal
        gateway puts the charge or capture id in `authorization`, or its receipt's `id`)."""
        body = obj(self._get(f"{self.api_url}/orders/{order_id}/transactions.json").json(), "body")
        found: list[str] = []
        for tx in items(body, "transactions"):
            tx = obj(tx, "transactions[]")
            if tx.get("kind") not in ("sale", "capture", "authorization") or tx.get("status") not in (None, "success"):
                continue
            receipt = tx.get("receipt") if isinstance(tx.get("receipt"), Mapping) else {}
            for value in (receipt.get("charge"), receipt.get("payment_intent"), receipt.get("id"),
                          tx.get("authorization")):
                if isinstance(value, str) and value and value not in found:
                    found.append(value[:255])
        return found

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


    # --- order actions (Admin REST) -----------------------------------------------------------

    def _order_json(self, order_id: str) -> Mapping[str, Any]:
        return obj(self._get(f"{self.api_url}/orders/{order_id}.json").json().get("order"), "order")

    def _refund_body(self, request: ActionRequest, *, whole: bool) -> dict[str, Any]:
        restock = "return" if request.restock else "no_restock"
        body: dict[str, Any] = {"currency": request.currency}
        if whole:
            body["shipping"] = {"full_refund": True}
        elif request.shipping:
            body["shipping"] = {"amount": f"{request.shipping:.2f}"}
        if request.lines:
            body["refund_line_items"] = [{"line_item_id": int(li.external_id) if li.external_id.isdigit()
                                          else li.external_id, "quantity": li.quantity, "restock_type": restock}
                                         for li in request.lines]
        return body

    def refund_quote(self, request: ActionRequest) -> dict[str, Any]:
        """refunds/calculate: what Shopify would refund, and through which transaction."""
        whole = request.whole or (request.amount is None and not request.lines)
        body = {"refund": self._refund_body(request, whole=whole)}
        if whole:  # a whole refund gives back every line too
            order = self._order_json(request.order_id)
            body["refund"]["refund_line_items"] = [
                {"line_item_id": li["id"], "quantity": li.get("quantity", 1),
                 "restock_type": "return" if request.restock else "no_restock"}
                for li in items(order, "line_items") if isinstance(li, Mapping)]
        calc = obj(self._send("POST", f"{self.api_url}/orders/{request.order_id}/refunds/calculate.json",
                              body).json().get("refund"), "refund")
        suggested = [obj(t, "transactions[]") for t in items(calc, "transactions")]
        amount = sum((money(t, "amount") or Decimal("0") for t in suggested), Decimal("0"))
        if request.amount is not None and not whole:
            # An amount of its own: what the payments can still give back of it.
            most = sum((money(t, "maximum_refundable") or Decimal("0") for t in suggested), Decimal("0"))
            amount = min(request.amount, most)
        return {"amount": f"{amount:.2f}", "currency": text(calc, "currency", 8) or request.currency,
                "shipping": (calc.get("shipping") or {}).get("amount"), "calculation": calc}

    def refund(self, request: ActionRequest) -> ActionResult:
        quote = self.refund_quote(request)
        calc = quote["calculation"]
        transactions = []
        # A given amount is spread over the suggested transactions; a whole refund takes them as they are.
        remaining = None if request.whole else request.amount
        for tx in items(calc, "transactions"):
            tx = obj(tx, "transactions[]")
            amount = money(tx, "amount") or Decimal("0")
            if remaining is not None:
                most = money(tx, "maximum_refundable") or amount
                amount, remaining = min(most, remaining), remaining - min(most, remaining)
            if amount > 0:
                transactions.append({"parent_id": tx.get("parent_id"), "amount": f"{amount:.2f}",
                                     "kind": "refund", "gateway": tx.get("gateway")})
        if remaining is not None and remaining > 0:
            if not transactions and not items(calc, "transactions"):
                raise PlatformError("shopify: no payment on this order can be refunded")
            raise PlatformError(f"shopify: only {quote['amount']} {quote['currency']} can be refunded")
        body = {"refund": {**{k: v for k, v in calc.items() if k in ("currency", "shipping", "refund_line_items")},
                           "notify": request.notify, "note": request.reason or "", "transactions": transactions}}
        for line in body["refund"].get("refund_line_items") or []:
            for key in ("price", "subtotal", "total_tax", "discounted_price", "discounted_total_price",
                        "total_cart_discount_amount"):
                line.pop(key, None)
        made = obj(self._send("POST", f"{self.api_url}/orders/{request.order_id}/refunds.json", body)
                   .json().get("refund"), "refund")
        _order_id, refund = self.parse_refund(made)
        return ActionResult(f"Refunded {refund.amount:.2f} {request.currency}", refund.external_id, refund.amount)

    def cancel(self, request: ActionRequest) -> ActionResult:
        body: dict[str, Any] = {"reason": _cancel_reason(request.reason), "email": request.notify,
                                "restock": request.restock}
        if request.refund and request.amount:
            body.update(amount=f"{request.amount:.2f}", currency=request.currency)
        self._send("POST", f"{self.api_url}/orders/{request.order_id}/cancel.json", body)
        refunded = f", refunded {request.amount:.2f} {request.currency}" if request.refund and request.amount else ""
        return ActionResult(f"Cancelled{' and restocked' if request.restock else ''}{refunded}",
                            amount=request.amount if request.refund else None)

    def reship(self, request: ActionRequest) -> ActionResult:
        """A draft order of the same variants at zero price (a 100 % discount), completed on request."""
        order = self._order_json(request.order_id)
        wanted = {li.external_id: li.quantity for li in request.lines}
        lines = []
        for li in items(order, "line_items"):
            li = obj(li, "line_items[]")
            quantity = wanted.get(str(li.get("id")), 0) if wanted else integer(li, "quantity", 1)
            if quantity <= 0:
                continue
            line: dict[str, Any] = {"quantity": quantity,
                                    "applied_discount": {"description": "Replacement", "value_type": "percentage",
                                                         "value": "100.0", "title": "Replacement"}}
            if li.get("variant_id"):
                line["variant_id"] = li["variant_id"]
            else:
                line.update(title=li.get("title") or li.get("name") or "Item", price=li.get("price") or "0.00")
            lines.append(line)
        draft: dict[str, Any] = {"line_items": lines, "note": f"Replacement for {order.get('name') or request.order_id}"
                                 + (f": {request.reason}" if request.reason else ""),
                                 "tags": "replacement", "shipping_line": {"title": "Replacement", "price": "0.00"}}
        if isinstance(order.get("customer"), Mapping) and order["customer"].get("id"):
            draft["customer"] = {"id": order["customer"]["id"]}
        if isinstance(order.get("shipping_address"), Mapping):
            draft["shipping_address"] = dict(order["shipping_address"])
        if order.get("email"):
            draft["email"] = order["email"]
        made = obj(self._send("POST", f"{self.api_url}/draft_orders.json", {"draft_order": draft})
                   .json().get("draft_order"), "draft_order")
        draft_id = ident(made, "id")
        if request.complete:
            done = obj(self._send("PUT", f"{self.api_url}/draft_orders/{draft_id}/complete.json",
                                  params={"payment_pending": "false"}).json().get("draft_order"), "draft_order")
            return ActionResult(f"Replacement order created ({done.get('name') or draft_id})", str(done.get("order_id")
                                or draft_id), data={"draft_order_id": draft_id, "order_id": done.get("order_id")})
        return ActionResult(f"Replacement draft {made.get('name') or draft_id} created at zero price", draft_id,
                            data={"draft_order_id": draft_id, "invoice_url": made.get("invoice_url")})

    def update_address(self, request: ActionRequest) -> ActionResult:
        self._send("PUT", f"{self.api_url}/orders/{request.order_id}.json",
                   {"order": {"id": int(request.order_id) if request.order_id.isdigit() else request.order_id,
                              "shipping_address": request.address}})
        return ActionResult("Shipping address updated")

    def resend_confirmation(self, request: ActionRequest) -> ActionResult:
        """REST has no call for it; the Admin GraphQL API's orderInvoiceSend sends the order's email."""
        query = ("mutation OrderInvoiceSend($id: ID!) { orderInvoiceSend(id: $id) "
                 "{ order { id } userErrors { field message } } }")
        answer = self._send("POST", f"{self.api_url}/graphql.json",
                            {"query": query, "variables": {"id": f"gid://shopify/Order/{request.order_id}"}}).json()
        errors = (answer.get("errors") or
                  ((answer.get("data") or {}).get("orderInvoiceSend") or {}).get("userErrors") or [])
        if errors:
            raise PlatformError("shopify: " + "; ".join(str(e.get("message", e)) if isinstance(e, Mapping) else str(e)
                                                        for e in errors))
        return ActionResult("Order confirmation sent again to the customer")


CANCEL_REASONS = {"customer", "inventory", "fraud", "declined", "other"}


def _cancel_reason(reason: str | None) -> str:
    return reason if reason in CANCEL_REASONS else "other" if reason else "customer"


# --- webhooks -------------------------------------------------------------------------------------

ORDER_TOPICS = {"orders/create", "orders/updated", "orders/fulfilled", "orders/cancelled",
                "orders/paid", "orders/partially_fulfilled"}
TOPICS = ORDER_TOPICS | {"refunds/create", "customers/update", "customers/create"}


def receive_webhook(headers: Mapping[str, str], body: bytes, credentials_of: CredentialsOf,
                    default: Credentials | None) -> Inbound:
    """X-Shopify-Shop-Domain names the shop, whose secret signs the body."""
    named = headers.get("X-Shopify-Shop-Domain", "")
    creds = (credentials_of(named) if named else None) or default or {}
    secret = creds.get("webhook_secret") or ""
    if not secret:  # nobody can prove to be Shopify: refuse everyone
        raise WebhookRefused(401, "webhook_not_configured", "Shopify webhooks are not configured "
                             "(HELPDESK_SHOPIFY_WEBHOOK_SECRET or the shop's webhook secret)")
    if not verify_webhook(secret, body, headers.get("X-Shopify-Hmac-Sha256", "")):
        raise WebhookRefused(401, "invalid_signature", "X-Shopify-Hmac-Sha256 does not match the body")
    topic = headers.get("X-Shopify-Topic", "")
    webhook_id = headers.get("X-Shopify-Webhook-Id", "")
    if not webhook_id:
        raise WebhookRefused(400, "missing_webhook_id", "X-Shopify-Webhook-Id is required")
    if topic not in TOPICS:
        return Inbound(result="ignored")
    payload = _json(body)
    shop = creds.get("shop") or named
    inbound = Inbound(delivery_id=webhook_id, topic=topic, shop=shop, payload=payload)
    parser = ShopifyConnector(shop, access_token="")
    if topic in ORDER_TOPICS:
        inbound.orders.append(parser.parse_order(payload))
    elif topic == "refunds/create":
        inbound.refunds.append(parser.parse_refund(payload))
    else:
        inbound.customers.append(parser.parse_customer(payload))
    return inbound


def _json(body: bytes) -> Any:
    import json

    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRefused(400, "malformed_json", "the body is not JSON") from None


PLATFORM = Platform(
    key="shopify", label="Shopify", connector=ShopifyConnector, webhook=receive_webhook,
    fields=(Field("shop", "Shop domain (shop.myshopify.com)", required=True),
            Field("access_token", "Admin API access token", secret=True, required=True),
            Field("api_url", "API URL (default https://{shop}/admin/api/2025-01)"),
            Field("webhook_secret", "Webhook signing secret", secret=True)))


def _next_page_info(link: str) -> str | None:
    match = _NEXT_LINK.search(link)
    if not match:
        return None
    info = _PAGE_INFO.search(match.group(1))
    return info.group(1) if info else None
