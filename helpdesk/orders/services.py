"""Orders: store what the platforms say (never older over newer), map them to customers, and
record webhook deliveries once."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from helpdesk import events
from helpdesk.accounts.services import normalise_email
from helpdesk.actors import Actor
from helpdesk.crm import services as crm
from helpdesk.crm.models import Customer, IdentityKind
from helpdesk.errors import Invalid, NotFound
from helpdesk.orders.connector import CustomerData, OrderData, RefundData
from helpdesk.orders.events import OrderSynced
from helpdesk.orders.models import (
    DeliveryState,
    Fulfillment,
    Order,
    OrderLineItem,
    Refund,
    WebhookDelivery,
)
from helpdesk.orders.tracking import tracking_link

ZERO = Decimal("0")


def provider_of(platform: str, shop: str) -> str:
    """The Identity.provider of a shop's customer ids: "shopify:shop.example"."""
    return f"{platform}:{shop}"[:120]


def _email(value: str | None) -> str | None:
    try:
        return normalise_email(value) if value else None
    except Invalid:
        return None  # a shop may hold a malformed address; the order is still worth keeping


def customer_for(session: Session, actor: Actor, platform: str, shop: str,
                 data: CustomerData | None, email: str | None = None) -> Customer | None:
    """The helpdesk customer of a shop customer: by their shop id, else by email (created on first sight)."""
    provider = provider_of(platform, shop)
    external = data.external_id if data else None
    customer = crm.find_by_identity(session, IdentityKind.external, external, provider) if external else None
    address = _email(data.email if data and data.email else email)
    if customer is None and address:
        customer = crm.customer_for_email(session, actor, address, data.name if data else None)
    if customer is None:
        return None
    if external:
        crm.add_identity(session, customer, IdentityKind.external, external, provider)
    if data and data.name and not customer.name:
        customer.name = data.name
    if data and data.phone and not customer.phone:
        customer.phone = data.phone
    return customer


def update_customer(session: Session, actor: Actor, platform: str, shop: str, data: CustomerData) -> Customer | None:
    """customers/update: the shop's newer name and phone win; the email becomes an identity."""
    customer = customer_for(session, actor, platform, shop, data)
    if customer is not None:
        if data.name:
            customer.name = data.name
        if data.phone:
            customer.phone = data.phone
        if address := _email(data.email):
            crm.add_identity(session, customer, IdentityKind.email, address)
        session.flush()
    return customer


def find_order(session: Session, platform: str, shop: str, order_id: str, *, for_update: bool = False) -> Order | None:
    query = select(Order).filter_by(platform=platform, shop=shop, order_id=order_id)
    # Locked while we compare updated_at and write: two racing updates must not both pass the check.
    return session.scalar(query.with_for_update() if for_update else query)


def upsert_order(session: Session, actor: Actor, data: OrderData) -> tuple[Order, bool]:
    """Store the platform's view of an order. Returns (order, changed).

    An update whose platform updated_at is older than the stored one is stale (webhooks arrive out
    of order, backfills overlap them) and changes nothing.
    """
    order = find_order(session, data.platform, data.shop, data.order_id, for_update=True)
    created = order is None
    if order is not None and data.updated_at < order.platform_updated_at:
        return order, False
    if order is None:
        order = Order(platform=data.platform, shop=data.shop, order_id=data.order_id)
        try:
            with session.begin_nested():  # a concurrent delivery may insert the same order
                _apply(session, actor, order, data)
                session.add(order)
                session.flush()
        except IntegrityError:
            order = find_order(session, data.platform, data.shop, data.order_id, for_update=True)
            if order is None:
                raise
            created = False
            if data.updated_at < order.platform_updated_at:
                return order, False
            _apply(session, actor, order, data)
    else:
        _apply(session, actor, order, data)
    session.flush()
    events.record(session, OrderSynced(order.id, order.customer_id, created))
    return order, True


def _apply(session: Session, actor: Actor, order: Order, data: OrderData) -> None:
    customer = customer_for(session, actor, data.platform, data.shop, data.customer, data.email)
    order.customer_id = customer.id if customer else order.customer_id
    order.number = data.number
    order.name = data.name
    order.email = _email(data.email) or order.email
    order.status = data.status
    order.financial_status = data.financial_status
    order.fulfillment_status = data.fulfillment_status
    order.gateway = data.gateway
    # A payload that does not name the payment (Shopify's order webhooks) keeps the one known.
    order.payment_reference = data.payment_reference or order.payment_reference
    order.currency = data.currency
    order.total = data.total
    order.subtotal = data.subtotal
    order.shipping_total = data.shipping_total
    order.tax_total = data.tax_total
    order.cancelled_at = data.cancelled_at
    order.cancel_reason = data.cancel_reason
    order.placed_at = data.placed_at
    order.platform_updated_at = data.updated_at
    order.shipping_address = data.shipping_address
    order.line_items = [OrderLineItem(position=i, title=li.title, variant=li.variant, sku=li.sku,
                                      quantity=li.quantity, price=li.price, external_id=li.external_id)
                        for i, li in enumerate(data.line_items)]
    stored = {f.external_id: f for f in order.fulfillments}
    fulfillments = []
    for f in data.fulfillments:
        row = stored.get(f.external_id) or Fulfillment(external_id=f.external_id)
        row.status, row.carrier, row.tracking_number = f.status, f.carrier, f.tracking_number
        row.tracking_url = tracking_link(f.carrier, f.tracking_number, f.tracking_url)
        row.shipped_at = f.shipped_at
        fulfillments.append(row)
    order.fulfillments = fulfillments
    if data.refunds is not None:
        for refund in data.refunds:
            _merge_refund(order, refund)
    order.refunded_total = sum((r.amount for r in order.refunds), ZERO)


def _merge_refund(order: Order, data: RefundData) -> None:
    # A refund is never taken away: an order body that omits one is older than the refund.
    for row in order.refunds:
        if row.external_id == data.external_id:
            row.amount, row.note, row.refunded_at = data.amount, data.note, data.refunded_at
            return
    order.refunds.append(Refund(external_id=data.external_id, amount=data.amount, note=data.note,
                                refunded_at=data.refunded_at))


def add_refund(session: Session, actor: Actor, platform: str, shop: str, order_id: str,
               refund: RefundData) -> Order | None:
    """refunds/create: None when the order is not known yet (the caller fetches it)."""
    order = find_order(session, platform, shop, order_id, for_update=True)
    if order is None:
        return None
    _merge_refund(order, refund)
    order.refunded_total = sum((r.amount for r in order.refunds), ZERO)
    if order.financial_status in ("paid", "partially_paid", "authorized", None):
        order.financial_status = "refunded" if order.refunded_total >= order.total else "partially_refunded"
    session.flush()
    events.record(session, OrderSynced(order.id, order.customer_id, False))
    return order


def record_delivery(session: Session, source: str, webhook_id: str, topic: str, shop: str = "") -> bool:
    """Note a webhook delivery; False when this (source, webhook_id) was seen before."""
    webhook_id = webhook_id.strip()[:128]
    if not webhook_id:
        raise Invalid("webhook_id", "the delivery has no id")
    if session.scalar(select(WebhookDelivery.id).filter_by(source=source, webhook_id=webhook_id)):
        return False
    try:
        with session.begin_nested():
            session.add(WebhookDelivery(source=source, webhook_id=webhook_id, topic=topic[:64], shop=shop[:255]))
            session.flush()
    except IntegrityError:
        return False  # the same delivery, retried while the first was in flight
    return True


def park_delivery(session: Session, source: str, webhook_id: str, error: str, payload: dict | None) -> None:
    delivery = session.scalar(select(WebhookDelivery).filter_by(source=source, webhook_id=webhook_id[:128]))
    if delivery is not None:
        delivery.state = DeliveryState.parked
        delivery.error = error[:4000]
        delivery.payload = payload
        session.flush()


def get_order(session: Session, public_id: str) -> Order:
    order = session.scalar(select(Order).filter_by(public_id=public_id))
    if order is None:
        raise NotFound("no such order")
    return order


def customer_order_stats(session: Session, customer: Customer) -> tuple[Decimal, int, Decimal, str | None]:
    """(lifetime value, order count, average order value, currency) of a customer, counting the
    orders of every customer merged into them.

    Cancelled orders do not count; refunds are taken off the lifetime value. Sums are in the
    customer's most used currency: amounts in other currencies are left out, not converted.
    """
    rows = session.execute(
        select(Order.currency, Order.total, Order.refunded_total)
        .where(Order.customer_id.in_(crm.merged_ids(session, customer)), Order.cancelled_at.is_(None))).all()
    if not rows:
        return ZERO, 0, ZERO, None
    currency = Counter(r.currency for r in rows).most_common(1)[0][0]
    mine = [r for r in rows if r.currency == currency]
    gross = sum((r.total for r in mine), ZERO)
    value = gross - sum((r.refunded_total or ZERO for r in mine), ZERO)
    average = (gross / len(mine)).quantize(Decimal("0.01"))
    return value.quantize(Decimal("0.01")), len(mine), average, currency


def recent_orders(session: Session, customer: Customer, limit: int = 5) -> list[Order]:
    return list(session.scalars(select(Order).where(Order.customer_id.in_(crm.merged_ids(session, customer)))
                                .order_by(Order.placed_at.desc(), Order.id.desc()).limit(limit)))


def order_count(session: Session, customer: Customer) -> int:
    return session.scalar(select(func.count(Order.id)).where(Order.customer_id == customer.id)) or 0
