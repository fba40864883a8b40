"""The agent's side of self-service: the request's card in the conversation, the one click that
carries it out through the order actions (confirmed in the order card's own dialog), and decline."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask import request as flask_request
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from helpdesk.errors import DomainError, NotFound
from helpdesk.orders import CONNECTORS, actions, sync
from helpdesk.orders.console_actions import form_request
from helpdesk.orders.models import OrderAction
from helpdesk.selfservice import services
from helpdesk.selfservice.models import Kind, SelfServiceRequest
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Message
from helpdesk.web import commit, current_actor, db_session

bp = Blueprint("selfservice", __name__)
CARD = "selfservice/_card.html"


def _back(public_id: str) -> Any:
    return redirect(url_for("console.conversation", public_id=public_id), code=303)


@bp.post("/console/c/<public_id>/self-service/<request_id>/carry-out")
@login_required
def carry_out(public_id: str, request_id: str) -> Any:
    session = db_session()
    conv = tickets.get_conversation(session, public_id, current_actor())
    req = services.request_in(session, conv, request_id)
    kind = "cancel" if req.kind is Kind.cancel else "refund"
    form = form_request(flask_request.form, req.order, kind) if flask_request.form.get("type") else None
    try:
        services.carry_out(session, current_app.config, current_actor(), req, form,
                           flask_request.form.get("idempotency_key", ""))
        commit()
        sent = (_("Cancel of %(order)s sent to the shop; the customer is told here when it is done.",
                  order=req.order.display_name) if kind == "cancel" else
                _("Refund of %(order)s sent to the shop; the customer is told here when it is done.",
                  order=req.order.display_name))
        flash(sent, "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return _back(conv.public_id)


@bp.post("/console/c/<public_id>/self-service/<request_id>/decline")
@login_required
def decline(public_id: str, request_id: str) -> Any:
    session = db_session()
    conv = tickets.get_conversation(session, public_id, current_actor())
    req = services.request_in(session, conv, request_id)
    try:
        services.decline(session, current_actor(), req, flask_request.form.get("reason", ""))
        commit()
        flash(_("Request declined; the customer has the reason in the conversation."), "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return _back(conv.public_id)


@bp.get("/console/c/<public_id>/self-service/<request_id>/card")
@login_required
def card_fragment(public_id: str, request_id: str) -> Any:
    """One request's card, for the conversation page to draw a request that arrived live."""
    session = db_session()
    conv = tickets.get_conversation(session, public_id, current_actor())
    req = services.request_in(session, conv, request_id)
    message = session.scalar(select(Message).filter_by(
        conversation_id=conv.id, client_msg_id=services.MESSAGE_ID.format(req.public_id)))
    view = card(message) if message is not None else None
    if view is None:
        raise NotFound("no such self-service request in this conversation")
    return render_template(CARD, card=view, conv=conv)


def card(message: Message) -> dict[str, Any] | None:
    """The conversation page's view of a shopper's request message: a card, not the plain text."""
    ref = (message.meta or {}).get("self_service")
    if not ref or message.private:
        return None
    session = db_session()
    req = session.scalar(select(SelfServiceRequest).filter_by(public_id=ref))
    if req is None:
        return None
    order = req.order
    kind = "cancel" if req.kind is Kind.cancel else "refund"
    desc = CONNECTORS.get(order.platform)
    blocked = None  # why the one click cannot be offered (the agent can still decline)
    try:
        actions.check(session, current_app.config, current_actor(), order, services.action_request(req))
    except DomainError as exc:
        blocked = exc.message
    if blocked is None and (desc is None or kind not in desc.actions):
        blocked = f"{order.platform} orders cannot be {'cancelled' if kind == 'cancel' else 'refunded'} here"
    if blocked is None and sync.configured(order.platform, current_app.config, order.shop, session) is None:
        blocked = f"the {order.platform} shop {order.shop} is not connected (Admin → Shops)"
    lines = {li.external_id: li for li in order.line_items}
    items = [{"quantity": i["quantity"], "title": i["title"],
              "price": lines[i["id"]].price if i["id"] in lines else None} for i in req.items]
    worth = sum((it["price"] * it["quantity"] for it in items if it["price"] is not None), start=0)
    action = session.get(OrderAction, req.order_action_id) if req.order_action_id else None
    reason = _(services.REASONS[req.reason]) if req.reason in services.REASONS else None
    return {"card_template": CARD, "req": req, "order": order, "kind": kind, "lines": items, "worth": worth,
            "reason": reason, "blocked": blocked, "action": action,
            "dialog": f"dlg-{kind}-{order.public_id}",
            "prefill": {"mode": "lines", "lines": {i["id"]: i["quantity"] for i in req.items}, "restock": True}
            if req.kind is Kind.return_ else {"restock": True, "refund": True},
            "carry_out": url_for("selfservice.carry_out", public_id=message.conversation.public_id,
                                 request_id=req.public_id),
            "decline": url_for("selfservice.decline", public_id=message.conversation.public_id,
                               request_id=req.public_id)}
