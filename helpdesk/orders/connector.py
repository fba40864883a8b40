"""What every platform connector returns and raises: plain data, no database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import requests

TIMEOUT = (5, 30)  # connect, read: a shop that hangs must not hang a worker


class PayloadError(ValueError):
    """A platform payload that lacks a field or has one of the wrong type."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name


class PlatformError(Exception):
    """The platform answered with an error we cannot fix by waiting."""


class PlatformRateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited; retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass
class LineItemData:
    title: str
    quantity: int
    price: Decimal
    external_id: str | None = None
    variant: str | None = None
    sku: str | None = None


@dataclass
class FulfillmentData:
    external_id: str
    status: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    shipped_at: datetime | None = None


@dataclass
class RefundData:
    external_id: str
    amount: Decimal
    note: str | None = None
    refunded_at: datetime | None = None


@dataclass
class CustomerData:
    external_id: str | None
    email: str | None
    name: str | None = None
    phone: str | None = None


@dataclass
class OrderData:
    platform: str
    shop: str
    order_id: str
    number: str
    name: str
    placed_at: datetime
    updated_at: datetime
    total: Decimal
    currency: str
    email: str | None = None
    customer: CustomerData | None = None
    status: str = "open"
    financial_status: str | None = None
    fulfillment_status: str | None = None
    gateway: str | None = None
    # The payment provider's id of the money taken (Stripe charge/PaymentIntent, PayPal capture):
    # what payments/ looks the payment up by. None: the shop did not say.
    payment_reference: str | None = None
    subtotal: Decimal | None = None
    shipping_total: Decimal | None = None
    tax_total: Decimal | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    shipping_address: dict[str, Any] = field(default_factory=dict)
    line_items: list[LineItemData] = field(default_factory=list)
    fulfillments: list[FulfillmentData] = field(default_factory=list)
    # None: this payload says nothing about refunds (keep what is stored); []: there are none.
    refunds: list[RefundData] | None = None


@dataclass
class OrderPage:
    orders: list[OrderData]
    next_cursor: str | None  # None: this was the last page
    total: int | None = None


@dataclass
class ActionLine:
    external_id: str  # the platform's line item id
    quantity: int
    price: Decimal = Decimal("0")


@dataclass
class ActionRequest:
    """An order action, checked against the stored order: what to ask the platform for."""

    type: str  # refund, cancel, reship, update_address, resend_confirmation
    order_id: str  # the platform's order id
    currency: str
    amount: Decimal | None = None  # refund: the money to give back (None with lines: their worth)
    lines: list[ActionLine] = field(default_factory=list)
    shipping: Decimal = Decimal("0")  # refund: of the shipping, this much
    restock: bool = False
    refund: bool = False  # cancel: give the money back too
    reason: str | None = None
    notify: bool = False
    address: dict[str, Any] = field(default_factory=dict)
    complete: bool = False  # reship: a completed order rather than a draft
    whole: bool = False  # refund: everything left (amount then says how much that is)


@dataclass
class ActionResult:
    summary: str  # for the note and the audit log: "Refunded 10.00 EUR"
    external_id: str | None = None  # the refund's, the draft's, ...
    amount: Decimal | None = None
    data: dict[str, Any] = field(default_factory=dict)


class Connector:
    """One shop platform. Subclasses speak its API and map its JSON to OrderData."""

    platform: ClassVar[str] = ""
    ACTIONS: ClassVar[tuple[str, ...]] = ()  # the order actions this platform's API can carry out

    def __init__(self, shop: str) -> None:
        self.shop = shop
        self.http = requests.Session()

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any]) -> Connector:
        raise NotImplementedError

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Connector | None:
        """The connector of the default shop configured by settings, or None when it is not set up."""
        from helpdesk.orders import CONNECTORS

        platform = CONNECTORS[cls.platform]
        credentials = platform.env_credentials(settings)
        return platform.connect(credentials) if platform.configured(credentials) else None

    def act(self, request: ActionRequest) -> ActionResult:
        """Carry out one order action on the platform; raises PlatformError with the shop's message."""
        if request.type not in self.ACTIONS:
            raise PlatformError(f"{self.platform} cannot {request.type.replace('_', ' ')} from here")
        return getattr(self, request.type)(request)

    def payment_references(self, order_id: str) -> list[str]:
        """The payment provider's ids of an order's payments, where the order itself does not
        carry them (Shopify: its transactions). [] when the platform cannot tell."""
        return []

    def refund_quote(self, request: ActionRequest) -> dict[str, Any] | None:
        """What the platform would refund for this request, where it can tell (None: it cannot)."""
        return None

    def _send(self, method: str, url: str, body: Any = None, **kwargs: Any) -> requests.Response:
        """A write: the platform's own error message is kept, so a failed action shows it."""
        response = self.http.request(method, url, json=body, timeout=TIMEOUT, **kwargs)
        if response.status_code == 429:
            raise PlatformRateLimited(retry_after(response))
        if response.status_code >= 400:
            raise PlatformError(f"{self.platform} answered {response.status_code}: {error_message(response)}")
        return response

    def parse_order(self, payload: Any) -> OrderData:
        raise NotImplementedError

    def fetch_order(self, order_id: str) -> OrderData:
        raise NotImplementedError

    def list_orders(self, cursor: str | None = None, *, customer_id: str | None = None,
                    updated_since: str | None = None) -> OrderPage:
        raise NotImplementedError

    def _get(self, url: str, **kwargs: Any) -> requests.Response:
        response = self.http.get(url, timeout=TIMEOUT, **kwargs)
        if response.status_code == 429:
            raise PlatformRateLimited(retry_after(response))
        if response.status_code >= 500:
            raise ConnectionError(f"{self.platform} answered {response.status_code}")
        if response.status_code >= 400:
            raise PlatformError(f"{self.platform} answered {response.status_code}: {response.text[:200]}")
        return response


def error_message(response: requests.Response) -> str:
    """The human part of a platform's error body, whichever of their shapes it has."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason or "error"
    parts: list[str] = []

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, str):
            parts.append(f"{key}: {value}" if key and key not in ("base", "message", "error", "errors",
                                                                  "title", "detail") else value)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, Mapping):
            if isinstance(value.get("message"), str) and isinstance(value.get("parameters"), list | dict):
                params = value["parameters"]
                message = value["message"]  # Magento: "The most money available to refund is %1."
                for i, v in enumerate(params.values() if isinstance(params, dict) else params, 1):
                    message = message.replace(f"%{i}", str(v))
                parts.append(message)
                return
            for k in ("message", "title", "error", "errors", "detail"):
                if value.get(k):  # the first that says something (BigCommerce sends `errors: {}`)
                    walk(value[k])
                    return
            for k, v in value.items():
                walk(v, str(k))

    walk(body)
    return "; ".join(parts)[:500] or "error"


def retry_after(response: requests.Response, default: float = 10.0) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return default


# Field readers: each names the field it failed on, so a bad payload gets a clear error.

def obj(data: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise PayloadError(name, "must be an object")
    return data


def items(data: Mapping[str, Any], name: str) -> list[Any]:
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(name, "must be a list")
    return value


def ident(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if isinstance(value, bool) or value in (None, ""):
        raise PayloadError(name, "is missing")
    if not isinstance(value, int | str):
        raise PayloadError(name, "must be a number or text")
    return str(value)[:64]


def text(data: Mapping[str, Any], name: str, limit: int = 255) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PayloadError(name, "must be text")
    return str(value)[:limit]


def money(data: Mapping[str, Any], name: str, *, required: bool = False) -> Decimal | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise PayloadError(name, "is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PayloadError(name, "must be an amount")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise PayloadError(name, f"{value!r} is not an amount") from None
    if not amount.is_finite():
        raise PayloadError(name, "must be a finite amount")
    return amount.quantize(Decimal("0.01"))


def integer(data: Mapping[str, Any], name: str, default: int = 0) -> int:
    value = data.get(name, default)
    if isinstance(value, bool):
        raise PayloadError(name, "must be a whole number")
    try:
        return int(str(value))
    except ValueError:
        raise PayloadError(name, "must be a whole number") from None


def when(data: Mapping[str, Any], name: str, *, required: bool = False, naive_is_utc: bool = True) -> datetime | None:
    value = data.get(name)
    if value in (None, ""):
        if required:
            raise PayloadError(name, "is missing")
        return None
    if not isinstance(value, str):
        raise PayloadError(name, "must be an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        try:  # BigCommerce speaks RFC 2822 ("Tue, 20 Nov 2012 00:00:00 +0000")
            from email.utils import parsedate_to_datetime

            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            raise PayloadError(name, f"{value!r} is not a time") from None
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise PayloadError(name, "needs a UTC offset")
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def required_when(data: Mapping[str, Any], name: str) -> datetime:
    moment = when(data, name, required=True)
    assert moment is not None
    return moment


def currency(data: Mapping[str, Any], name: str) -> str:
    value = text(data, name, 8)
    if not value or len(value) != 3 or not value.isalpha():
        raise PayloadError(name, "must be a three-letter currency code")
    return value.upper()


def full_name(*parts: Any) -> str | None:
    name = " ".join(str(p).strip() for p in parts if isinstance(p, str) and p.strip())
    return name[:200] or None
