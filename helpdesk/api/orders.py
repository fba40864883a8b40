"""REST /api/v1 for orders: list and read them, link one to a conversation. Same blueprint,
same token auth and error shape as api/views.py."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from flask import current_app, jsonify, request
from sqlalchemy import and_, or_, select

from helpdesk.api.views import actor, bp
from helpdesk.crm import services as crm
from helpdesk.db import MAX_INT
from helpdesk.errors import Invalid, NotFound
from helpdesk.orders import actions, linking
from helpdesk.orders import services as orders
from helpdesk.orders.models import Order
from helpdesk.orders.serialize import order_dict
from helpdesk.tickets import queries
from helpdesk.tickets import services as tickets
from helpdesk.web import commit, db_session, json_body


def _cursor(order: Order) -> str:
    return base64.urlsafe_b64encode(f"{order.placed_at.isoformat()}|{order.id}".encode()).decode()


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        placed, _, row = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        if not 0 <= int(row) <= MAX_INT:
            raise ValueError("row id out of range")
        return datetime.fromisoformat(placed), int(row)
    except (ValueError, UnicodeDecodeError):
        raise Invalid("cursor", "not a cursor this API gave out") from None


@bp.get("/orders")
def orders_list() -> Any:
    session = db_session()
    query = select(Order)
    if customer_id := request.args.get("customer"):
        try:
            customer = crm.get_customer(session, customer_id)
        except NotFound:
            raise Invalid("customer", "no such customer") from None
        query = query.where(Order.customer_id == customer.id)
    if number := request.args.get("number"):
        number = number.strip().lstrip("#")
        query = query.where(or_(Order.number == number, Order.name == f"#{number}"))
    limit = queries.parse_limit(request.args.get("limit"))
    if cursor := request.args.get("cursor"):
        placed, row = _decode(cursor)
        query = query.where(or_(Order.placed_at < placed, and_(Order.placed_at == placed, Order.id < row)))
    rows = session.scalars(query.order_by(Order.placed_at.desc(), Order.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return jsonify(data=[order_dict(o) for o in rows], next_cursor=_cursor(rows[-1]) if more else None)


@bp.get("/orders/<public_id>")
def orders_get(public_id: str) -> Any:
    from helpdesk.payments.serialize import payment_dict

    session = db_session()
    order = orders.get_order(session, public_id)
    # The payment as last fetched by the worker (never a call to Stripe or PayPal here).
    return jsonify({**order_dict(order), "payment": payment_dict(session, order, current_app.config)})


@bp.post("/conversations/<public_id>/orders")
def conversation_orders_link(public_id: str) -> Any:
    """Body `{order: ORDER_ID | NUMBER}`; linking twice is a no-op."""
    session = db_session()
    data = json_body()
    ref = data.get("order")
    if not isinstance(ref, str | int) or isinstance(ref, bool):
        raise Invalid("order", "an order id or number")
    conv = tickets.get_conversation(session, public_id, actor())
    order = linking.order_for_link(session, str(ref))
    linking.link_order(session, actor(), conv, order, source="api")
    commit()
    return jsonify(conversation_id=conv.public_id, state="linked", order=order_dict(order)), 201


@bp.post("/orders/<public_id>/actions")
def order_actions_create(public_id: str) -> Any:
    """Refund, cancel, reship, update_address, resend_confirmation: checked now, carried out on the
    shop by the worker. A repeat of the Idempotency-Key returns the first action."""
    session = db_session()
    order = orders.get_order(session, public_id)
    action, _created = actions.request_action(session, current_app.config, actor(), order, json_body(),
                                              request.headers.get("Idempotency-Key", ""))
    commit()
    return jsonify(actions.action_dict(action)), 202


@bp.get("/orders/<public_id>/actions")
def order_actions_list(public_id: str) -> Any:
    session = db_session()
    order = orders.get_order(session, public_id)
    return jsonify(data=[actions.action_dict(a) for a in actions.actions_of(session, order)], next_cursor=None)


def conversation_orders(session: Any, conv: Any) -> list[dict[str, Any]]:
    """`orders` of GET /conversations/{id}: linked and suggested (dismissed ones are left out)."""
    from helpdesk.orders.models import LinkState

    return [{"id": o.public_id, "number": o.number, "name": o.display_name, "platform": o.platform,
             "state": state.value}
            for state in (LinkState.linked, LinkState.suggested) for o in linking.links(session, conv, state)]
