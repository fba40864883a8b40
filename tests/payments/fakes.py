"""Local fakes of Stripe's and PayPal's REST APIs on 127.0.0.1, speaking their real paths and JSON,
driven in the tests by the real client libraries (`stripe`, `paypal-server-sdk`).

Stripe: form-encoded requests with `Authorization: Bearer sk_...`, list objects with `has_more`
and `starting_after` paging, search results, errors as `{"error": {type, code, message, param}}`,
429 with Retry-After. PayPal: OAuth client credentials at /v1/oauth2/token (Basic auth), bearer
tokens that can be expired early (401 invalid_token), captures, checkout orders and disputes
with `links` paging, errors as `{name, message, details, debug_id}`."""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

Answer = tuple[int, dict[str, str], Any]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class Fake:
    url: str = ""
    requests: list[Seen] = field(default_factory=list)
    throttle_next: int = 0  # answer this many requests with 429 first
    retry_after: str = "7"
    on_request: Callable[[], None] | None = None  # a probe run while the caller waits

    def handle(self, method: str, raw_path: str, headers: dict[str, str], raw: bytes) -> Answer:
        raise NotImplementedError


@contextmanager
def serving(fake: Fake) -> Iterator[Fake]:
    """Run `fake` on a free port of 127.0.0.1 for the block."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.answer("GET")

        def do_POST(self) -> None:
            self.answer("POST")

        def answer(self, method: str) -> None:
            headers = {k.title(): v for k, v in self.headers.items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if fake.on_request is not None:
                fake.on_request()
            with lock:
                status, extra, body = fake.handle(method, self.path, headers, raw)
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


# --- Stripe ------------------------------------------------------------------------------------

def stripe_charge(charge_id: str = "ch_3MmlLrLkdIwHu7ix0snN0B15", amount: int = 19900, currency: str = "usd",
                  email: str = "jenny.rosen@example.com", metadata: dict[str, str] | None = None,
                  refunded: int = 0, **changes: Any) -> dict[str, Any]:
    """A charge as GET /v1/charges/{id} answers (trimmed to what a support agent needs)."""
    charge = {
        "id": charge_id, "object": "charge", "amount": amount, "amount_captured": amount,
        "amount_refunded": refunded, "captured": True, "currency": currency, "created": 1679090539,
        "description": None, "disputed": False, "livemode": False, "metadata": metadata or {},
        "paid": True, "payment_intent": "pi_" + charge_id[3:], "refunded": refunded >= amount,
        "status": "succeeded", "receipt_email": email,
        "billing_details": {"address": {"country": "US", "postal_code": "94103"}, "email": email,
                            "name": "Jenny Rosen", "phone": None},
        "payment_method_details": {"type": "card", "card": {"brand": "visa", "last4": "4242",
                                                            "exp_month": 8, "exp_year": 2027}},
    }
    charge.update(changes)
    return charge


def stripe_refund(refund_id: str, charge_id: str, amount: int, created: int = 1679100000,
                  reason: str | None = "requested_by_customer") -> dict[str, Any]:
    return {"id": refund_id, "object": "refund", "amount": amount, "charge": charge_id, "created": created,
            "currency": "usd", "reason": reason, "status": "succeeded", "metadata": {}}


def stripe_dispute(dispute_id: str = "dp_1MtJUT2eZvKYlo2CNaw2HvEv", charge_id: str = "ch_3MmlLrLkdIwHu7ix0snN0B15",
                   amount: int = 19900, status: str = "needs_response", reason: str = "fraudulent",
                   due_by: int = 1798761600) -> dict[str, Any]:
    """A dispute as the API and the charge.dispute.* events carry it (`charge` is an id)."""
    return {
        "id": dispute_id, "object": "dispute", "amount": amount, "balance_transactions": [],
        "charge": charge_id, "created": 1680651737, "currency": "usd",
        "evidence": {"customer_email_address": None, "uncategorized_text": None},
        "evidence_details": {"due_by": due_by, "has_evidence": False, "past_due": False, "submission_count": 0},
        "is_charge_refundable": True, "livemode": False, "metadata": {},
        "payment_intent": "pi_" + charge_id[3:], "reason": reason, "status": status,
    }


def _stripe_error(status: int, type_: str, message: str, code: str | None = None,
                  param: str | None = None) -> Answer:
    error: dict[str, Any] = {"type": type_, "message": message,
                             "request_log_url": "https://dashboard.stripe.com/test/logs/req_fake"}
    if code:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param:
        error["param"] = param
    return status, {"Request-Id": "req_" + secrets.token_hex(7)}, {"error": error}


@dataclass
class FakeStripe(Fake):
    api_key: str = "sk_test_fake"
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    disputes: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 100  # at most this many per list page whatever `limit` asks (to see paging)

    def add_charge(self, charge: dict[str, Any]) -> dict[str, Any]:
        self.charges[charge["id"]] = charge
        return charge

    def handle(self, method: str, raw_path: str, headers: dict[str, str], raw: bytes) -> Answer:
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query)
        self.requests.append(Seen(method, parts.path, query, headers))
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            return _stripe_error(401, "invalid_request_error", "Invalid API Key provided: sk_test_****")
        if self.throttle_next > 0:
            self.throttle_next -= 1
            status, extra, body = _stripe_error(429, "invalid_request_error",
                                                "Request rate limit exceeded. Learn more about rate limits here "
                                                "https://stripe.com/docs/rate-limits.", code="rate_limit")
            return status, {**extra, "Retry-After": self.retry_after}, body
        if method != "GET":
            return _stripe_error(405, "invalid_request_error", "Unrecognized request URL (POST).")
        one = lambda name: (query.get(name) or [None])[0]  # noqa: E731
        if parts.path == "/v1/charges/search":
            return 200, {}, self._search(one("query") or "", int(one("limit") or 10))
        if m := re.fullmatch(r"/v1/charges/([^/]+)", parts.path):
            charge = self.charges.get(m[1])
            if charge is None:
                return _stripe_error(404, "invalid_request_error", f"No such charge: '{m[1]}'",
                                     code="resource_missing", param="id")
            return 200, {}, charge
        if m := re.fullmatch(r"/v1/payment_intents/([^/]+)", parts.path):
            charge = next((c for c in self.charges.values() if c.get("payment_intent") == m[1]), None)
            if charge is None:
                return _stripe_error(404, "invalid_request_error", f"No such payment_intent: '{m[1]}'",
                                     code="resource_missing", param="intent")
            return 200, {}, {"id": m[1], "object": "payment_intent", "amount": charge["amount"],
                             "currency": charge["currency"], "latest_charge": charge["id"], "status": "succeeded"}
        if parts.path in ("/v1/refunds", "/v1/disputes"):
            items = self.refunds if parts.path == "/v1/refunds" else self.disputes
            if one("charge"):
                items = [i for i in items if i["charge"] == one("charge")]
            return 200, {}, self._list(parts.path, items, one("starting_after"), int(one("limit") or 10))
        return _stripe_error(404, "invalid_request_error", f"Unrecognized request URL (GET: {parts.path}).")

    def _list(self, url: str, items: list[dict[str, Any]], after: str | None, limit: int) -> dict[str, Any]:
        # Stripe lists newest first; starting_after is the id of the last item of the page before.
        ordered = sorted(items, key=lambda i: i.get("created", 0), reverse=True)
        start = next((n + 1 for n, i in enumerate(ordered) if i["id"] == after), 0) if after else 0
        size = min(limit, self.page_size)
        page = ordered[start:start + size]
        return {"object": "list", "data": page, "has_more": start + size < len(ordered), "url": url}

    def _search(self, query: str, limit: int) -> dict[str, Any]:
        wanted = re.findall(r"metadata\['(\w+)'\]:'([^']*)'", query)
        found = [c for c in self.charges.values() if any(c["metadata"].get(k) == v for k, v in wanted)]
        return {"object": "search_result", "data": found[:limit], "has_more": len(found) > limit,
                "next_page": None, "url": "/v1/charges/search"}


def stripe_event(event_id: str, kind: str, dispute: dict[str, Any], created: int | None = None) -> dict[str, Any]:
    return {"id": event_id, "object": "event", "api_version": "2025-01-27.acacia",
            "created": created or int(time.time()), "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": kind, "data": {"object": dispute}}


# --- PayPal ------------------------------------------------------------------------------------

def paypal_capture(capture_id: str = "2GG279541U471931P", value: str = "100.00", currency: str = "USD",
                   order_id: str | None = "5O190127TN364715T", status: str = "COMPLETED") -> dict[str, Any]:
    """A capture as GET /v2/payments/captures/{id} answers."""
    capture: dict[str, Any] = {
        "id": capture_id, "status": status, "amount": {"currency_code": currency, "value": value},
        "final_capture": True, "seller_protection": {"status": "ELIGIBLE"},
        "seller_receivable_breakdown": {"gross_amount": {"currency_code": currency, "value": value}},
        "create_time": "2026-11-20T16:27:02Z", "update_time": "2026-11-20T16:27:02Z",
        "links": [{"href": f"/v2/payments/captures/{capture_id}", "rel": "self", "method": "GET"}],
    }
    if order_id:
        capture["supplementary_data"] = {"related_ids": {"order_id": order_id}}
    return capture


def paypal_order(order_id: str, capture: dict[str, Any], refunds: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": order_id, "intent": "CAPTURE", "status": "COMPLETED",
            "payer": {"email_address": "customer@example.com", "payer_id": "QYR5Z8XDVJNXQ"},
            "purchase_units": [{"reference_id": "default", "amount": capture["amount"],
                                "payments": {"captures": [capture], "refunds": refunds or []}}],
            "create_time": "2026-11-20T16:26:40Z"}


def paypal_refund(refund_id: str, value: str, status: str = "COMPLETED") -> dict[str, Any]:
    return {"id": refund_id, "status": status, "amount": {"currency_code": "USD", "value": value},
            "note_to_payer": "Defective product", "create_time": "2026-11-22T09:00:00Z"}


def paypal_dispute(dispute_id: str, transaction_id: str, value: str = "100.00",
                   reason: str = "MERCHANDISE_OR_SERVICE_NOT_RECEIVED", status: str = "OPEN") -> dict[str, Any]:
    return {"dispute_id": dispute_id, "create_time": "2026-11-25T10:00:00.000Z",
            "update_time": "2026-11-25T10:00:00.000Z", "reason": reason, "status": status,
            "dispute_state": "REQUIRED_ACTION", "dispute_amount": {"currency_code": "USD", "value": value},
            "dispute_life_cycle_stage": "INQUIRY", "seller_response_due_date": "2026-12-15T10:00:00.000Z",
            "disputed_transactions": [{"seller_transaction_id": transaction_id}],
            "links": [{"href": f"/v1/customer/disputes/{dispute_id}", "rel": "self", "method": "GET"}]}


def _paypal_error(status: int, name: str, message: str, issue: str | None = None,
                  description: str | None = None) -> Answer:
    body: dict[str, Any] = {"name": name, "message": message, "debug_id": secrets.token_hex(6)}
    if issue:
        body["details"] = [{"issue": issue, "description": description or issue}]
    return status, {"Paypal-Debug-Id": body["debug_id"]}, body


@dataclass
class FakePayPal(Fake):
    client_id: str = "AeA1QIZXiflr1_-r0U2UbWTziOWX1GRQer5jkUq4ZfWT5qwb6qQRPq7jDtv57TL4POEEezGLdutcxnkJ"
    client_secret: str = "ECYYrrSHdKfk_Q0EdvzdGkzj58a66kKaUQ5dZAEv4HvvtDId2_DpSuYDB088BZxGuMji7G4OFUnPog6p"
    captures: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    disputes: list[dict[str, Any]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    tokens_issued: int = 0
    page_size: int = 50

    def expire_tokens(self) -> None:
        """PayPal revoked every token it gave (or they expired early): the next call gets 401."""
        self.tokens.clear()

    def handle(self, method: str, raw_path: str, headers: dict[str, str], raw: bytes) -> Answer:
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query)
        self.requests.append(Seen(method, parts.path, query, headers))
        if parts.path == "/v1/oauth2/token" and method == "POST":
            return self._token(headers, raw)
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return 401, {}, {"error": "invalid_token", "error_description": "Access Token not found in cache"}
        if self.throttle_next > 0:
            self.throttle_next -= 1
            status, extra, body = _paypal_error(429, "RATE_LIMIT_REACHED",
                                                "Too many requests. Blocked due to rate limiting.",
                                                "RATE_LIMIT_REACHED")
            return status, {**extra, "Retry-After": self.retry_after}, body
        missing = _paypal_error(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.",
                                "INVALID_RESOURCE_ID",
                                "Specified resource ID does not exist. Please check the resource ID and try again.")
        if m := re.fullmatch(r"/v2/payments/captures/([^/]+)", parts.path):
            return (200, {}, self.captures[m[1]]) if m[1] in self.captures else missing
        if m := re.fullmatch(r"/v2/checkout/orders/([^/]+)", parts.path):
            return (200, {}, self.orders[m[1]]) if m[1] in self.orders else missing
        if parts.path == "/v1/customer/disputes":
            wanted = (query.get("disputed_transaction_id") or [""])[0]
            found = [d for d in self.disputes
                     if any(t["seller_transaction_id"] == wanted for t in d["disputed_transactions"])]
            start = int((query.get("next_page_token") or ["0"])[0])
            size = min(int((query.get("page_size") or ["10"])[0]), self.page_size)
            body: dict[str, Any] = {"items": found[start:start + size], "links": [
                {"href": f"{self.url}/v1/customer/disputes?{urlencode({'disputed_transaction_id': wanted})}",
                 "rel": "self", "method": "GET"}]}
            if start + size < len(found):
                body["links"].append({"href": f"{self.url}/v1/customer/disputes?" + urlencode(
                    {"disputed_transaction_id": wanted, "page_size": size, "next_page_token": start + size}),
                    "rel": "next", "method": "GET"})
            return 200, {}, body
        return missing

    def _token(self, headers: dict[str, str], raw: bytes) -> Answer:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if headers.get("Authorization") != f"Basic {expected}":
            return 401, {}, {"error": "invalid_client", "error_description": "Client Authentication failed"}
        if parse_qs(raw.decode()).get("grant_type") != ["client_credentials"]:
            return 400, {}, {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"}
        token = "A21AA" + secrets.token_urlsafe(24)
        self.tokens.add(token)
        self.tokens_issued += 1
        return 200, {}, {"scope": "https://uri.paypal.com/services/disputes/read-seller "
                                  "https://uri.paypal.com/services/payments/payment/authcapture",
                         "access_token": token, "token_type": "Bearer", "app_id": "APP-80W284485P519543T",
                         "expires_in": 32400, "nonce": "2026-12-01T12:00:00Z" + secrets.token_hex(8)}
