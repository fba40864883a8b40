"""What a payment provider returns and raises: plain data, no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

TIMEOUT = (5, 20)  # connect, read: a provider that hangs must not hang a worker
MAX_LISTED = 300  # refunds or disputes of one payment read at most (paging is followed this far)


class ProviderError(Exception):
    """The provider refused with an error waiting will not fix (bad key, no permission)."""


class NotFound(Exception):
    """The provider knows no payment by this reference."""


class RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited; retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass
class DisputeData:
    dispute_id: str
    status: str
    amount: Decimal | None
    currency: str | None
    reason: str | None
    evidence_due_by: datetime | None
    reference: str | None = None  # the disputed charge / transaction


@dataclass
class PaymentData:
    provider: str
    reference: str
    status: str | None
    amount: Decimal | None
    currency: str | None
    captured: Decimal | None = None
    refunded: Decimal | None = None
    method: str | None = None
    refunds: list[dict[str, Any]] = field(default_factory=list)  # {id, amount, status, reason, created_at}
    disputes: list[DisputeData] = field(default_factory=list)


@dataclass
class Lookup:
    """What we know of an order to find its payment by."""

    reference: str | None  # the shop's charge / capture id, where it gave one
    order_id: str  # the platform's order id
    number: str  # "1001"


def minor_units(value: Any, currency: str | None) -> Decimal | None:
    """Stripe's integer amounts in the currency's smallest unit -> a decimal amount."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    zero_decimal = (currency or "").upper() in ZERO_DECIMAL
    return Decimal(value) if zero_decimal else (Decimal(value) / 100).quantize(Decimal("0.01"))


def decimal(value: Any) -> Decimal | None:
    """PayPal's amounts are strings ("10.99")."""
    if not isinstance(value, str | int | float | Decimal) or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount.quantize(Decimal("0.01")) if amount.is_finite() else None


def unix_time(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, UTC)


def iso_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def upper(value: Any) -> str | None:
    return value.upper()[:3] if isinstance(value, str) and len(value) == 3 else None


# https://docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL = {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
                "VUV", "XAF", "XOF", "XPF"}
