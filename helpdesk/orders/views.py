"""Console adapters: link and unlink orders on a conversation; the sidebar's data; wiring."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, url_for
from flask import request as flask_request
from flask_login import login_required
from sqlalchemy.orm import Session

from helpdesk import events
from helpdesk.actors import SYSTEM
from helpdesk.errors import DomainError
from helpdesk.orders import linking, services, sync
from helpdesk.orders.events import OrdersMentioned
from helpdesk.orders.models import LinkState
from helpdesk.runtime import Runtime
from helpdesk.tickets import services as tickets
from helpdesk.tickets.events import MessagePosted
from helpdesk.tickets.models import Conversation, Message
from helpdesk.web import commit, current_actor, db_session

bp = Blueprint("orders", __name__)


def _back(conv: Conversation) -> Any:
    return redirect(url_for("console.conversation", public_id=conv.public_id) + "#orders", code=303)


@bp.post("/console/c/<public_id>/orders")
@login_required
def link(public_id: str) -> Any:
    session = db_session()
    conv = tickets.get_conversation(session, public_id, current_actor())
    try:
        order = linking.order_for_link(session, flask_request.form.get("order", ""))
        linking.link_order(session, current_actor(), conv, order)
        commit()
        flash(f"Order {order.display_name} linked.", "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return _back(conv)


@bp.post("/console/c/<public_id>/orders/<order_id>/unlink")
@login_required
def unlink(public_id: str, order_id: str) -> Any:
    session = db_session()
    conv = tickets.get_conversation(session, public_id, current_actor())
    try:
        order = services.get_order(session, order_id)
        linking.unlink_order(session, current_actor(), conv, order)
        commit()
        flash(f"Order {order.display_name} unlinked.", "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return _back(conv)


@bp.get("/console/c/<public_id>/orders/panel")
@login_required
def panel(public_id: str) -> Any:
    """The sidebar's orders card alone: the live console swaps it in when links change."""
    session = db_session()
    conv = tickets.get_conversation(session, public_id, current_actor())
    return render_template("orders/_sidebar.html", conv=conv, panel=order_panel(session, conv))


def order_panel(session: Session, conv: Conversation) -> dict[str, Any]:
    """What the conversation sidebar shows: linked orders, offered ones, the customer's recent ones."""
    linked = linking.links(session, conv, LinkState.linked)
    suggested = linking.links(session, conv, LinkState.suggested)
    shown = {o.id for o in linked} | {o.id for o in suggested}
    recent = [o for o in services.recent_orders(session, conv.customer, limit=6) if o.id not in shown][:5]
    value, count, average, currency = services.customer_order_stats(session, conv.customer)
    from helpdesk.orders.console_actions import action_panel

    return {"linked": linked, "suggested": suggested, "recent": recent,
            "actions": {o.id: action_panel(session, o) for o in linked},
            "payments": _payments(session, linked),
            "stats": {"value": value, "count": count, "average": average, "currency": currency}}


def _payments(session: Session, orders: list[Any]) -> dict[int, Any]:
    """The stored payment and disputes of each order, where the payments room is wired in (it
    sits above orders/ and offers them as a capability; never a call to a provider here)."""
    from flask import has_app_context

    from helpdesk.runtime import current_runtime

    payments_of = current_runtime().capability("orders.payments") if has_app_context() else None
    return payments_of(session, orders) if payments_of and orders else {}


def customer_orders(session: Session, customer: Any, limit: int = 10) -> dict[str, Any]:
    """For the customer 360 page (`orders/_customer_orders.html`, given as `co`)."""
    value, count, average, currency = services.customer_order_stats(session, customer)
    shown = services.recent_orders(session, customer, limit=limit)
    return {"orders": shown, "payments": _payments(session, shown),
            "stats": {"value": value, "count": count, "average": average, "currency": currency}}


def init_app(app: Flask, runtime: Runtime) -> None:
    """Called by create_app: blueprints, the sidebar panel, the recognition listener, the jobs."""
    from helpdesk.extensions import csrf
    from helpdesk.orders import actions, admin, console_actions, webhooks, widget

    app.register_blueprint(bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(widget.bp)
    csrf.exempt(webhooks.bp)  # authenticated by their signatures, no cookies
    csrf.exempt(widget.bp)  # the widget frame sends no cookies; data needs number + email
    # The conversation page belongs to tickets/, which must not import orders/: it shows the
    # panels of its sidebar slot, and this is ours.
    runtime.panels.add("conversation.sidebar", "orders", order_panel, "orders/_sidebar.html")
    sync.init_app(runtime)
    actions.init_app(runtime)
    console_actions.init_app(app, runtime)
    database = runtime.db

    def spot_order_numbers(session: Session, event: MessagePosted) -> None:
        # In the message's transaction, from the message it holds (no query): a cheap regex.
        # Most messages name no order, and they no longer cost a unit of work of their own.
        message = session.get(Message, event.message_id)
        if message is not None and linking.mentions_order_number(message.body_text):
            events.record(session, OrdersMentioned(message.id))

    def recognise_orders(event: OrdersMentioned) -> None:
        # After the message's commit, in a unit of work of its own: a failure here never
        # loses the message, and the links are committed on their own.
        with database.unit_of_work() as session:
            linking.recognise_message(session, SYSTEM, event.message_id)

    runtime.events.subscribe_in_transaction(MessagePosted, spot_order_numbers)
    runtime.events.subscribe(OrdersMentioned, recognise_orders)
