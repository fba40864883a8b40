"""Magento 2 (Adobe Commerce): /rest/V1/orders searched by updated_at; no webhooks, so we pull."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import requests

from helpdesk.orders.connector import (
    TIMEOUT,
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
    error_message,
    full_name,
    ident,
    items,
    money,
    obj,
    required_when,
    retry_after,
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

    # No reship: a replacement at zero price needs the admin order-create flow (custom prices on a
    # quote), which the REST API does not offer; a cart placed by REST would charge the catalogue price.
    ACTIONS = ("refund", "cancel", "update_address", "resend_confirmation")

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any]) -> MagentoConnector:
        return cls(credentials["url"], credentials.get("access_token") or "")

    # --- order actions: credit memos, cancel, the shipping address, the order email ------------

    def _send(self, method: str, url: str, body: Any = None, **kwargs: Any) -> requests.Response:
        response = self.http.request(method, url, json=body, timeout=TIMEOUT, **kwargs)
        if response.status_code == 429:
            raise PlatformRateLimited(retry_after(response))
        if response.status_code >= 400:
            raise PlatformError(f"{self.platform} answered {response.status_code}: {magento_message(response)}")
        return response

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

    def update_address(self, request: ActionRequest) -> ActionResult:
        """salesOrderAddressRepositoryV1 (PUT /V1/orders/{parent_id}) saves the whole order address:
        the one the order ships to, as the shop has it now, with the new fields laid over it."""
        order = obj(self._get(f"{self.api_url}/orders/{request.order_id}").json(), "order")
        if shipped_quantity(order) > 0:  # shipped in the shop since our copy was taken
            raise PlatformError("magento: the order has shipments: the address can no longer change")
        current = shipping_address(order)
        if current is None:
            raise PlatformError("magento: the order has no shipping address to change (a virtual order?)")
        a = request.address
        country = (a.get("country_code") or a.get("country") or "").upper()
        if len(country) != 2 or not country.isalpha():
            raise PlatformError(f"magento: the country must be a two-letter code such as DE, not {country!r}")
        entity = {k: v for k, v in current.items() if k in ENTITY_FIELDS}
        entity.update(parent_id=current.get("parent_id") or int(order["entity_id"]), address_type="shipping",
                      country_id=country, city=a["city"],
                      street=[s for s in (a.get("address1") or a.get("address_1"),
                                          a.get("address2") or a.get("address_2")) if s])
        first, last = a.get("first_name"), a.get("last_name")
        if not (first or last) and a.get("name"):
            first, _, last = a["name"].partition(" ")
        changes = {"firstname": first, "lastname": last, "company": a.get("company"),
                   "postcode": a.get("zip") or a.get("postcode"), "telephone": a.get("phone"),
                   "region": a.get("province") or a.get("state")}
        entity.update({k: v for k, v in changes.items() if v})
        if changes["region"] or country != current.get("country_id"):
            # region_id/region_code name the old region and would win over the new name
            for k in ("region_id", "region_code"):
                entity.pop(k, None)
            if not changes["region"]:
                entity.pop("region", None)
        self._send("PUT", f"{self.api_url}/orders/{order['entity_id']}", {"entity": entity})
        return ActionResult("Shipping address updated")

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
        shipped = ordered = Decimal("0")
        for line in items(data, "items"):
            line = obj(line, "items[]")
            if line.get("parent_item_id"):  # a configurable's child repeats its parent line
                continue
            title = text(line, "name")
            if not title:
                raise PayloadError("items[].name", "is missing")
            shipped += Decimal(str(line.get("qty_shipped") or 0))
            ordered += Decimal(str(line.get("qty_ordered") or 1))
            lines.append(LineItemData(title=title, quantity=int(Decimal(str(line.get("qty_ordered") or 1))),
                                      price=money(line, "price") or Decimal("0"),
                                      external_id=text(line, "item_id", 64), sku=text(line, "sku", 120)))
        if fulfilment == "unfulfilled" and shipped > 0:
            # "processing" covers an order with some shipments too: the items say how far it is
            fulfilment = "fulfilled" if shipped >= ordered else "partial"
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
            shipping_address=address_of(shipping_address(data)),
            refunds=[RefundData(external_id="total_refunded", amount=refunded)] if refunded else [],
        )


# What salesOrderAddressRepositoryV1Save takes (a read adds customer_address_id, vat_*, ...).
ENTITY_FIELDS = ("entity_id", "parent_id", "address_type", "firstname", "lastname", "middlename", "prefix", "suffix",
                 "company", "street", "city", "region", "region_id", "region_code", "postcode", "country_id",
                 "telephone", "fax", "email", "customer_id", "customer_address_id", "vat_id")


def shipping_address(order: Mapping[str, Any]) -> dict[str, Any] | None:
    """An order's shipping address: Magento serves it inside extension_attributes.shipping_assignments."""
    extension = order.get("extension_attributes")
    for assignment in (extension.get("shipping_assignments") or []) if isinstance(extension, Mapping) else []:
        shipping = assignment.get("shipping") if isinstance(assignment, Mapping) else None
        address = shipping.get("address") if isinstance(shipping, Mapping) else None
        if isinstance(address, Mapping) and address.get("entity_id"):
            return dict(address)
    return None


def address_of(address: Mapping[str, Any] | None) -> dict[str, Any]:
    """A Magento order address in the keys the helpdesk stores (and the address dialog fills in)."""
    if not address:
        return {}
    street = address.get("street") if isinstance(address.get("street"), list) else [address.get("street")]
    values = {"first_name": address.get("firstname"), "last_name": address.get("lastname"),
              "company": address.get("company"), "address1": street[0] if street else None,
              "address2": ", ".join(str(s) for s in street[1:] if s) or None, "city": address.get("city"),
              "province": address.get("region"), "zip": address.get("postcode"), "country": address.get("country_id"),
              "phone": address.get("telephone")}
    return {k: str(v)[:255] for k, v in values.items() if v not in (None, "")}


def shipped_quantity(order: Mapping[str, Any]) -> Decimal:
    return sum((Decimal(str(li.get("qty_shipped") or 0)) for li in order.get("items") or []
                if isinstance(li, Mapping) and not li.get("parent_item_id")), Decimal("0"))


def magento_message(response: requests.Response) -> str:
    """Magento's `{"message": "\"%fieldName\" is required.", "parameters": {"fieldName": "city"}}`
    names its placeholders; positional ones (%1, a list) the shared reader fills in already."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping) and isinstance(body.get("message"), str) and isinstance(body.get("parameters"),
                                                                                         Mapping):
        message = body["message"]
        for i, (key, value) in enumerate(body["parameters"].items(), 1):
            message = message.replace(f"%{key}", str(value)).replace(f"%{i}", str(value))
        return message[:500]
    return error_message(response)


PLATFORM = Platform(
    key="magento", label="Magento 2", connector=MagentoConnector, pulls=True,
    fields=(Field("url", "Store URL (https://shop.example)", required=True),
            Field("access_token", "Integration access token", secret=True, required=True)),
    extra_settings=("MAGENTO_PULL_SECONDS",))
