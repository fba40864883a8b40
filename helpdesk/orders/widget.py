"""What a shopper may see of orders from the widget.

- A verified shopper (identity HMAC checked by the chat room) lists their own orders and picks
  one to ask about: `orders_for_shopper`, `linking.shopper_pick_order`.
- Anyone else looks up one order with its number AND the email on it: `lookup_order`. A wrong
  pair answers exactly like a missing order, and every try counts against a rate limit, so
  guessing numbers yields nothing.

HTTP: `POST /widget/orders/lookup` `{site, number, email}` -> `{order: ORDER}` or 404.
Socket hook for the chat room (namespace /widget): each `*_event` function below takes the event's
data and returns the ack payload, raising DomainError, so a handler wrapped in the chat room's
`@acked` is one line:
  `orders:list`   {}                           -> {ok, orders: [ORDER...]}     (verified shoppers only)
  `orders:lookup` {number, email}              -> {ok, order: ORDER} | {ok: false, error}  (rate limited)
  `orders:pick`   {conversation_id, order_id}  -> {ok, order: ORDER}           (verified shoppers only)
e.g. `return orders_widget.lookup_event(session, data, rate_key=str(conn.visitor_id))`.
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from limits import parse
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from helpdesk import events
from helpdesk.actors import customer_actor
from helpdesk.crm.models import Customer
from helpdesk.errors import Forbidden, Invalid, NotFound, RateLimited
from helpdesk.extensions import limiter
from helpdesk.orders import linking
from helpdesk.orders.events import OrderLookedUp
from helpdesk.orders.models import Order
from helpdesk.orders.serialize import order_dict
from helpdesk.tickets import services as tickets
from helpdesk.web import commit, db_session, json_body

bp = Blueprint("orders_widget", __name__)
NO_MATCH = "no order matches that number and email"
MAX_LOOKUP_BODY = 4096


def check_lookup_rate(key: str) -> None:
    """Count one lookup for `key`; RateLimited past ORDER_LOOKUP_RATE (e.g. "10/minute")."""
    item = parse(current_app.config.get("ORDER_LOOKUP_RATE") or "10/minute")
    if not limiter.limiter.hit(item, "orders-lookup", key):
        raise RateLimited("too many order lookups; try again in a minute")


def orders_for_shopper(session: Session, customer: Customer, limit: int = 20) -> list[Order]:
    """A verified shopper's own orders, newest first. The caller has checked the verification."""
    return list(session.scalars(select(Order).where(Order.customer_id == customer.id)
                                .order_by(Order.placed_at.desc()).limit(limit)))


def lookup_order(session: Session, number: Any, email: Any) -> Order:
    """The order with this number whose email is this one, or NotFound: never says which part was wrong."""
    if not isinstance(number, str | int) or not isinstance(email, str):
        raise Invalid("order", "give the order number and the email used for it")
    number = str(number).strip().lstrip("#").strip()
    email = email.strip().lower()
    if not number or not email or len(number) > 64 or len(email) > 254:
        raise Invalid("order", "give the order number and the email used for it")
    candidates = session.scalars(select(Order).where(
        or_(Order.number == number, Order.name == f"#{number}")).limit(10)).all()
    found = None
    for order in candidates:
        on_file = (order.email or (order.customer.email if order.customer else "") or "").lower()
        # Compare every candidate in constant time, so timing does not tell a near miss.
        if hmac.compare_digest(on_file.encode(), email.encode()) and found is None:
            found = order
    if found is None:
        raise NotFound(NO_MATCH)
    return found


def _verified(verified: bool) -> None:
    if not verified:
        raise Forbidden("only a verified shopper sees their orders; look one up with its number and email",
                        code="not_verified")


def list_event(session: Session, customer: Customer, *, verified: bool) -> dict[str, Any]:
    _verified(verified)
    return {"orders": [order_dict(o, for_agent=False) for o in orders_for_shopper(session, customer)]}


def lookup_event(session: Session, data: Any, *, rate_key: str, customer_id: int | None = None) -> dict[str, Any]:
    data = data if isinstance(data, dict) else {}
    check_lookup_rate(rate_key)
    order = lookup_order(session, data.get("number"), data.get("email"))
    events.record(session, OrderLookedUp(order.id, customer_id))  # self-service counts it (deflection)
    return {"order": order_dict(order, for_agent=False)}


def pick_event(session: Session, customer: Customer, data: Any, *, verified: bool) -> dict[str, Any]:
    """Link one of the shopper's orders to their conversation: the agent sees what they ask about."""
    _verified(verified)
    data = data if isinstance(data, dict) else {}
    conversation = tickets.get_conversation(session, str(data.get("conversation_id") or ""), customer_actor(customer))
    order = session.scalar(select(Order).filter_by(public_id=str(data.get("order_id") or "")))
    if order is None:
        raise NotFound("no such order")
    linking.shopper_pick_order(session, customer_actor(customer), conversation, order)
    return {"order": order_dict(order, for_agent=False)}


@bp.post("/widget/orders/lookup")
def lookup() -> Any:
    # Unauthenticated: {site, number, email} is a few hundred bytes; read no more than this.
    request.max_content_length = MAX_LOOKUP_BODY
    data = json_body()
    session = db_session()
    if tickets.inbox_for_site_key(session, str(data.get("site") or "")) is None:
        raise NotFound("unknown site")
    check_lookup_rate(request.remote_addr or "unknown")
    order = lookup_order(session, data.get("number"), data.get("email"))
    events.record(session, OrderLookedUp(order.id, None))
    commit()
    return jsonify(order=order_dict(order, for_agent=False))
