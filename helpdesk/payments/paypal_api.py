"""PayPal, through its server SDK: an order's capture, its refunds and disputes.

The SDK speaks Orders and Payments; disputes (`/v1/customer/disputes`) are not in it, so they are
read with the SDK's OAuth token over plain HTTPS. The token is kept per app and fetched again
when PayPal answers 401 (a token revoked or expired before its `expires_in`)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

import requests
from apimatic_core.exceptions.auth_validation_exception import AuthValidationException
from paypalserversdk.configuration import Configuration, Environment
from paypalserversdk.exceptions.api_exception import ApiException
from paypalserversdk.http.auth.o_auth_2 import ClientCredentialsAuthCredentials
from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient

from helpdesk.payments.provider import (
    MAX_LISTED,
    TIMEOUT,
    DisputeData,
    Lookup,
    NotFound,
    PaymentData,
    ProviderError,
    RateLimited,
    decimal,
    iso_time,
    upper,
)

PROVIDER = "paypal"
T = TypeVar("T")


def configured(settings: Mapping[str, Any]) -> bool:
    return bool(settings.get("PAYPAL_CLIENT_ID") and settings.get("PAYPAL_CLIENT_SECRET"))


class _Configuration(Configuration):
    """The SDK's configuration with a base URL of our choosing (a test's fake, a proxy)."""

    base_url: str | None = None

    def get_base_uri(self, server: Any = None) -> str:
        return self.base_url or super().get_base_uri()


class _AuthExpired(Exception):
    pass


class PayPalPayments:
    def __init__(self, client_id: str, client_secret: str, environment: str = "sandbox",
                 api_base: str | None = None) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.environment = Environment.PRODUCTION if environment in ("live", "production") else Environment.SANDBOX
        self.api_base = api_base
        self._token: Any = None  # the SDK's OAuthToken, shared by the calls of this app
        self._lock = threading.Lock()
        self.http = requests.Session()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> PayPalPayments:
        return cls(str(settings["PAYPAL_CLIENT_ID"]), str(settings["PAYPAL_CLIENT_SECRET"]),
                   str(settings.get("PAYPAL_ENVIRONMENT") or "sandbox").lower(),
                   settings.get("PAYPAL_API_BASE") or None)

    def _keep(self, token: Any) -> None:
        with self._lock:
            self._token = token

    def _client(self) -> PaypalServersdkClient:
        config = _Configuration(
            timeout=TIMEOUT[1], max_retries=0, environment=self.environment,
            client_credentials_auth_credentials=ClientCredentialsAuthCredentials(
                o_auth_client_id=self.client_id, o_auth_client_secret=self.client_secret,
                o_auth_token=self._token, o_auth_on_token_update=self._keep))
        config.base_url = self.api_base
        return PaypalServersdkClient(config=config)

    @property
    def base_url(self) -> str:
        return self._client().config.get_base_uri()

    def _call(self, fn: Callable[[PaypalServersdkClient], T]) -> T:
        """One call; on a 401 the token is dropped and fetched again, once."""
        for attempt in (1, 2):
            try:
                return _mapped(fn, self._client())
            except _AuthExpired:
                self._keep(None)
                if attempt == 2:
                    raise ProviderError("PayPal refused the client id and secret (401)") from None
        raise AssertionError("unreachable")

    # -- reads ----------------------------------------------------------------------------

    def payment(self, lookup: Lookup) -> PaymentData:
        reference = lookup.reference or lookup.order_id
        if not reference:
            raise NotFound("the order names no PayPal transaction")
        try:
            capture = self._call(lambda c: _json(c.payments.get_captured_payment({"capture_id": reference})))
            order = None
            related = ((capture.get("supplementary_data") or {}).get("related_ids") or {}).get("order_id")
            if related:
                try:
                    order = self._call(lambda c: _json(c.orders.get_order({"id": related})))
                except NotFound:
                    order = None
        except NotFound:
            # The shop may hold the PayPal order id instead (Checkout's order, not its capture).
            order = self._call(lambda c: _json(c.orders.get_order({"id": reference})))
            captures = [cap for unit in order.get("purchase_units") or []
                        for cap in ((unit.get("payments") or {}).get("captures") or [])]
            if not captures:
                raise NotFound(f"PayPal order {reference} has no capture") from None
            capture = captures[0]
        disputes = self._call(lambda c: self._disputes(str(capture.get("id"))))
        return parse_capture(capture, order, disputes)

    def _disputes(self, transaction_id: str) -> list[dict[str, Any]]:
        """/v1/customer/disputes?disputed_transaction_id=, following its `next` links (bounded)."""
        token = self._token
        if token is None:
            token = self._client().oauth_2.fetch_token()
            self._keep(token)
        url: str | None = f"{self.base_url}/v1/customer/disputes"
        params: dict[str, Any] | None = {"disputed_transaction_id": transaction_id, "page_size": 50}
        found: list[dict[str, Any]] = []
        while url and len(found) < MAX_LISTED:
            response = self.http.get(url, params=params, timeout=TIMEOUT,
                                     headers={"Authorization": f"Bearer {token.access_token}",
                                              "Accept": "application/json"})
            _raise_for(response.status_code, response.headers, response.text)
            body = response.json()
            found.extend(d for d in body.get("items") or [] if isinstance(d, Mapping))
            url = next((link.get("href") for link in body.get("links") or []
                        if isinstance(link, Mapping) and link.get("rel") == "next"), None)
            params = None  # the next link carries the query
        return found[:MAX_LISTED]


def _json(response: Any) -> dict[str, Any]:
    body = json.loads(response.text or "{}")
    if not isinstance(body, dict):
        raise ProviderError("PayPal answered something that is not an object")
    return body


def _mapped(fn: Callable[[PaypalServersdkClient], T], client: PaypalServersdkClient) -> T:
    try:
        return fn(client)
    except AuthValidationException:
        raise _AuthExpired() from None
    except ApiException as exc:
        response = exc.response
        _raise_for(exc.response_code, getattr(response, "headers", {}) or {}, getattr(response, "text", "") or "")
        raise


def _raise_for(status: int, headers: Mapping[str, str], text: str) -> None:
    if status < 400:
        return
    if status == 401:
        raise _AuthExpired()
    if status == 429:
        value = next((v for k, v in dict(headers).items() if k.lower() == "retry-after"), None)
        try:
            raise RateLimited(max(0.0, float(value)) if value is not None else 10.0)
        except ValueError:
            raise RateLimited(10.0) from None
    message = _message(text)
    if status == 404:
        raise NotFound(f"PayPal: {message}")
    if status >= 500:
        raise ConnectionError(f"PayPal answered {status}: {message}")
    raise ProviderError(f"PayPal answered {status}: {message}")


def _message(text: str) -> str:
    """PayPal's error shape: {name, message, details: [{issue, description}], debug_id}."""
    try:
        body = json.loads(text)
    except ValueError:
        return text[:300] or "error"
    if not isinstance(body, dict):
        return "error"
    parts = [str(body.get("message") or body.get("error_description") or body.get("name") or "error")]
    parts += [str(d.get("description") or d.get("issue")) for d in body.get("details") or [] if isinstance(d, Mapping)]
    return "; ".join(parts)[:500]


def _money(value: Any) -> tuple[Any, str | None]:
    value = value if isinstance(value, Mapping) else {}
    return decimal(value.get("value")), upper(value.get("currency_code"))


def parse_capture(capture: Mapping[str, Any], order: Mapping[str, Any] | None,
                  disputes: list[dict[str, Any]]) -> PaymentData:
    amount, currency = _money(capture.get("amount"))
    refunds: list[dict[str, Any]] = []
    for unit in (order or {}).get("purchase_units") or []:
        for refund in ((unit.get("payments") or {}).get("refunds") or []):
            value, _ = _money(refund.get("amount"))
            refunds.append({"id": str(refund.get("id")), "amount": str(value or ""), "status": refund.get("status"),
                            "reason": refund.get("note_to_payer"),
                            "created_at": (t.isoformat() if (t := iso_time(refund.get("create_time"))) else None)})
    refunded = sum((decimal(r["amount"]) or Decimal("0") for r in refunds if r["status"] in (None, "COMPLETED")),
                   start=Decimal("0"))
    status = str(capture.get("status") or "")[:32] or None
    return PaymentData(
        provider=PROVIDER, reference=str(capture.get("id")), status=status, amount=amount, currency=currency,
        captured=amount if status in ("COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED") else None,
        refunded=decimal(refunded) if refunds else None, method="PayPal", refunds=refunds,
        disputes=[parse_dispute(d) for d in disputes],
    )


def parse_dispute(dispute: Mapping[str, Any]) -> DisputeData:
    amount, currency = _money(dispute.get("dispute_amount"))
    transactions = dispute.get("disputed_transactions") or []
    reference = None
    if transactions and isinstance(transactions[0], Mapping):
        reference = transactions[0].get("seller_transaction_id")
    return DisputeData(
        dispute_id=str(dispute.get("dispute_id"))[:64], status=str(dispute.get("status") or "unknown")[:40],
        amount=amount, currency=currency,
        reason=str(dispute.get("reason"))[:64] if dispute.get("reason") else None,
        evidence_due_by=iso_time(dispute.get("seller_response_due_date")), reference=reference,
    )
