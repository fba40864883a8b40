"""The one bridge between the payment providers and the database: an order's payment is fetched
by a job in three phases (read the order briefly, ask Stripe or PayPal with no transaction open,
store the answer briefly), so a page only ever reads what is stored."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from helpdesk import jobs
from helpdesk.db import utcnow
from helpdesk.orders import sync as order_sync
from helpdesk.orders.connector import PayloadError, PlatformError, PlatformRateLimited
from helpdesk.orders.models import Order
from helpdesk.payments import paypal_api, stripe_api
from helpdesk.payments.models import Dispute, Payment
from helpdesk.payments.provider import DisputeData, Lookup, NotFound, PaymentData, ProviderError, RateLimited
from helpdesk.runtime import JobContext, Runtime

log = logging.getLogger(__name__)

FETCH = "payments.fetch"
# Gateways whose money is not in the helpdesk's Stripe or PayPal account: never looked up there.
NOT_OURS = ("shopify_payments", "shopify payments", "manual", "bogus", "gift_card", "cash", "cod",
            "bank transfer", "direct bank transfer", "bacs", "cheque", "check", "money order")


def provider_for(settings: Mapping[str, Any], gateway: str | None, reference: str | None) -> str | None:
    """Which configured provider holds an order's payment (None: none of ours)."""
    stripe_on, paypal_on = stripe_api.configured(settings), paypal_api.configured(settings)
    name = (gateway or "").lower()
    if stripe_api.owns(reference) or "stripe" in name:
        return stripe_api.PROVIDER if stripe_on else None
    if "paypal" in name or "ppcp" in name:
        return paypal_api.PROVIDER if paypal_on else None
    if any(name.startswith(g) for g in NOT_OURS):
        return None
    if stripe_on:
        return stripe_api.PROVIDER  # by reference, else by the metadata the checkout gave the charge
    return paypal_api.PROVIDER if paypal_on and reference else None


def provider_api(runtime: Runtime, provider: str) -> Any:
    settings = runtime.settings
    if provider == stripe_api.PROVIDER:
        return stripe_api.StripePayments.from_settings(settings)
    # One PayPal client per app (and credentials) keeps its OAuth token between jobs.
    key = "payments.paypal:" + "|".join(str(settings.get(k) or "") for k in (
        "PAYPAL_CLIENT_ID", "PAYPAL_ENVIRONMENT", "PAYPAL_API_BASE"))
    return runtime.state(key, lambda: paypal_api.PayPalPayments.from_settings(settings))


def enqueue_fetch(session: Session, settings: Mapping[str, Any], order: Order, delay: float = 0) -> bool:
    """Fetch the order's payment later, in a job (False: no provider of ours holds it)."""
    if provider_for(settings, order.gateway, order.payment_reference) is None:
        return False
    jobs.enqueue(session, FETCH, {"order_id": order.id}, delay=delay, dedupe_key=f"{FETCH}:{order.id}")
    return True


def fetch_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    with ctx.db.unit_of_work() as session:  # 1. read, briefly
        order = session.get(Order, int(payload["order_id"]))
        if order is None:
            return  # erased meanwhile
        provider = provider_for(ctx.settings, order.gateway, order.payment_reference)
        if provider is None:
            return
        lookup = Lookup(order.payment_reference, order.order_id, order.number)
        # The shop may know the charge id even though its order payload does not (Shopify's
        # transactions): asked below, outside the transaction.
        shop_api = (order_sync.configured(order.platform, ctx.settings, order.shop, session)
                    if lookup.reference is None else None)
    api = provider_api(ctx.runtime, provider)
    try:  # 2. the outside world, no transaction open
        if shop_api is not None:
            lookup.reference = _pick(provider, _shop_call(shop_api.payment_references, lookup.order_id))
        data: PaymentData | None = api.payment(lookup)
        error = None
    except RateLimited as exc:
        raise jobs.RetryLater(exc.retry_after, f"rate limited by {provider}") from exc
    except NotFound as exc:
        data, error = None, str(exc)
    except ProviderError as exc:
        with ctx.db.unit_of_work() as session:
            store(session, int(payload["order_id"]), provider, None, state="failed", error=str(exc))
        raise jobs.Permanent(str(exc)) from exc
    with ctx.db.unit_of_work() as session:  # 3. write, briefly; the same answer twice changes nothing
        store(session, int(payload["order_id"]), provider, data, state="found" if data else "not_found", error=error)


def _shop_call(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except PlatformRateLimited as exc:
        raise jobs.RetryLater(exc.retry_after, "rate limited by the shop") from exc
    except (PlatformError, PayloadError) as exc:
        log.warning("the shop did not say how order %s was paid: %s", args, exc)
        return []


def _pick(provider: str, references: Sequence[str]) -> str | None:
    ours = [r for r in references if stripe_api.owns(r) == (provider == stripe_api.PROVIDER)]
    return (ours or list(references) or [None])[0]


def store(session: Session, order_id: int, provider: str, data: PaymentData | None, *,
          state: str, error: str | None = None) -> Payment | None:
    order = session.get(Order, order_id)
    if order is None:
        return None
    payment = session.scalar(select(Payment).filter_by(order_id=order_id).with_for_update())
    if payment is None:
        payment = Payment(order_id=order_id, provider=provider, refunds=[])
        session.add(payment)
    payment.provider, payment.state, payment.error = provider, state, (error or None) and error[:2000]
    payment.fetched_at = utcnow()
    if data is not None:
        payment.reference = data.reference[:255]
        payment.status, payment.amount, payment.currency = data.status, data.amount, data.currency
        payment.captured, payment.refunded, payment.method = data.captured, data.refunded, data.method
        payment.refunds = data.refunds
        order.payment_reference = order.payment_reference or data.reference[:255]
        for dispute in data.disputes:
            upsert_dispute(session, provider, dispute, order_id=order_id)
    session.flush()
    return payment


def upsert_dispute(session: Session, provider: str, data: DisputeData, *, order_id: int | None,
                   event_time: int | None = None) -> tuple[Dispute, bool]:
    """Store a dispute as the provider now sees it. With an event time older than the newest
    applied, nothing changes (webhooks arrive out of order). Returns (dispute, changed)."""
    query = select(Dispute).filter_by(provider=provider, dispute_id=data.dispute_id).with_for_update()
    dispute = session.scalar(query)
    if dispute is None:
        try:
            with session.begin_nested():  # the webhook's job and a fetch may insert it at once
                dispute = Dispute(provider=provider, dispute_id=data.dispute_id, event_time=0,
                                  status=data.status)
                session.add(dispute)
                session.flush()
        except IntegrityError:
            dispute = session.scalar(query)
            if dispute is None:
                raise
    if event_time is not None and event_time < dispute.event_time:
        return dispute, False
    dispute.status, dispute.amount, dispute.currency = data.status, data.amount, data.currency
    dispute.reason, dispute.evidence_due_by = data.reason, data.evidence_due_by
    dispute.reference = data.reference or dispute.reference
    dispute.order_id = order_id or dispute.order_id
    if event_time is not None:
        dispute.event_time = event_time
    session.flush()
    return dispute, True


def payments_of(session: Session, orders: Sequence[Order], settings: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    """What the order cards show, from stored rows only: {order id: {provider, payment, disputes}}
    for each order a provider of ours holds or that has a stored payment or dispute."""
    ids = [o.id for o in orders]
    if not ids:
        return {}
    shown: dict[int, dict[str, Any]] = {
        o.id: {"provider": provider, "payment": None, "disputes": []} for o in orders
        if (provider := provider_for(settings, o.gateway, o.payment_reference))}

    def entry(order_id: int) -> dict[str, Any]:
        return shown.setdefault(order_id, {"provider": None, "payment": None, "disputes": []})

    for payment in session.scalars(select(Payment).where(Payment.order_id.in_(ids))):
        entry(payment.order_id)["payment"] = payment
    for dispute in session.scalars(select(Dispute).where(Dispute.order_id.in_(ids)).order_by(Dispute.id)):
        entry(dispute.order_id or 0)["disputes"].append(dispute)
    return shown
