"""Stripe, through its own library: an order's charge, its refunds and disputes; webhook events."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import stripe

from helpdesk.payments.provider import (
    MAX_LISTED,
    TIMEOUT,
    DisputeData,
    Lookup,
    NotFound,
    PaymentData,
    ProviderError,
    RateLimited,
    minor_units,
    unix_time,
    upper,
)

PROVIDER = "stripe"


def configured(settings: Mapping[str, Any]) -> bool:
    return bool(settings.get("STRIPE_API_KEY"))


def owns(reference: str | None) -> bool:
    """A Stripe id: a charge (ch_, py_) or a PaymentIntent (pi_)."""
    return bool(reference) and reference.startswith(("ch_", "py_", "pi_"))  # type: ignore[union-attr]


def _plain(value: Any) -> dict[str, Any]:
    return value.to_dict() if hasattr(value, "to_dict") else dict(value)


class StripePayments:
    def __init__(self, api_key: str, api_base: str | None = None) -> None:
        # No retries inside the library: a 429 goes back to the job queue, which waits as asked
        # without holding a worker.
        self.client = stripe.StripeClient(
            api_key, base_addresses={"api": api_base} if api_base else {}, max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=TIMEOUT))

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> StripePayments:
        return cls(str(settings["STRIPE_API_KEY"]), settings.get("STRIPE_API_BASE") or None)

    def payment(self, lookup: Lookup) -> PaymentData:
        """The order's charge with its refunds and disputes. Raises NotFound, RateLimited, ProviderError."""
        with _mapped_errors():
            charge = self._charge(lookup)
            charge_id = str(charge["id"])
            refunds = self._listed(self.client.v1.refunds.list(params={"charge": charge_id, "limit": 100}))
            disputes = self._listed(self.client.v1.disputes.list(params={"charge": charge_id, "limit": 100}))
        return parse_charge(charge, refunds, disputes)

    def charge(self, charge_id: str) -> dict[str, Any]:
        with _mapped_errors():
            return _plain(self.client.v1.charges.retrieve(charge_id))

    def _charge(self, lookup: Lookup) -> dict[str, Any]:
        reference = lookup.reference
        if reference and reference.startswith("pi_"):
            intent = _plain(self.client.v1.payment_intents.retrieve(reference))
            latest = intent.get("latest_charge")
            reference = latest.get("id") if isinstance(latest, Mapping) else latest
            if not reference:
                raise NotFound(f"PaymentIntent {lookup.reference} has no charge yet")
        if reference:
            return _plain(self.client.v1.charges.retrieve(reference))
        # No id from the shop: the checkout may have tagged the charge with the order (the
        # WooCommerce gateway and most custom checkouts set metadata order_id). Stripe's search
        # reads metadata, not descriptions.
        order_id, number = _quoted(lookup.order_id), _quoted(lookup.number)
        query = (f"metadata['order_id']:'{order_id}' OR metadata['order_id']:'{number}' OR "
                 f"metadata['order_number']:'{number}'")
        found = self.client.v1.charges.search(params={"query": query, "limit": 1})
        data = _plain(found).get("data") or []
        if not data:
            raise NotFound(f"no Stripe charge has metadata order_id {lookup.order_id} or number {lookup.number}")
        return _plain(data[0])

    @staticmethod
    def _listed(page: Any) -> list[dict[str, Any]]:
        """Every item of a list object, following `has_more` (bounded: a pathological charge
        must not keep a worker paging)."""
        items: list[dict[str, Any]] = []
        for item in page.auto_paging_iter():
            items.append(_plain(item))
            if len(items) >= MAX_LISTED:
                break
        return items


def _quoted(value: str) -> str:
    return value.replace("\\", "").replace("'", "")[:64]


class _mapped_errors:
    """The library's errors as ours: wait when asked, give up when waiting cannot help."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, _tb: Any) -> bool:
        if exc is None or not isinstance(exc, stripe.StripeError):
            return False
        if isinstance(exc, stripe.RateLimitError) or exc.http_status == 429:
            raise RateLimited(retry_after(exc.headers)) from exc
        message = exc.user_message or str(exc) or "error"
        if isinstance(exc, stripe.InvalidRequestError) and (exc.http_status == 404 or exc.code == "resource_missing"):
            raise NotFound(f"Stripe: {message}") from exc
        if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError | stripe.InvalidRequestError):
            raise ProviderError(f"Stripe answered {exc.http_status}: {message}") from exc
        return False  # connection errors and 5xx: the job retries with backoff


def retry_after(headers: Any, default: float = 10.0) -> float:
    value = None
    if headers:
        value = next((v for k, v in dict(headers).items() if k.lower() == "retry-after"), None)
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def parse_charge(charge: Mapping[str, Any], refunds: Iterable[Mapping[str, Any]],
                 disputes: Iterable[Mapping[str, Any]]) -> PaymentData:
    currency = upper(charge.get("currency"))
    details = charge.get("payment_method_details") if isinstance(charge.get("payment_method_details"), Mapping) else {}
    card = details.get("card") if isinstance(details.get("card"), Mapping) else None
    method = (f"{card.get('brand') or 'card'} •••• {card.get('last4') or '????'}" if card
              else (str(details.get("type")) if details.get("type") else None))
    return PaymentData(
        provider=PROVIDER, reference=str(charge.get("id")),
        status=str(charge.get("status") or "")[:32] or None,
        amount=minor_units(charge.get("amount"), currency), currency=currency,
        captured=minor_units(charge.get("amount_captured"), currency),
        refunded=minor_units(charge.get("amount_refunded"), currency),
        method=method[:120] if method else None,
        refunds=[{"id": str(r.get("id")), "amount": str(minor_units(r.get("amount"), currency) or ""),
                  "status": r.get("status"), "reason": r.get("reason"),
                  "created_at": (t.isoformat() if (t := unix_time(r.get("created"))) else None)}
                 for r in refunds],
        disputes=[parse_dispute(d) for d in disputes],
    )


def parse_dispute(dispute: Mapping[str, Any]) -> DisputeData:
    currency = upper(dispute.get("currency"))
    evidence = dispute.get("evidence_details") if isinstance(dispute.get("evidence_details"), Mapping) else {}
    charge = dispute.get("charge")
    return DisputeData(
        dispute_id=str(dispute.get("id"))[:64], status=str(dispute.get("status") or "unknown")[:40],
        amount=minor_units(dispute.get("amount"), currency), currency=currency,
        reason=str(dispute.get("reason"))[:64] if dispute.get("reason") else None,
        evidence_due_by=unix_time(evidence.get("due_by")),
        reference=(charge.get("id") if isinstance(charge, Mapping) else charge) or None,
    )


def verified_event(body: bytes, signature: str | None, secret: str, tolerance: int) -> dict[str, Any]:
    """The event of a webhook whose Stripe-Signature holds; raises stripe.SignatureVerificationError
    (bad, stale or missing signature) or ValueError (not JSON)."""
    event = stripe.Webhook.construct_event(body, signature, secret, tolerance=tolerance)
    return _plain(event)
