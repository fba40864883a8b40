"""BigCommerce: the V2 Orders API (order, products, shipments); its webhooks carry only an id."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import requests

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
    money,
    obj,
    required_when,
    text,
    when,
)
from helpdesk.orders.platform import Credentials, CredentialsOf, Field, Inbound, Platform, WebhookRefused
from helpdesk.orders.tracking import tracking_link

PAGE_SIZE = 50
# status_id -> (order status, financial status, fulfilment status)
STATUSES: dict[int, tuple[str, str, str]] = {
    0: ("open", "pending", "unfulfilled"),  # Incomplete
    1: ("open", "pending", "unfulfilled"),  # Pending
    2: ("closed", "paid", "fulfilled"),  # Shipped
    3: ("open", "paid", "partial"),  # Partially Shipped
    4: ("closed", "refunded", "unfulfilled"),  # Refunded
    5: ("cancelled", "voided", "unfulfilled"),  # Cancelled
    6: ("open", "failed", "unfulfilled"),  # Declined
    7: ("open", "pending", "unfulfilled"),  # Awaiting Payment
    8: ("open", "paid", "unfulfilled"),  # Awaiting Pickup
    9: ("open", "paid", "unfulfilled"),  # Awaiting Shipment
    10: ("closed", "paid", "fulfilled"),  # Completed
    11: ("open", "paid", "unfulfilled"),  # Awaiting Fulfillment
    12: ("open", "pending", "unfulfilled"),  # Manual Verification Required
    13: ("open", "disputed", "unfulfilled"),  # Disputed
    14: ("open", "partially_refunded", "unfulfilled"),  # Partially Refunded
}


def order_id_of_webhook(payload: Any) -> str:
    """`{"scope": "store/order/updated", "data": {"type": "order", "id": 250}, ...}` -> "250"."""
    data = obj(obj(payload, "body").get("data"), "data")
    return ident(data, "id")


class BigCommerceConnector(Connector):
    platform = "bigcommerce"

    # No resend_confirmation: neither V2 nor V3 has a call that sends an order's email again.
    ACTIONS = ("refund", "cancel", "reship", "update_address")

    def __init__(self, store_hash: str, access_token: str, api_url: str | None = None) -> None:
        super().__init__(store_hash)
        self.api_url = f"{(api_url or 'https://api.bigcommerce.com').rstrip('/')}/stores/{store_hash}/v2"
        self.v3_url = self.api_url[: -len("/v2")] + "/v3"
        self.http.headers.update({"X-Auth-Token": access_token, "Accept": "application/json"})

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any]) -> BigCommerceConnector:
        return cls(credentials["store_hash"], credentials.get("access_token") or "", credentials.get("api_url"))

    # --- order actions: V3 payment actions, V2 status, V2 orders for replacements ---------------

    def _refund_items(self, request: ActionRequest) -> list[dict[str, Any]]:
        order_id = int(request.order_id) if request.order_id.isdigit() else request.order_id
        if request.amount is not None:
            return [{"item_type": "ORDER", "item_id": order_id, "amount": float(request.amount)}]
        return [{"item_type": "PRODUCT", "item_id": int(li.external_id) if li.external_id.isdigit()
                 else li.external_id, "quantity": li.quantity} for li in request.lines]

    def refund_quote(self, request: ActionRequest) -> dict[str, Any]:
        """payment_actions/refund_quotes: the amount and the payment providers it would go back through."""
        body = {"items": self._refund_items(request)}
        quote = obj(self._send("POST", f"{self.v3_url}/orders/{request.order_id}/payment_actions/refund_quotes",
                               body).json().get("data"), "data")
        amount = money(quote, "total_refund_amount") or Decimal("0")
        return {"amount": f"{amount:.2f}", "currency": request.currency, "calculation": quote}

    def refund(self, request: ActionRequest) -> ActionResult:
        quote = self.refund_quote(request)
        methods = quote["calculation"].get("refund_methods") or []
        # Each entry is one way to pay the refund (a list of payments); the first is the original tender.
        payments = [obj(p, "refund_methods[][]") for p in (methods[0] if methods else [])]
        if not payments:
            raise PlatformError("bigcommerce: the refund quote offers no way to pay it back")
        body = {"items": self._refund_items(request), "reason": request.reason or "",
                "payments": [{"provider_id": p.get("provider_id"), "amount": p.get("amount"),
                              "offline": bool(p.get("offline"))} for p in payments]}
        made = obj(self._send("POST", f"{self.v3_url}/orders/{request.order_id}/payment_actions/refunds",
                              body).json().get("data"), "data")
        for payment in made.get("payments") or []:
            if isinstance(payment, Mapping) and payment.get("is_declined"):
                raise PlatformError(f"bigcommerce: refund declined: {payment.get('declined_message') or ''}")
        amount = money(made, "total_amount") or Decimal(quote["amount"])
        return ActionResult(f"Refunded {amount:.2f} {request.currency}", text(made, "id", 64), amount)

    def update_address(self, request: ActionRequest) -> ActionResult:
        """V2 keeps an order's addresses as a sub-resource: change the first (the one it ships to)."""
        found = self._get(f"{self.api_url}/orders/{request.order_id}/shipping_addresses")
        addresses = found.json() if found.content else []
        if not isinstance(addresses, list) or not addresses:
            raise PlatformError("bigcommerce: the order has no shipping address to change")
        target = ident(obj(addresses[0], "shipping_addresses[]"), "id")
        a = request.address
        country = a.get("country_code") or a.get("country") or ""
        body = {k: v for k, v in {
            "first_name": a.get("first_name"), "last_name": a.get("last_name"), "company": a.get("company"),
            "street_1": a.get("address1") or a.get("address_1"), "street_2": a.get("address2") or a.get("address_2"),
            "city": a.get("city"), "state": a.get("province") or a.get("state"),
            "zip": a.get("zip") or a.get("postcode"), "phone": a.get("phone"),
            **({"country_iso2": country.upper()} if len(country) == 2 else {"country": country}),
        }.items() if v}
        self._send("PUT", f"{self.api_url}/orders/{request.order_id}/shipping_addresses/{target}", body)
        return ActionResult("Shipping address updated")

    def reship(self, request: ActionRequest) -> ActionResult:
        """A new V2 order of the same catalogue products (and options) at 0.00, shipped free to the
        original's shipping address, then a staff note on the original naming it."""
        order = obj(self._get(f"{self.api_url}/orders/{request.order_id}").json(), "order")
        found = self._get(f"{self.api_url}/orders/{request.order_id}/products")
        originals = found.json() if found.content else []
        found = self._get(f"{self.api_url}/orders/{request.order_id}/shipping_addresses")
        destinations = found.json() if found.content else []
        if not isinstance(originals, list) or not isinstance(destinations, list):
            raise PayloadError("products", "must be a list")
        wanted = {li.external_id: li.quantity for li in request.lines}
        products = []
        for p in originals:
            p = obj(p, "products[]")
            quantity = wanted.get(str(p.get("id")), 0) if wanted else integer(p, "quantity", 1)
            if quantity > 0:
                products.append(_replacement_line(p, quantity))
        if not products:
            raise PlatformError("bigcommerce: none of the chosen products is on the order")
        billing = obj(order.get("billing_address") or {}, "billing_address")
        body: dict[str, Any] = {
            "customer_id": order.get("customer_id") or 0, "billing_address": _address_fields(billing),
            "products": products, "shipping_cost_inc_tax": 0, "shipping_cost_ex_tax": 0,
            "status_id": 11 if request.complete else 1,  # Awaiting Fulfillment, or Pending for a look first
            "staff_notes": f"Replacement for order #{request.order_id}" + (f": {request.reason}" if request.reason
                                                                           else ""),
        }
        if destinations:
            body["shipping_addresses"] = [_address_fields(obj(destinations[0], "shipping_addresses[]"))]
        made = obj(self._send("POST", f"{self.api_url}/orders", body).json(), "order")
        made_id = ident(made, "id")
        summary = f"Replacement order #{made_id} created at zero price"
        notes = (text(order, "staff_notes", 60000) or "").rstrip()
        note = f"Replacement order #{made_id} created" + (f": {request.reason}" if request.reason else "")
        try:  # PUT replaces staff_notes: keep what the staff wrote there
            self._send("PUT", f"{self.api_url}/orders/{request.order_id}",
                       {"staff_notes": f"{notes}\n{note}" if notes else note})
        except (PlatformRateLimited, PlatformError, requests.RequestException) as exc:
            # The replacement exists: failing (or retrying) now would make a second one.
            summary += f" (the note on #{request.order_id} was not saved: {exc})"
        return ActionResult(summary, made_id, data={"order_id": made_id})

    def cancel(self, request: ActionRequest) -> ActionResult:
        refunded = None
        if request.refund and request.amount:  # first, so a refused refund leaves the order open
            refunded = self.refund(ActionRequest("refund", request.order_id, request.currency,
                                                 amount=request.amount, reason=request.reason))
        try:
            self._send("PUT", f"{self.api_url}/orders/{request.order_id}",
                       {"status_id": 5, **({"staff_notes": request.reason} if request.reason else {})})
        except (PlatformRateLimited, PlatformError) as exc:
            if refunded is None:
                raise
            # The money went back already: never let a retry refund it twice.
            raise PlatformError(f"{refunded.summary}, but the cancel failed ({exc}); cancel it again "
                                "without a refund") from exc
        return ActionResult("Cancelled" + (f", {refunded.summary.lower()}" if refunded else ""),
                            refunded.external_id if refunded else None, refunded.amount if refunded else None)

    def fetch_order(self, order_id: str) -> OrderData:
        order = self._get(f"{self.api_url}/orders/{order_id}").json()
        return self._complete(order)

    def list_orders(self, cursor: str | None = None, *, customer_id: str | None = None,
                    updated_since: str | None = None) -> OrderPage:
        page = int(cursor or 1)
        params: dict[str, Any] = {"page": page, "limit": PAGE_SIZE, "sort": "id:asc"}
        if customer_id:
            params["customer_id"] = customer_id
        if updated_since:
            params["min_date_modified"] = updated_since
        response = self._get(f"{self.api_url}/orders", params=params)
        body = response.json() if response.status_code != 204 and response.content else []
        if not isinstance(body, list):
            raise PayloadError("orders", "must be a list")
        total = None
        if page == 1:
            count = self._get(f"{self.api_url}/orders/count").json()
            total = count.get("count") if isinstance(count, dict) else None
        return OrderPage([self._complete(o) for o in body], str(page + 1) if len(body) == PAGE_SIZE else None,
                         total)

    def _complete(self, order: Any) -> OrderData:
        """An order with its products and shipments, which V2 serves as sub-resources."""
        order_id = ident(obj(order, "order"), "id")
        products = self._get(f"{self.api_url}/orders/{order_id}/products")
        shipments = self._get(f"{self.api_url}/orders/{order_id}/shipments")
        return self.parse_order(order, products.json() if products.content else [],
                                shipments.json() if shipments.content else [])

    def parse_order(self, payload: Any, products: Any = (), shipments: Any = ()) -> OrderData:
        data = obj(payload, "order")
        order_id = ident(data, "id")
        status_id = integer(data, "status_id", 0)
        status, financial, fulfilment = STATUSES.get(status_id, ("open", "pending", "unfulfilled"))
        billing = data.get("billing_address") if isinstance(data.get("billing_address"), Mapping) else {}
        email = text(billing, "email", 254)
        customer_id = data.get("customer_id")
        refunded = money(data, "refunded_amount") or Decimal("0")
        updated = required_when(data, "date_modified")
        if not isinstance(products, list | tuple) or not isinstance(shipments, list | tuple):
            raise PayloadError("products", "must be a list")
        return OrderData(
            platform=self.platform, shop=self.shop, order_id=order_id, number=order_id, name=f"#{order_id}",
            placed_at=required_when(data, "date_created"), updated_at=updated,
            total=money(data, "total_inc_tax", required=True) or Decimal("0"),
            currency=currency(data, "currency_code"), email=email,
            customer=CustomerData(external_id=str(customer_id) if customer_id else None, email=email,
                                  name=full_name(billing.get("first_name"), billing.get("last_name")),
                                  phone=text(billing, "phone", 40)),
            status=status, financial_status=financial, fulfillment_status=fulfilment,
            gateway=text(data, "payment_method", 64), payment_reference=text(data, "payment_provider_id"),
            subtotal=money(data, "subtotal_inc_tax"),
            shipping_total=money(data, "shipping_cost_inc_tax"), tax_total=money(data, "total_tax"),
            cancelled_at=updated if status == "cancelled" else None,
            line_items=[LineItemData(title=text(obj(p, "products[]"), "name") or "Item",
                                     quantity=integer(p, "quantity", 1),
                                     price=money(p, "price_inc_tax") or money(p, "base_price") or Decimal("0"),
                                     external_id=text(p, "id", 64), sku=text(p, "sku", 120)) for p in products],
            fulfillments=[self._shipment(obj(s, "shipments[]")) for s in shipments],
            # V2 keeps only the refunded sum on the order: one refund line stands for it.
            refunds=[RefundData(external_id="refunded_amount", amount=refunded)] if refunded else [],
        )

    @staticmethod
    def _shipment(data: Mapping[str, Any]) -> FulfillmentData:
        carrier = text(data, "shipping_provider", 120) or text(data, "tracking_carrier", 120)
        number = text(data, "tracking_number", 120)
        return FulfillmentData(external_id=ident(data, "id"), status="shipped", carrier=carrier,
                               tracking_number=number,
                               tracking_url=tracking_link(carrier, number, text(data, "tracking_link", 1000)),
                               shipped_at=when(data, "date_created"))


# The writable fields of a V2 order address (a read adds id, order_id, items_total, ...).
ADDRESS_FIELDS = ("first_name", "last_name", "company", "street_1", "street_2", "city", "state", "zip", "country",
                  "country_iso2", "phone", "email")


def _address_fields(address: Mapping[str, Any]) -> dict[str, Any]:
    return {k: address[k] for k in ADDRESS_FIELDS if address.get(k) not in (None, "")}


def _replacement_line(product: Mapping[str, Any], quantity: int) -> dict[str, Any]:
    """One product of a replacement order: the catalogue product with the options the shopper chose
    (a read's `product_option_id` and `value` are a write's `id` and `value`), or, for a custom
    product (product_id 0), its name; at 0.00 both with and without tax, as BigCommerce asks for both."""
    line: dict[str, Any] = {"quantity": quantity, "price_inc_tax": 0, "price_ex_tax": 0}
    if product.get("product_id"):
        line["product_id"] = product["product_id"]
        options = [obj(o, "product_options[]") for o in product.get("product_options") or []]
        if options:
            line["product_options"] = [{"id": o.get("product_option_id"), "value": o.get("value")} for o in options]
    else:
        line["name"] = text(product, "name") or "Item"
        if product.get("sku"):
            line["sku"] = product["sku"]
    return line


# BigCommerce's body names only the changed order (scope, data.id, hash): a few hundred bytes.
MAX_WEBHOOK_BODY = 16 * 1024


def receive_webhook(headers: Mapping[str, str], body: bytes, credentials_of: CredentialsOf,
                    default: Credentials | None) -> Inbound:
    """BigCommerce does not sign webhooks; it sends back the headers given when the hook was made.
    The body names only the store (`producer`) and the order: the order is fetched from the API."""
    import json

    if len(body) > MAX_WEBHOOK_BODY:
        raise WebhookRefused(413, "payload_too_large", "webhook body too large")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        payload = None
    store = str(payload.get("producer", "")).split("/")[-1] if isinstance(payload, dict) else ""
    creds = (credentials_of(store) if store else None) or default or {}
    secret = creds.get("webhook_secret") or ""
    # Unsigned: the secret header is all that proves a call comes from BigCommerce. Without a
    # store that can fetch the order and a secret, nobody can prove it: refuse everyone.
    if not (secret and creds.get("access_token") and creds.get("store_hash")):
        raise WebhookRefused(401, "webhook_not_configured", "BigCommerce webhooks are not configured "
                             "(store hash, access token and the X-Webhook-Secret value)")
    if not hmac.compare_digest(secret.encode(), headers.get("X-Webhook-Secret", "").encode()):
        raise WebhookRefused(401, "invalid_signature", "X-Webhook-Secret is missing or wrong")
    if not isinstance(payload, dict):
        raise WebhookRefused(400, "malformed_json", "the body is not a JSON object")
    scope = str(payload.get("scope") or "")
    if not scope.startswith("store/order/"):
        return Inbound(result="ignored")
    try:
        order_id = order_id_of_webhook(payload)
    except PayloadError as exc:
        raise WebhookRefused(422, "invalid_payload", str(exc)) from None
    delivery = str(payload.get("hash") or f"{scope}:{order_id}:{payload.get('created_at')}")
    return Inbound(delivery_id=delivery, topic=scope, shop=creds.get("store_hash") or store, payload=payload,
                   fetch=[order_id])


PLATFORM = Platform(
    key="bigcommerce", label="BigCommerce", connector=BigCommerceConnector, webhook=receive_webhook,
    fields=(Field("store_hash", "Store hash", required=True),
            Field("access_token", "API account access token", secret=True, required=True),
            Field("api_url", "API URL (default https://api.bigcommerce.com)"),
            Field("webhook_secret", "Value of the X-Webhook-Secret header", secret=True)))
