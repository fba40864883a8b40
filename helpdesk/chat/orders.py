"""The widget's order events on /widget: thin adapters over helpdesk.orders.widget, which decides
what a shopper may see. Imported by chat.init_app, which registers them on the shared socketio."""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy.orm import Session

from helpdesk.chat import visitors
from helpdesk.chat.relay import WIDGET
from helpdesk.chat.sockets import _db, _visitor_conn, _visitor_work, acked
from helpdesk.extensions import socketio
from helpdesk.orders import widget as orders_widget


@socketio.on("orders:list", namespace=WIDGET)
@acked
def widget_orders_list(_data: Any = None) -> dict[str, Any]:
    with _visitor_work() as (session, visitor):
        return orders_widget.list_event(session, visitor.customer, verified=_verified(session, visitor))


@socketio.on("orders:lookup", namespace=WIDGET)
@acked
def widget_orders_lookup(data: Any = None) -> dict[str, Any]:
    # The same limit as HTTP `POST /widget/orders/lookup`, counted per visitor and per address:
    # a fresh visitor token per guess must not reset it.
    conn = _visitor_conn()
    orders_widget.check_lookup_rate(request.remote_addr or "unknown")  # the HTTP lookup's key
    with _db().unit_of_work() as session:
        return orders_widget.lookup_event(session, data, rate_key=f"visitor:{conn.visitor_id}",
                                          customer_id=conn.customer_id)


@socketio.on("orders:pick", namespace=WIDGET)
@acked
def widget_orders_pick(data: Any = None) -> dict[str, Any]:
    data = data if isinstance(data, dict) else {}
    with _visitor_work() as (session, visitor):
        verified = _verified(session, visitor)
        if verified:  # only this site's conversations of this shopper; anyone else's is "not found"
            visitors.conversation_of(session, visitor, data.get("conversation_id"))
        return orders_widget.pick_event(session, visitor.customer, data, verified=verified)


def _verified(session: Session, visitor: Any) -> bool:
    # The browser's own verification, not its customer's: a merge can put a verified identity
    # on the record an anonymous browser writes as.
    return bool(visitor.verified) and visitors.is_verified(session, visitor.customer)
