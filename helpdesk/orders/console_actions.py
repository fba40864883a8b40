"""Console adapters of the order actions: the sidebar's confirmation dialogs post here, and the
refund dialog asks the shop for its calculation through a job (never from the web process)."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from flask import Blueprint, current_app, flash, jsonify, redirect, url_for
from flask import request as flask_request
from flask_login import login_required
from sqlalchemy.orm import Session

from helpdesk import jobs
from helpdesk.errors import DomainError
from helpdesk.orders import CONNECTORS, actions, services, sync
from helpdesk.orders.connector import Connector, PayloadError, PlatformError, PlatformRateLimited
from helpdesk.orders.models import Order
from helpdesk.runtime import JobContext
from helpdesk.tickets import services as tickets
from helpdesk.web import commit, current_actor, db_session

bp = Blueprint("order_actions", __name__)

QUOTE_JOB = "orders.refund_quote"
FLAGS = ("restock", "refund", "notify_customer", "complete")


def form_request(form: Any, order: Order, kind: str | None = None) -> dict[str, Any]:
    """The dialog's fields as the API's body."""
    data: dict[str, Any] = {"type": kind or form.get("type", "")}
    for name in FLAGS:
        if name in form or f"{name}_present" in form:
            data[name] = form.get(name) == "on"
    if form.get("reason"):
        data["reason"] = form["reason"]
    mode = form.get("mode")
    if data["type"] == "refund" and mode == "amount":
        data["amount"] = form.get("amount", "")
    lines = []
    if mode in ("lines", None) or data["type"] == "reship":
        for li in order.line_items:
            if li.external_id and form.get(f"line_{li.external_id}") == "on":
                qty = form.get(f"qty_{li.external_id}", str(li.quantity))
                lines.append({"id": li.external_id, "quantity": int(qty) if qty.isdigit() else qty})
    if lines:
        data["line_items"] = lines
    if data["type"] == "refund" and mode == "lines" and form.get("shipping") == "on":
        data["shipping"] = True
    if data["type"] == "update_address":
        data["address"] = {k: form.get(k, "") for k in ("first_name", "last_name", "address1", "address2", "city",
                                                          "province", "zip", "country", "phone") if form.get(k)}
    return data


@bp.post("/console/c/<public_id>/orders/<order_id>/actions")
@login_required
def act(public_id: str, order_id: str) -> Any:
    session = db_session()
    conv = tickets.get_conversation(session, public_id, current_actor())
    try:
        order = services.get_order(session, order_id)
        data = {**form_request(flask_request.form, order), "conversation_id": conv.public_id}
        action, created = actions.request_action(session, current_app.config, current_actor(), order, data,
                                                 flask_request.form.get("idempotency_key", ""))
        commit()
        if created:
            flash(f"{action.type.replace('_', ' ').capitalize()} of {order.display_name} sent to the shop; "
                  "the result shows on the order and as a note.", "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("console.conversation", public_id=conv.public_id) + "#orders", code=303)


@bp.post("/console/orders/<order_id>/refund-quote")
@login_required
def quote(order_id: str) -> Any:
    """Queue the shop's calculation of a refund; the dialog polls quote_status for it."""
    session = db_session()
    order = services.get_order(session, order_id)
    data = form_request(flask_request.form, order, "refund")
    try:
        params = actions.check(session, current_app.config, current_actor(), order, data)
    except DomainError as exc:
        return jsonify(exc.as_dict()), exc.status
    job = jobs.enqueue(session, QUOTE_JOB, {"order_id": order.id, "params": params,
                                            "token": secrets.token_urlsafe(12)}, max_attempts=2)
    commit()
    return jsonify(job=job.id, token=job.payload["token"], amount=params.get("amount"), currency=order.currency), 202


@bp.get("/console/orders/quotes/<int:job_id>")
@login_required
def quote_status(job_id: str) -> Any:
    job = db_session().get(jobs.Job, job_id)
    if job is None or job.kind != QUOTE_JOB or job.payload.get("token") != flask_request.args.get("token"):
        return jsonify(error={"code": "not_found", "message": "no such quote"}), 404
    if "quote" in job.payload or "error" in job.payload:
        return jsonify(status="done", quote=job.payload.get("quote"), error=job.payload.get("error"))
    if job.state == jobs.JobState.dead:
        return jsonify(status="done", quote=None, error=job.last_error or "the shop did not answer")
    return jsonify(status="pending")


def quote_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """A quote is throwaway: it is kept in its own job's payload for the dialog to read."""
    with ctx.db.unit_of_work() as session:
        order = session.get(Order, payload["order_id"])
        if order is None:
            return
        fake = actions.OrderAction(type="refund", params=payload["params"], currency=order.currency)
        request = actions.to_request(fake, order)
        conn = sync.configured(order.platform, ctx.settings, order.shop, session)
    answer: dict[str, Any] = {}
    try:
        quoted = conn.refund_quote(request) if conn else None
        answer["quote"] = None if quoted is None else {"amount": quoted["amount"], "currency": quoted["currency"]}
    except PlatformRateLimited as exc:
        raise jobs.RetryLater(exc.retry_after, "rate limited by the shop") from exc
    except (PlatformError, PayloadError, ConnectionError, OSError) as exc:
        answer["error"] = str(exc)[:500]
    with ctx.db.unit_of_work() as session:
        job = session.get(jobs.Job, ctx.job.id)
        if job is not None:
            job.payload = {**payload, **answer}


def action_panel(session: Session, order: Order) -> dict[str, Any]:
    """What an order card's action buttons need: which actions, past ones, a fresh idempotency key."""
    desc = CONNECTORS.get(order.platform)
    allowed = list(desc.actions) if desc else []
    if order.cancelled or sync.configured(order.platform, current_app.config, order.shop, session) is None:
        allowed = []
    elif order.financial_status == "refunded" or (order.total > 0 and actions.remaining(order) <= 0):
        allowed = [a for a in allowed if a not in ("refund", "cancel", "update_address")]
    if order.fulfillment_status in ("fulfilled", "partial"):
        allowed = [a for a in allowed if a not in ("cancel", "update_address")]
    return {"allowed": allowed, "history": actions.actions_of(session, order)[:5],
            "remaining": actions.remaining(order), "shipping": order.shipping_total or Decimal("0"),
            # The platform calculates refunds itself (Shopify, BigCommerce): the dialog asks it.
            "quotes": desc is not None and desc.connector.refund_quote is not Connector.refund_quote,
            "key": secrets.token_urlsafe(16)}


def init_app(app: Any, runtime: Any) -> None:
    app.register_blueprint(bp)
    runtime.jobs.register(QUOTE_JOB, quote_job)
