"""WooCommerce: the REST API /wp-json/wc/v3 and its webhook bodies, mapped to OrderData."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

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
    PlatformRateLimited,
    RefundData,
    currency,
    full_name,
    ident,
    integer,
    items,
    money,
    obj,
    text,
    when,
)
from helpdesk.orders.platform import Credentials, CredentialsOf, Field, Inbound, Platform, WebhookRefused
from helpdesk.orders.tracking import tracking_link

PAGE_SIZE = 100
PAID = {"processing", "completed"}
# WooCommerce's order statuses, seen as payment and as the order's life.
FINANCIAL = {"pending": "pending", "on-hold": "pending", "failed": "failed", "refunded": "refunded",
             "cancelled": "voided", "checkout-draft": "pending"}


def verify_webhook(secret: str, body: bytes, signature: str) -> bool:
    """X-WC-Webhook-Signature: base64 of HMAC-SHA256 of the raw body with the webhook's secret."""
    if not secret or not signature:
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, signature.strip())


def shop_of(url: str) -> str:
    return urlsplit(url).netloc or url


class WooCommerceConnector(Connector):
    platform = "woocommerce"

    def __init__(self, url: str, consumer_key: str, consumer_secret: str) -> None:
        super().__init__(shop_of(url))
        self.api_url = url.rstrip("/") + "/wp-json/wc/v3"
        self.http.auth = (consumer_key, consumer_secret)  # HTTP Basic over HTTPS, as Woo documents

    ACTIONS = ("refund", "cancel", "reship", "update_address", "resend_confirmation")

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any]) -> WooCommerceConnector:
        return cls(credentials["url"], credentials.get("consumer_key") or "", credentials.get("consumer_secret") or "")

    # --- order actions (REST v3) --------------------------------------------------------------

    def _note(self, order_id: str, note: str, customer: bool) -> None:
        self._send("POST", f"{self.api_url}/orders/{order_id}/notes", {"note": note, "customer_note": customer})

    def refund(self, request: ActionRequest) -> ActionResult:
        """orders/{id}/refunds with api_refund: WooCommerce asks the payment gateway to pay it back."""
        amount = request.amount
        if amount is None:
            amount = sum((li.price * li.quantity for li in request.lines), Decimal("0")) + request.shipping
        body: dict[str, Any] = {"amount": f"{amount:.2f}", "reason": request.reason or "", "api_refund": True,
                                "api_restock": request.restock}
        if request.lines:
            body["line_items"] = [{"id": int(li.external_id) if li.external_id.isdigit() else li.external_id,
                                   "quantity": li.quantity, "refund_total": f"{li.price * li.quantity:.2f}"}
                                  for li in request.lines]
        made = obj(self._send("POST", f"{self.api_url}/orders/{request.order_id}/refunds", body).json(), "refund")
        refunded = abs(money(made, "amount") or amount)
        return ActionResult(f"Refunded {refunded:.2f} {request.currency}", ident(made, "id"), refunded)

    def cancel(self, request: ActionRequest) -> ActionResult:
        # Cancelling gives stock back in WooCommerce itself; a refund is its own call, made first so
        # a refused refund leaves the order as it was.
        refunded = None
        if request.refund and request.amount:
            refunded = self.refund(ActionRequest("refund", request.order_id, request.currency,
                                                 amount=request.amount, reason=request.reason))
        try:
            self._send("PUT", f"{self.api_url}/orders/{request.order_id}", {"status": "cancelled"})
        except (PlatformRateLimited, PlatformError) as exc:
            if refunded is None:
                raise
            # The money went back already: never let a retry refund it twice.
            raise PlatformError(f"{refunded.summary}, but the cancel failed ({exc}); cancel it again "
                                "without a refund") from exc
        if request.reason:
            self._note(request.order_id, f"Cancelled: {request.reason}", request.notify)
        return ActionResult("Cancelled" + (f", {refunded.summary.lower()}" if refunded else ""),
                            refunded.external_id if refunded else None, refunded.amount if refunded else None)

    def reship(self, request: ActionRequest) -> ActionResult:
        """A new order of the same products at zero price, shipped free, to the same customer."""
        order = obj(self._get(f"{self.api_url}/orders/{request.order_id}").json(), "order")
        wanted = {li.external_id: li.quantity for li in request.lines}
        lines = []
        for li in items(order, "line_items"):
            li = obj(li, "line_items[]")
            quantity = wanted.get(str(li.get("id")), 0) if wanted else integer(li, "quantity", 1)
            if quantity > 0:
                line = {"product_id": li.get("product_id"), "quantity": quantity, "subtotal": "0.00", "total": "0.00"}
                if li.get("variation_id"):
                    line["variation_id"] = li["variation_id"]
                lines.append(line)
        body = {"status": "processing" if request.complete else "pending", "customer_id": order.get("customer_id"),
                "billing": order.get("billing") or {}, "shipping": order.get("shipping") or {}, "line_items": lines,
                "shipping_lines": [{"method_id": "free_shipping", "method_title": "Replacement", "total": "0.00"}],
                "customer_note": request.reason or "",
                "meta_data": [{"key": "_helpdesk_replacement_for", "value": str(request.order_id)}]}
        made = obj(self._send("POST", f"{self.api_url}/orders", body).json(), "order")
        number = text(made, "number", 64) or ident(made, "id")
        self._note(request.order_id, f"Replacement order #{number} created" +
                   (f": {request.reason}" if request.reason else ""), False)
        return ActionResult(f"Replacement order #{number} created at zero price", ident(made, "id"),
                            data={"order_id": ident(made, "id")})

    def update_address(self, request: ActionRequest) -> ActionResult:
        address = {k: v for k, v in request.address.items()
                   if k in ("first_name", "last_name", "company", "address_1", "address_2", "city", "state",
                            "postcode", "country", "phone")}
        self._send("PUT", f"{self.api_url}/orders/{request.order_id}", {"shipping": address})
        return ActionResult("Shipping address updated")

    def resend_confirmation(self, request: ActionRequest) -> ActionResult:
        self._send("POST", f"{self.api_url}/orders/{request.order_id}/actions/send_order_details", {})
        return ActionResult("Order details sent again to the customer")

    def fetch_order(self, order_id: str) -> OrderData:
        return self.parse_order(self._get(f"{self.api_url}/orders/{order_id}").json())

    def list_orders(self, cursor: str | None = None, *, customer_id: str | None = None,
                    updated_since: str | None = None) -> OrderPage:
        page = int(cursor or 1)
        params: dict[str, Any] = {"page": page, "per_page": PAGE_SIZE, "orderby": "id", "order": "asc"}
        if customer_id:
            params["customer"] = customer_id
        if updated_since:
            params["modified_after"] = updated_since
        response = self._get(f"{self.api_url}/orders", params=params)
        body = response.json()
        if not isinstance(body, list):
            raise PayloadError("orders", "must be a list")
        total = response.headers.get("X-WP-Total")
        pages = response.headers.get("X-WP-TotalPages", "")
        # Without the header (a proxy may strip it), a full page means there may be another.
        more = page < int(pages) if pages.isdigit() else len(body) == PAGE_SIZE
        return OrderPage([self.parse_order(o) for o in body], str(page + 1) if more else None,
                         int(total) if total and total.isdigit() else None)

    def parse_order(self, payload: Any) -> OrderData:
        data = obj(payload, "order")
        order_id = ident(data, "id")
        number = text(data, "number", 64) or order_id
        status = text(data, "status", 32) or "pending"
        billing = data.get("billing") if isinstance(data.get("billing"), Mapping) else {}
        email = text(billing, "email", 254)
        customer_id = data.get("customer_id")
        customer = CustomerData(
            external_id=str(customer_id) if customer_id not in (None, 0, "0", "") else None, email=email,
            name=full_name(billing.get("first_name"), billing.get("last_name")), phone=text(billing, "phone", 40))
        refunds = [RefundData(external_id=ident(obj(r, "refunds[]"), "id"),
                              amount=abs(money(r, "total") or Decimal("0")), note=text(r, "reason", 2000))
                   for r in items(data, "refunds")]
        financial = FINANCIAL.get(status) or ("paid" if data.get("date_paid_gmt") or status in PAID else "pending")
        if refunds and financial == "paid":
            financial = "partially_refunded"
        # gmt fields are UTC without an offset; the plain ones are the shop's local time.
        updated = when(data, "date_modified_gmt") or when(data, "date_modified")
        placed = when(data, "date_created_gmt") or when(data, "date_created")
        if placed is None:
            raise PayloadError("date_created_gmt", "is missing")
        shipping = data.get("shipping")
        return OrderData(
            platform=self.platform, shop=self.shop, order_id=order_id, number=number, name=f"#{number}",
            placed_at=placed, updated_at=updated or placed,
            total=money(data, "total", required=True) or Decimal("0"), currency=currency(data, "currency"),
            email=email, customer=customer if (customer.email or customer.external_id) else None,
            status={"cancelled": "cancelled", "completed": "closed", "refunded": "closed"}.get(status, "open"),
            financial_status=financial,
            fulfillment_status="fulfilled" if status == "completed" else "unfulfilled",
            gateway=text(data, "payment_method_title", 64) or text(data, "payment_method", 64),
            payment_reference=text(data, "transaction_id"),  # the gateway plug-in's charge/capture id
            subtotal=sum(((money(obj(li, "line_items[]"), "subtotal") or Decimal("0"))
                          for li in items(data, "line_items")), Decimal("0")),
            shipping_total=money(data, "shipping_total"), tax_total=money(data, "total_tax"),
            cancelled_at=(updated or placed) if status == "cancelled" else None,
            shipping_address=dict(shipping) if isinstance(shipping, Mapping) else {},
            line_items=[self._line_item(obj(li, "line_items[]")) for li in items(data, "line_items")],
            fulfillments=self._tracking(data), refunds=refunds,
        )

    @staticmethod
    def _line_item(data: Mapping[str, Any]) -> LineItemData:
        title = text(data, "name")
        if not title:
            raise PayloadError("line_items[].name", "is missing")
        quantity = integer(data, "quantity", 1)
        price = money(data, "price")
        if price is None:
            total = money(data, "total") or Decimal("0")
            price = (total / quantity).quantize(Decimal("0.01")) if quantity else total
        return LineItemData(title=title, quantity=quantity, price=price, external_id=text(data, "id", 64),
                            sku=text(data, "sku", 120))

    @staticmethod
    def _tracking(data: Mapping[str, Any]) -> list[FulfillmentData]:
        """The Shipment Tracking extension keeps its parcels in the order's meta data."""
        found = []
        for meta in items(data, "meta_data"):
            if not isinstance(meta, Mapping) or meta.get("key") != "_wc_shipment_tracking_items":
                continue
            for parcel in meta.get("value") or []:
                if not isinstance(parcel, Mapping):
                    continue
                carrier = text(parcel, "tracking_provider", 120) or text(parcel, "custom_tracking_provider", 120)
                number = text(parcel, "tracking_number", 120)
                found.append(FulfillmentData(
                    external_id=text(parcel, "tracking_id", 64) or number or str(len(found)), status="shipped",
                    carrier=carrier, tracking_number=number,
                    tracking_url=tracking_link(carrier, number, text(parcel, "custom_tracking_link", 1000))))
        return found


ORDER_TOPICS = {"order.created", "order.updated", "order.restored"}


def _is_ping(body: bytes) -> bool:
    from urllib.parse import parse_qs

    try:
        form = parse_qs(body.decode("ascii"), strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return False
    return list(form) == ["webhook_id"] and form["webhook_id"][0].isdigit()


def receive_webhook(headers: Mapping[str, str], body: bytes, credentials_of: CredentialsOf,
                    default: Credentials | None) -> Inbound:
    """X-WC-Webhook-Source names the shop, whose webhook secret signs the body."""
    import json

    signature = headers.get("X-WC-Webhook-Signature", "")
    source = headers.get("X-WC-Webhook-Source", "")
    creds = (credentials_of(shop_of(source)) if source else None) or default or {}
    if not creds.get("webhook_secret"):  # not even the unsigned ping is answered for a shop we don't know
        raise WebhookRefused(401, "webhook_not_configured", "WooCommerce webhooks are not configured "
                             "(HELPDESK_WOOCOMMERCE_WEBHOOK_SECRET or the shop's webhook secret)")
    if not signature and _is_ping(body):
        # WooCommerce checks a new webhook's URL with an unsigned `webhook_id=N` form post.
        return Inbound(result="ping")
    if not verify_webhook(creds.get("webhook_secret") or "", body, signature):
        raise WebhookRefused(401, "invalid_signature", "X-WC-Webhook-Signature does not match the body")
    topic = headers.get("X-WC-Webhook-Topic", "")
    delivery = headers.get("X-WC-Webhook-Delivery-ID", "")
    if not delivery:
        raise WebhookRefused(400, "missing_webhook_id", "X-WC-Webhook-Delivery-ID is required")
    if topic not in ORDER_TOPICS:
        return Inbound(result="ignored")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRefused(400, "malformed_json", "the body is not JSON") from None
    url = creds.get("url") or source
    parser = WooCommerceConnector(url or "https://woocommerce.invalid", "", "")
    return Inbound(delivery_id=delivery, topic=topic, shop=parser.shop, payload=payload,
                   orders=[parser.parse_order(payload)])


PLATFORM = Platform(
    key="woocommerce", label="WooCommerce", connector=WooCommerceConnector, webhook=receive_webhook,
    fields=(Field("url", "Shop URL (https://shop.example)", required=True),
            Field("consumer_key", "REST API consumer key", secret=True, required=True),
            Field("consumer_secret", "REST API consumer secret", secret=True),
            Field("webhook_secret", "Webhook secret", secret=True)))
