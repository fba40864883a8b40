"""The widget's self-service events on /widget: thin adapters over selfservice.services.

Each names the order either by `order_id` (a verified shopper's own order) or by `number` and
`email` (anyone, as `orders:lookup`; those tries count against the same lookup limit, so these
events are no way around it):
  `selfservice:track`   {order_id | number+email}                 -> {ok, order, shipments: [...]}
  `selfservice:options` {order_id | number+email}                 -> {ok, returnable: {line id: n}, reasons: [...]}
  `selfservice:cancel`  {order_id | number+email, note?}          -> {ok, request, message}
  `selfservice:return`  {order_id | number+email, items: [{id, quantity}], reason, note?} -> {ok, request, message}
Imported by create_app before socketio.init_app, like the chat room's handlers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app, request
from sqlalchemy.orm import Session

from helpdesk.chat import guards
from helpdesk.chat.orders import _verified
from helpdesk.chat.relay import WIDGET, shopper_message
from helpdesk.chat.sockets import _visitor_conn, _visitor_work, acked
from helpdesk.extensions import socketio
from helpdesk.orders import widget as orders_widget
from helpdesk.selfservice import services
from helpdesk.selfservice.services import REASONS, Shopper


def _rate(data: Any) -> None:
    conn = _visitor_conn()
    if isinstance(data, dict) and (data.get("number") is not None or data.get("email") is not None):
        # Number and email: a lookup in all but name, on the lookup's own budget.
        orders_widget.check_lookup_rate(request.remote_addr or "unknown")
        orders_widget.check_lookup_rate(f"visitor:{conn.visitor_id}")
    else:
        orders_widget.check_lookup_rate(f"selfservice:visitor:{conn.visitor_id}")


@contextmanager
def _shopper_work(data: Any) -> Iterator[tuple[Session, Shopper, Any]]:
    _rate(data)
    with _visitor_work() as (session, visitor):
        shopper = Shopper(visitor, _verified(session, visitor))
        yield session, shopper, services.order_for(session, shopper, data)


@socketio.on("selfservice:track", namespace=WIDGET)
@acked
def widget_track(data: Any = None) -> dict[str, Any]:
    with _shopper_work(data) as (session, shopper, order):
        return services.track(session, shopper, order)


@socketio.on("selfservice:options", namespace=WIDGET)
@acked
def widget_options(data: Any = None) -> dict[str, Any]:
    with _shopper_work(data) as (session, _shopper, order):
        return {"returnable": services.returnable(session, order),
                "reasons": [{"code": code, "label": label} for code, label in REASONS.items()]}


def _request(make: Callable[..., Any], data: Any) -> dict[str, Any]:
    conn = _visitor_conn()
    online_ids = guards.presence().online_agent_ids(max_age=1.0)  # before the transaction: it may ask Redis
    with _shopper_work(data) as (session, shopper, order):
        req, message = make(session, shopper, order, data, online_agent_ids=online_ids)
        result = {"request": services.request_dict(req),
                  "message": shopper_message(session, message, current_app.secret_key)}
    conn.conversations.add(result["message"]["conversation_id"])
    conn.going = result["message"]["conversation_id"]
    return result


@socketio.on("selfservice:cancel", namespace=WIDGET)
@acked
def widget_cancel(data: Any = None) -> dict[str, Any]:
    return _request(services.request_cancel, data)


@socketio.on("selfservice:return", namespace=WIDGET)
@acked
def widget_return(data: Any = None) -> dict[str, Any]:
    return _request(services.request_return, data)
