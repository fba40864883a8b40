"""Local fakes of the shop platforms' APIs on 127.0.0.1, speaking their real paths and JSON.

Each fake keeps its orders in memory, checks the credentials the real API wants, pages the way
the real API pages (Shopify: Link header with page_info; WooCommerce: X-WP-TotalPages;
BigCommerce: page/limit; Magento: searchCriteria), and can answer 429 with Retry-After.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

DATA = Path(__file__).resolve().parent.parent / "data"


def shopify_sample(name: str = "order.json") -> dict[str, Any]:
    """A payload from Shopify's own client's fixtures (tests/data/shopify, MIT)."""
    return json.loads((DATA / "shopify" / name).read_text())


def shopify_order(order_id: int = 450789469, number: int = 1001, email: str = "bob.norman@hostmail.com",
                  updated_at: str = "2008-01-10T11:00:00-05:00", **changes: Any) -> dict[str, Any]:
    """Shopify's sample order as a webhook body, renumbered."""
    order = shopify_sample()["order"]
    order.update(id=order_id, order_number=number, name=f"#{number}", number=number - 1000, email=email,
                 updated_at=updated_at)
    customer_id = 207119551 if order_id == 450789469 else 500_000_000 + order_id
    order["customer"] = {**order["customer"], "email": email, "id": customer_id}
    order.update(changes)
    return order


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any = None  # the JSON a write sent


@dataclass
class FakePlatform:
    """One fake API server; `routes` maps (method, regex) to a function(request, match) -> (status, headers, body)."""

    credentials: dict[str, str] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    throttle_next: int = 0  # answer this many requests with 429 first
    throttle_writes: int = 0  # answer this many writes (POST, PUT) with 429 first
    retry_after: str = "1"
    url: str = ""
    fail_next: tuple[int, Any] | None = None  # the next write gets this (status, body)

    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.method in ("POST", "PUT", "DELETE")]

    def routes(self) -> list[tuple[str, str, Any]]:
        raise NotImplementedError

    def authorised(self, headers: dict[str, str]) -> bool:
        return all(headers.get(k) == v for k, v in self.credentials.items())

    def handle(self, method: str, raw_path: str, headers: dict[str, str],
               body: Any = None) -> tuple[int, dict[str, str], Any]:
        parts = urlsplit(raw_path)
        request = Request(method, parts.path, parse_qs(parts.query), headers, body)
        self.requests.append(request)
        if not self.authorised(headers):
            return 401, {}, {"errors": "[API] Invalid API key or access token"}
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return 429, {"Retry-After": self.retry_after}, {"errors": "Exceeded 2 calls per second"}
        if method != "GET" and self.throttle_writes > 0:
            self.throttle_writes -= 1
            return 429, {"Retry-After": self.retry_after}, {"errors": "Exceeded 2 calls per second"}
        if method != "GET" and self.fail_next is not None:
            status, answer = self.fail_next
            self.fail_next = None
            return status, {}, answer
        for verb, pattern, fn in self.routes():
            match = re.fullmatch(pattern, parts.path)
            if verb == method and match:
                return fn(request, match)
        return 404, {}, {"errors": "Not Found"}


@contextmanager
def serving(fake: FakePlatform) -> Iterator[FakePlatform]:
    """Run `fake` on a free port of 127.0.0.1 for the block."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.answer("GET")

        def do_POST(self) -> None:
            self.answer("POST")

        def do_PUT(self) -> None:
            self.answer("PUT")

        def answer(self, method: str) -> None:
            headers = {k.title(): v for k, v in self.headers.items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            sent = json.loads(raw) if raw else None
            with lock:  # one request at a time changes the fake's orders
                status, extra, body = fake.handle(method, self.path, headers, sent)
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    lock = threading.Lock()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _page(items: list[Any], offset: int, size: int) -> list[Any]:
    return items[offset:offset + size]


@dataclass
class FakeShopify(FakePlatform):
    orders: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 2  # Shopify honours limit up to 250; a small page makes paging visible

    def routes(self) -> list[tuple[str, str, Any]]:
        base = r"/admin/api/2025-01"
        return [("GET", base + r"/orders\.json", self.list),
                ("GET", base + r"/orders/count\.json", self.count),
                ("GET", base + r"/orders/(\d+)\.json", self.one),
                ("GET", base + r"/customers/(\d+)/orders\.json", self.of_customer),
                ("POST", base + r"/orders/(\d+)/refunds/calculate\.json", self.calculate),
                ("POST", base + r"/orders/(\d+)/refunds\.json", self.refund),
                ("POST", base + r"/orders/(\d+)/cancel\.json", self.cancel),
                ("PUT", base + r"/orders/(\d+)\.json", self.update),
                ("POST", base + r"/draft_orders\.json", self.draft),
                ("PUT", base + r"/draft_orders/(\d+)/complete\.json", self.complete),
                ("POST", base + r"/graphql\.json", self.graphql)]

    # --- the action paths, as the Admin REST API answers them ----------------------------------
    drafts: list[dict[str, Any]] = field(default_factory=list)
    gateway_balance: float | None = None  # the payment gateway refuses refunds above this
    emails_sent: list[str] = field(default_factory=list)

    def _order(self, order_id: str) -> dict[str, Any] | None:
        return next((o for o in self.orders if str(o["id"]) == order_id), None)

    @staticmethod
    def _refunded(order: dict[str, Any]) -> float:
        return sum(float(t["amount"]) for r in order.get("refunds") or [] for t in r.get("transactions") or []
                   if t.get("kind") == "refund" and t.get("status") == "success")

    def _bump(self, order: dict[str, Any]) -> None:
        order["updated_at"] = f"2030-01-01T00:{len(self.writes()) // 60 % 60:02d}:{len(self.writes()) % 60:02d}-00:00"

    def calculate(self, request: Request, match: Any) -> Any:
        order = self._order(match.group(1))
        if order is None:
            return 404, {}, {"errors": "Not Found"}
        body = (request.body or {}).get("refund") or {}
        lines = {li["id"]: li for li in order["line_items"]}
        refund_lines, amount = [], 0.0
        for rl in body.get("refund_line_items") or []:
            line = lines.get(rl["line_item_id"])
            if line is None:
                return 422, {}, {"errors": {"refund_line_items": ["line_item_id is invalid"]}}
            if rl["quantity"] > line["quantity"]:
                return 422, {}, {"errors": {"refund_line_items": ["quantity cannot exceed the quantity ordered"]}}
            subtotal = float(line["price"]) * rl["quantity"]
            amount += subtotal
            refund_lines.append({**rl, "price": line["price"], "subtotal": f"{subtotal:.2f}", "total_tax": "0.00"})
        shipping_max = sum(float(x["price"]) for x in order.get("shipping_lines") or [])
        shipping = body.get("shipping") or {}
        ship = shipping_max if shipping.get("full_refund") else float(shipping.get("amount") or 0)
        amount += ship
        left = float(order["total_price"]) - self._refunded(order)
        return 200, {}, {"refund": {
            "currency": order["currency"], "shipping": {"amount": f"{ship:.2f}", "tax": "0.00",
                                                        "maximum_refundable": f"{shipping_max:.2f}"},
            "refund_line_items": refund_lines,
            "transactions": [{"order_id": order["id"], "kind": "suggested_refund", "gateway": "bogus",
                              "parent_id": 801038806, "amount": f"{min(amount, left):.2f}",
                              "currency": order["currency"], "maximum_refundable": f"{left:.2f}"}]}}

    def refund(self, request: Request, match: Any) -> Any:
        order = self._order(match.group(1))
        if order is None:
            return 404, {}, {"errors": "Not Found"}
        body = (request.body or {}).get("refund") or {}
        total = sum(float(t["amount"]) for t in body.get("transactions") or [])
        left = float(order["total_price"]) - self._refunded(order)
        if total > left + 0.001:
            return 422, {}, {"errors": {"amount": [f"must be less than or equal to {left:.2f}"]}}
        if self.gateway_balance is not None and total > self.gateway_balance:
            return 422, {}, {"errors": {"base": ["Refund failed: insufficient funds in the merchant account"]}}
        refund = {"id": 509562969 + len(order.get("refunds") or []), "order_id": order["id"],
                  "created_at": "2030-01-01T00:00:00-00:00", "processed_at": "2030-01-01T00:00:00-00:00",
                  "note": body.get("note"), "refund_line_items": body.get("refund_line_items") or [],
                  "transactions": [{"id": 179259969, "kind": "refund", "status": "success", "gateway": t["gateway"],
                                    "parent_id": t["parent_id"], "amount": t["amount"]}
                                   for t in body.get("transactions") or []]}
        order.setdefault("refunds", []).append(refund)
        order["financial_status"] = "refunded" if self._refunded(order) >= float(order["total_price"]) \
            else "partially_refunded"
        self._bump(order)
        return 201, {}, {"refund": refund}

    def cancel(self, request: Request, match: Any) -> Any:
        order = self._order(match.group(1))
        if order is None:
            return 404, {}, {"errors": "Not Found"}
        if order.get("fulfillment_status") == "fulfilled":
            return 422, {}, {"error": "Cannot cancel an order that has been fulfilled"}
        if order.get("cancelled_at"):
            return 422, {}, {"error": "Order has already been cancelled"}
        body = request.body or {}
        order.update(cancelled_at="2030-01-01T00:00:00-00:00", cancel_reason=body.get("reason"))
        if body.get("amount"):
            order.setdefault("refunds", []).append({
                "id": 609562969, "order_id": order["id"], "created_at": "2030-01-01T00:00:00-00:00",
                "transactions": [{"id": 1, "kind": "refund", "status": "success", "amount": body["amount"]}]})
            order["financial_status"] = "refunded"
        self._bump(order)
        return 200, {}, {"order": order}

    def update(self, request: Request, match: Any) -> Any:
        order = self._order(match.group(1))
        if order is None:
            return 404, {}, {"errors": "Not Found"}
        changes = (request.body or {}).get("order") or {}
        if "shipping_address" in changes:
            if order.get("fulfillment_status") == "fulfilled":
                return 422, {}, {"errors": {"shipping_address": ["cannot be changed once fulfilled"]}}
            order["shipping_address"] = changes["shipping_address"]
        self._bump(order)
        return 200, {}, {"order": order}

    def draft(self, request: Request, _m: Any) -> Any:
        body = (request.body or {}).get("draft_order") or {}
        draft = {**body, "id": 994118539 + len(self.drafts), "name": f"#D{len(self.drafts) + 1}", "status": "open",
                 "invoice_url": "https://shop.example/invoices/abc", "order_id": None}
        self.drafts.append(draft)
        return 201, {}, {"draft_order": draft}

    def complete(self, _r: Request, match: Any) -> Any:
        draft = next((d for d in self.drafts if str(d["id"]) == match.group(1)), None)
        if draft is None:
            return 404, {}, {"errors": "Not Found"}
        draft.update(status="completed", order_id=450789469 + 5000 + len(self.drafts))
        return 200, {}, {"draft_order": draft}

    def graphql(self, request: Request, _m: Any) -> Any:
        body = request.body or {}
        if "orderInvoiceSend" not in body.get("query", ""):
            return 200, {}, {"errors": [{"message": "unknown query"}]}
        gid = body.get("variables", {}).get("id", "")
        if self._order(gid.rsplit("/", 1)[-1]) is None:
            return 200, {}, {"data": {"orderInvoiceSend": {"order": None,
                                                             "userErrors": [{"field": ["id"],
                                                                             "message": "Order does not exist"}]}}}
        self.emails_sent.append(gid)
        return 200, {}, {"data": {"orderInvoiceSend": {"order": {"id": gid}, "userErrors": []}}}

    def list(self, request: Request, _m: Any, orders: list[dict[str, Any]] | None = None) -> Any:
        orders = self.orders if orders is None else orders
        page_info = request.query.get("page_info", [None])[0]
        if page_info and set(request.query) - {"page_info", "limit"}:
            return 400, {}, {"errors": "page_info cannot be combined with other filters"}
        offset = int(base64.urlsafe_b64decode(page_info).decode()) if page_info else 0
        size = min(int(request.query.get("limit", ["50"])[0]), self.page_size)
        headers = {}
        if offset + size < len(orders):
            token = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
            headers["Link"] = f'<{self.url}{request.path}?limit={size}&page_info={token}>; rel="next"'
        return 200, headers, {"orders": _page(orders, offset, size)}

    def count(self, _r: Request, _m: Any) -> Any:
        return 200, {}, {"count": len(self.orders)}

    def one(self, _r: Request, match: Any) -> Any:
        for order in self.orders:
            if str(order["id"]) == match.group(1):
                return 200, {}, {"order": order}
        return 404, {}, {"errors": "Not Found"}

    def of_customer(self, request: Request, match: Any) -> Any:
        mine = [o for o in self.orders if str((o.get("customer") or {}).get("id")) == match.group(1)]
        return self.list(request, match, mine)


def woo_order(order_id: int = 727, email: str = "ann@example.com", status: str = "processing",
              modified: str = "2026-03-22T19:28:02", **changes: Any) -> dict[str, Any]:
    """A WooCommerce v3 order as its REST API documents it."""
    order = {
        "id": order_id, "parent_id": 0, "number": str(order_id), "order_key": "wc_order_58d2d042d1d",
        "created_via": "checkout", "status": status, "currency": "EUR",
        "date_created": "2026-03-22T16:28:02", "date_created_gmt": "2026-03-22T19:28:02",
        "date_modified": "2026-03-22T16:28:08", "date_modified_gmt": modified,
        "discount_total": "0.00", "shipping_total": "10.00", "total_tax": "1.35", "total": "29.35",
        "customer_id": 26,
        "billing": {"first_name": "Ann", "last_name": "Lee", "email": email, "phone": "(555) 555-5555",
                    "address_1": "969 Market", "city": "San Francisco", "country": "US"},
        "shipping": {"first_name": "Ann", "last_name": "Lee", "address_1": "969 Market", "city": "San Francisco",
                     "country": "US"},
        "payment_method": "stripe", "payment_method_title": "Credit card (Stripe)", "transaction_id": "ch_1",
        "date_paid_gmt": "2026-03-22T19:28:08",
        "line_items": [{"id": 315, "name": "Woo Single #1", "product_id": 93, "variation_id": 0, "quantity": 2,
                        "subtotal": "6.00", "total": "6.00", "sku": "", "price": 3},
                       {"id": 316, "name": "Ship Your Idea - Color: Black", "product_id": 22, "variation_id": 23,
                        "quantity": 1, "subtotal": "12.00", "total": "12.00", "sku": "SYI-B", "price": 12}],
        "meta_data": [{"id": 1, "key": "_wc_shipment_tracking_items", "value": [
            {"tracking_provider": "DHL", "tracking_number": "JD014600003828", "date_shipped": "1711152000",
             "tracking_id": "a1b2"}]}],
        "refunds": [],
    }
    order.update(changes)
    return order


@dataclass
class FakeWooCommerce(FakePlatform):
    orders: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 2

    def routes(self) -> list[tuple[str, str, Any]]:
        return [("GET", r"/wp-json/wc/v3/orders", self.list), ("GET", r"/wp-json/wc/v3/orders/(\d+)", self.one),
                ("POST", r"/wp-json/wc/v3/orders/(\d+)/refunds", self.refund),
                ("POST", r"/wp-json/wc/v3/orders", self.create),
                ("PUT", r"/wp-json/wc/v3/orders/(\d+)", self.update),
                ("POST", r"/wp-json/wc/v3/orders/(\d+)/notes", self.note),
                ("POST", r"/wp-json/wc/v3/orders/(\d+)/actions/send_order_details", self.send_details)]

    gateway_error: str | None = None  # the payment gateway refuses the refund with this message
    notes: list[dict[str, Any]] = field(default_factory=list)
    emails_sent: list[str] = field(default_factory=list)

    def _order(self, order_id: str) -> dict[str, Any] | None:
        return next((o for o in self.orders if str(o["id"]) == order_id), None)

    def _bump(self, order: dict[str, Any]) -> None:
        n = len(self.writes())
        order["date_modified_gmt"] = f"2030-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}"

    @staticmethod
    def _invalid_id() -> Any:
        return 404, {}, {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.",
                         "data": {"status": 404}}

    def refund(self, request: Request, match: Any) -> Any:
        order = self._order(match.group(1))
        if order is None:
            return self._invalid_id()
        body = request.body or {}
        amount = float(body.get("amount") or 0)
        left = float(order["total"]) - sum(abs(float(r["total"])) for r in order["refunds"])
        if amount <= 0 or amount > left + 0.001:
            return 500, {}, {"code": "woocommerce_rest_cannot_create_order_refund",
                             "message": "Invalid refund amount.", "data": {"status": 500}}
        if body.get("api_refund") and self.gateway_error:
            return 500, {}, {"code": "woocommerce_rest_cannot_create_order_refund", "message": self.gateway_error,
                             "data": {"status": 500}}
        refund_id = 900 + len(order["refunds"])
        order["refunds"].append({"id": refund_id, "reason": body.get("reason", ""), "total": f"-{amount:.2f}"})
        if amount >= left - 0.001:
            order["status"] = "refunded"
        self._bump(order)
        return 201, {}, {"id": refund_id, "date_created": "2030-01-01T00:00:00", "amount": f"{amount:.2f}",
                         "reason": body.get("reason", ""), "refunded_by": 1, "refunded_payment": bool(
                             body.get("api_refund")), "line_items": body.get("line_items") or []}

    def update(self, request: Request, match: Any) -> Any:
        order = self._order(match.group(1))
        if order is None:
            return self._invalid_id()
        body = request.body or {}
        if body.get("status") == "cancelled" and order["status"] == "completed":
            return 400, {}, {"code": "woocommerce_rest_invalid_order_status",
                             "message": "A completed order cannot be cancelled.", "data": {"status": 400}}
        if "status" in body:
            order["status"] = body["status"]
        if "shipping" in body:
            order["shipping"] = {**order["shipping"], **body["shipping"]}
        self._bump(order)
        return 200, {}, order

    def create(self, request: Request, _m: Any) -> Any:
        body = request.body or {}
        if not body.get("line_items"):
            return 400, {}, {"code": "woocommerce_rest_required_product_reference_missing",
                             "message": "Product ID or SKU is required.", "data": {"status": 400}}
        new_id = max([int(o["id"]) for o in self.orders] + [1000]) + 1
        order = {**woo_order(order_id=new_id), **body, "id": new_id, "number": str(new_id), "total": "0.00",
                 "shipping_total": "0.00", "total_tax": "0.00", "refunds": [], "meta_data": body.get("meta_data", [])}
        self.orders.append(order)
        return 201, {}, order

    def note(self, request: Request, match: Any) -> Any:
        self.notes.append({"order": match.group(1), **(request.body or {})})
        return 201, {}, {"id": len(self.notes), **(request.body or {})}

    def send_details(self, _r: Request, match: Any) -> Any:
        order = self._order(match.group(1))
        if order is None:
            return self._invalid_id()
        self.emails_sent.append(match.group(1))
        return 200, {}, {"message": f"Order details sent to {order['billing']['email']}, via REST API."}

    def list(self, request: Request, _m: Any) -> Any:
        page = int(request.query.get("page", ["1"])[0])
        size = min(int(request.query.get("per_page", ["10"])[0]), self.page_size)
        pages = max(1, -(-len(self.orders) // size))
        return 200, {"X-WP-Total": str(len(self.orders)), "X-WP-TotalPages": str(pages)}, \
            _page(self.orders, (page - 1) * size, size)

    def one(self, _r: Request, match: Any) -> Any:
        for order in self.orders:
            if str(order["id"]) == match.group(1):
                return 200, {}, order
        return 404, {}, {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID."}


def bigcommerce_order(order_id: int = 250, email: str = "dev@example.com", status_id: int = 2,
                      modified: str = "Tue, 24 Mar 2026 10:00:00 +0000") -> dict[str, Any]:
    return {
        "id": order_id, "customer_id": 11, "date_created": "Mon, 23 Mar 2026 09:00:00 +0000",
        "date_modified": modified, "status_id": status_id, "status": "Shipped",
        "subtotal_inc_tax": "45.0000", "shipping_cost_inc_tax": "5.0000", "total_tax": "0.0000",
        "total_inc_tax": "50.0000", "currency_code": "USD", "payment_method": "PayPal",
        "payment_status": "captured", "refunded_amount": "0.0000",
        "billing_address": {"first_name": "Dev", "last_name": "Patel", "email": email, "phone": ""},
        "products": {"url": "https://api.bigcommerce.com/stores/abc/v2/orders/250/products",
                     "resource": "/orders/250/products"},
    }


@dataclass
class FakeBigCommerce(FakePlatform):
    store_hash: str = "abc123"
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    products: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    shipments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def routes(self) -> list[tuple[str, str, Any]]:
        base = rf"/stores/{self.store_hash}/v2/orders"
        v3 = rf"/stores/{self.store_hash}/v3/orders"
        return [("GET", base + r"/(\d+)", self.one), ("GET", base + r"/(\d+)/products", self.sub("products")),
                ("GET", base + r"/(\d+)/shipments", self.sub("shipments")), ("GET", base, self.list),
                ("GET", base + r"/count", self.count), ("PUT", base + r"/(\d+)", self.update),
                ("GET", base + r"/(\d+)/shipping_addresses", self.sub("addresses")),
                ("PUT", base + r"/(\d+)/shipping_addresses/(\d+)", self.update_address),
                ("POST", base, self.create),
                ("POST", v3 + r"/(\d+)/payment_actions/refund_quotes", self.quote),
                ("POST", v3 + r"/(\d+)/payment_actions/refunds", self.refund)]

    declined: bool = False  # the payment provider declines the refund
    addresses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    stock: dict[int, int] = field(default_factory=dict)  # catalogue product id -> units left (absent: plenty)

    def create(self, request: Request, _m: Any) -> Any:
        """POST v2/orders: billing address and products required; catalogue products need stock and,
        when a price is overridden, both prices (BigCommerce's own rule)."""
        body = request.body or {}
        billing = body.get("billing_address")
        if not isinstance(billing, dict) or not (billing.get("country") or billing.get("country_iso2")):
            return 400, {}, [{"status": 400, "message": "The field 'billing_address' is invalid."}]
        products = body.get("products")
        if not isinstance(products, list) or not products:
            return 400, {}, [{"status": 400, "message": "The field 'products' cannot be blank."}]
        for p in products:
            if ("price_inc_tax" in p) != ("price_ex_tax" in p):
                return 400, {}, [{"status": 400, "message": "Both price_inc_tax and price_ex_tax are required."}]
            if p.get("product_id") and self.stock.get(p["product_id"], 10**6) < p["quantity"]:
                return 400, {}, [{"status": 400, "message": f"Product {p['product_id']} is out of stock."}]
        order_id = max(self.orders, default=99) + 1
        total = sum(float(p.get("price_inc_tax", 10)) * p["quantity"] for p in products)
        total += float(body.get("shipping_cost_inc_tax", 0))
        order = {**bigcommerce_order(order_id, email=billing.get("email", ""), status_id=body.get("status_id", 1),
                                     modified="Tue, 01 Jan 2030 00:00:00 +0000"),
                 "billing_address": billing, "customer_id": body.get("customer_id", 0),
                 "total_inc_tax": f"{total:.4f}", "subtotal_inc_tax": f"{total:.4f}",
                 "shipping_cost_inc_tax": f"{float(body.get('shipping_cost_inc_tax', 0)):.4f}",
                 "staff_notes": body.get("staff_notes", "")}
        self.orders[order_id] = order
        self.products[order_id] = [{"id": 900 + i, "order_id": order_id, "product_id": p.get("product_id", 0),
                                    "name": p.get("name", "Item"), "quantity": p["quantity"],
                                    "price_inc_tax": f"{float(p.get('price_inc_tax', 10)):.4f}",
                                    "product_options": p.get("product_options", [])}
                                   for i, p in enumerate(products)]
        self.addresses[order_id] = [{"id": 800 + i, "order_id": order_id, **a}
                                    for i, a in enumerate(body.get("shipping_addresses") or [])]
        return 201, {}, order

    def update_address(self, request: Request, match: Any) -> Any:
        rows = self.addresses.get(int(match.group(1))) or []
        row = next((a for a in rows if a["id"] == int(match.group(2))), None)
        if row is None:
            return 404, {}, [{"status": 404, "message": "The requested resource was not found."}]
        if "country_iso2" not in (request.body or {}) and "country" not in (request.body or {}):
            return 400, {}, [{"status": 400, "message": "The field 'country' is invalid."}]
        row.update(request.body or {})
        return 200, {}, row

    @staticmethod
    def _v3_error(status: int, title: str) -> Any:
        return status, {}, {"status": status, "title": title,
                            "type": "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes",
                            "errors": {}}

    def _refund_amount(self, order_id: int, items: list[dict[str, Any]]) -> float:
        products = {p["id"]: p for p in self.products.get(order_id, [])}
        amount = 0.0
        for item in items:
            if item["item_type"] == "ORDER":
                amount += float(item["amount"])
            elif item["item_type"] == "PRODUCT":
                amount += float(products[item["item_id"]]["price_inc_tax"]) * item["quantity"]
        return amount

    def _left(self, order: dict[str, Any]) -> float:
        return float(order["total_inc_tax"]) - float(order["refunded_amount"])

    def quote(self, request: Request, match: Any) -> Any:
        order = self.orders.get(int(match.group(1)))
        if order is None:
            return self._v3_error(404, "Order not found")
        amount = self._refund_amount(order["id"], (request.body or {}).get("items") or [])
        if amount > self._left(order) + 0.001:
            return self._v3_error(422, "Refund amount is greater than remaining amount")
        return 201, {}, {"data": {"order_id": order["id"], "total_refund_amount": amount, "total_refund_tax_amount": 0,
                                  "rounding": 0, "adjustment": 0, "tax_inclusive": True, "refund_methods": [[{
                                      "provider_id": "braintree", "provider_description": "Braintree (Visa 1111)",
                                      "amount": amount, "offline": False, "offline_provider": False,
                                      "offline_reason": ""}]]}, "meta": {}}

    def refund(self, request: Request, match: Any) -> Any:
        order = self.orders.get(int(match.group(1)))
        if order is None:
            return self._v3_error(404, "Order not found")
        body = request.body or {}
        amount = self._refund_amount(order["id"], body.get("items") or [])
        paid = sum(float(p["amount"]) for p in body.get("payments") or [])
        if abs(paid - amount) > 0.001 or amount > self._left(order) + 0.001:
            return self._v3_error(422, "Payments do not add up to the refund amount")
        if self.declined:
            return self._v3_error(422, "The payment provider declined the refund: insufficient funds")
        order["refunded_amount"] = f"{float(order['refunded_amount']) + amount:.4f}"
        order["status_id"] = 4 if self._left(order) <= 0.001 else 14
        order["date_modified"] = f"Tue, 01 Jan 2030 00:00:{len(self.writes()) % 60:02d} +0000"
        return 201, {}, {"data": {"id": 1, "order_id": order["id"], "user_id": 0,
                                  "created": "2030-01-01T00:00:00+00:00", "reason": body.get("reason", ""),
                                  "total_amount": amount, "total_tax": 0,
                                  "uses_merchant_override_values": False,
                                  "payments": [{"id": 1, "provider_id": "braintree", "amount": amount, "offline": False,
                                                "is_declined": False, "declined_message": ""}],
                                  "items": body.get("items")}, "meta": {}}

    def update(self, request: Request, match: Any) -> Any:
        order = self.orders.get(int(match.group(1)))
        if order is None:
            return 404, {}, [{"status": 404, "message": "The requested resource was not found."}]
        body = request.body or {}
        if body.get("status_id") == 5 and order["status_id"] in (2, 10):
            return 400, {}, [{"status": 400, "message": "The order has shipped and cannot be cancelled."}]
        order.update(body)
        order["date_modified"] = f"Tue, 01 Jan 2030 00:00:{len(self.writes()) % 60:02d} +0000"
        return 200, {}, order

    def one(self, _r: Request, match: Any) -> Any:
        order = self.orders.get(int(match.group(1)))
        if order is None:
            return 404, {}, [{"status": 404, "message": "The requested resource was not found."}]
        return 200, {}, order

    def sub(self, name: str) -> Any:
        def answer(_r: Request, match: Any) -> Any:
            rows = getattr(self, name).get(int(match.group(1)))
            return (200, {}, rows) if rows else (204, {}, None)
        return answer

    def list(self, request: Request, _m: Any) -> Any:
        page = int(request.query.get("page", ["1"])[0])
        limit = int(request.query.get("limit", ["50"])[0])
        rows = _page(list(self.orders.values()), (page - 1) * limit, limit)
        return (200, {}, rows) if rows else (204, {}, None)

    def count(self, _r: Request, _m: Any) -> Any:
        return 200, {}, {"count": len(self.orders)}


def magento_order(entity_id: int = 1, email: str = "eva@example.net", updated_at: str = "2026-03-20 10:00:00",
                  status: str = "processing", **changes: Any) -> dict[str, Any]:
    address = {"parent_id": entity_id, "firstname": "Eva", "lastname": "Novak", "street": ["Hauptstr. 1"],
               "city": "Berlin", "postcode": "10115", "country_id": "DE", "region": "Berlin", "region_id": 82,
               "region_code": "BER", "telephone": "+49301234", "email": email, "customer_address_id": 3}
    order = {
        "entity_id": entity_id, "increment_id": f"00000000{entity_id}", "created_at": "2026-03-20 09:00:00",
        "updated_at": updated_at, "status": status, "state": status, "customer_email": email,
        "customer_firstname": "Eva", "customer_lastname": "Novak", "customer_id": 5,
        "order_currency_code": "EUR", "base_currency_code": "EUR", "grand_total": 119.0, "subtotal": 100.0,
        "tax_amount": 19.0, "shipping_amount": 0.0, "total_refunded": None,
        "payment": {"method": "braintree", "amount_ordered": 119.0},
        "items": [{"item_id": 10, "name": "Linen shirt", "sku": "LS-1", "qty_ordered": 1, "qty_shipped": 0,
                   "price": 100.0, "product_type": "configurable"},
                  {"item_id": 11, "parent_item_id": 10, "name": "Linen shirt-M", "sku": "LS-1-M",
                   "qty_ordered": 1, "qty_shipped": 0, "price": 0}],
        "billing_address": {**address, "entity_id": entity_id * 2 - 1, "address_type": "billing"},
        # Magento serves the shipping address only inside the shipping assignments
        "extension_attributes": {"shipping_assignments": [{
            "shipping": {"method": "flatrate_flatrate",
                         "address": {**address, "entity_id": entity_id * 2, "address_type": "shipping"}},
            "items": []}]},
    }
    order.update(changes)
    return order


@dataclass
class FakeMagento(FakePlatform):
    orders: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 100

    def routes(self) -> list[tuple[str, str, Any]]:
        return [("GET", r"/rest/V1/orders", self.search), ("GET", r"/rest/V1/orders/(\d+)", self.one),
                ("POST", r"/rest/V1/order/(\d+)/refund", self.refund),
                ("POST", r"/rest/V1/orders/(\d+)/cancel", self.cancel),
                ("POST", r"/rest/V1/orders/(\d+)/emails", self.email),
                ("PUT", r"/rest/V1/orders/(\d+)", self.save_address)]

    REQUIRED_ADDRESS = ("firstname", "lastname", "street", "city", "postcode", "country_id", "telephone")

    def save_address(self, request: Request, match: Any) -> Any:
        """salesOrderAddressRepositoryV1Save: the whole address, found by entity_id, in {"entity": ...}."""
        entity = (request.body or {}).get("entity")
        if not isinstance(entity, dict):
            return 400, {}, {"message": "\"%fieldName\" is required. Enter and try again.",
                             "parameters": {"fieldName": "entity"}}
        order = self._order(match.group(1))
        stored = None
        for o in self.orders:
            for a in o["extension_attributes"]["shipping_assignments"]:
                if a["shipping"]["address"]["entity_id"] == entity.get("entity_id"):
                    order, stored = o, a["shipping"]["address"]
        if order is None or stored is None or entity.get("parent_id") != order["entity_id"]:
            return self._missing()
        for name in self.REQUIRED_ADDRESS:
            if not entity.get(name):
                return 400, {}, {"message": "\"%fieldName\" is required. Enter and try again.",
                                 "parameters": {"fieldName": name}}
        if not isinstance(entity["street"], list):
            return 400, {}, {"message": "The \"street\" value must be an array."}
        stored.clear()
        stored.update(entity)
        self._bump(order)
        return 200, {}, stored

    emails_sent: list[str] = field(default_factory=list)

    def _order(self, order_id: str) -> dict[str, Any] | None:
        return next((o for o in self.orders if str(o["entity_id"]) == order_id), None)

    def _bump(self, order: dict[str, Any]) -> None:
        n = len(self.writes())
        order["updated_at"] = f"2030-01-01 00:{n // 60 % 60:02d}:{n % 60:02d}"

    @staticmethod
    def _missing() -> Any:
        return 404, {}, {"message": "The entity that was requested doesn't exist. Verify the entity and try again."}

    def refund(self, request: Request, match: Any) -> Any:
        order = self._order(match.group(1))
        if order is None:
            return self._missing()
        body = request.body or {}
        lines = {i["item_id"]: i for i in order["items"]}
        amount = 0.0
        for item in body.get("items") or []:
            line = lines.get(item["order_item_id"])
            if line is None:
                return 400, {}, {"message": "The creditmemo contains product item that is not part of the original "
                                            "order."}
            amount += float(line["price"]) * item["qty"]
        arguments = body.get("arguments") or {}
        amount += float(arguments.get("shipping_amount") or 0) + float(arguments.get("adjustment_positive") or 0)
        left = float(order["grand_total"]) - float(order.get("total_refunded") or 0)
        if amount <= 0:
            return 400, {}, {"message": "The credit memo's total must be positive."}
        if amount > left + 0.001:
            return 400, {}, {"message": "The most money available to refund is %1.", "parameters": [f"{left:.2f}"]}
        order["total_refunded"] = float(order.get("total_refunded") or 0) + amount
        if order["total_refunded"] >= float(order["grand_total"]) - 0.001:
            order["status"] = order["state"] = "closed"
        self._bump(order)
        return 200, {}, 40 + len(self.writes())

    def cancel(self, _r: Request, match: Any) -> Any:
        order = self._order(match.group(1))
        if order is None:
            return self._missing()
        if order["status"] in ("complete", "closed", "canceled"):
            return 200, {}, False
        order["status"] = order["state"] = "canceled"
        self._bump(order)
        return 200, {}, True

    def email(self, _r: Request, match: Any) -> Any:
        if self._order(match.group(1)) is None:
            return self._missing()
        self.emails_sent.append(match.group(1))
        return 200, {}, True

    def search(self, request: Request, _m: Any) -> Any:
        q = {k: v[0] for k, v in request.query.items()}
        prefix = "searchCriteria[filter_groups][0][filters][0]"
        rows = sorted(copy.deepcopy(self.orders), key=lambda o: o["updated_at"])
        if f"{prefix}[field]" in q:
            assert q[f"{prefix}[field]"] == "updated_at"
            since, condition = q[f"{prefix}[value]"], q[f"{prefix}[condition_type]"]
            rows = [o for o in rows if (o["updated_at"] >= since if condition == "gteq" else o["updated_at"] > since)]
        size = int(q.get("searchCriteria[pageSize]", "20"))
        page = int(q.get("searchCriteria[currentPage]", "1"))
        return 200, {}, {"items": _page(rows, (page - 1) * size, size), "total_count": len(rows),
                         "search_criteria": {"page_size": size, "current_page": page}}

    def one(self, _r: Request, match: Any) -> Any:
        for order in self.orders:
            if str(order["entity_id"]) == match.group(1):
                return 200, {}, order
        return 404, {}, {"message": "The entity that was requested doesn't exist."}
