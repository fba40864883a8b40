"""Console adapter: ask for an order's payment to be fetched again (a job; the card shows it)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import login_required

from helpdesk.orders import services as orders
from helpdesk.payments import sync
from helpdesk.tickets import services as tickets
from helpdesk.web import commit, current_actor, db_session

bp = Blueprint("payments", __name__)


@bp.post("/console/c/<public_id>/orders/<order_id>/payment/refresh")
@login_required
def refresh(public_id: str, order_id: str) -> Any:
    session = db_session()
    conv = tickets.get_conversation(session, public_id, current_actor())
    order = orders.get_order(session, order_id)
    if sync.enqueue_fetch(session, current_app.config, order):
        commit()
        flash(_("Fetching the payment of %(order)s; it shows here in a moment.", order=order.display_name), "success")
    else:
        flash(_("No payment provider of ours holds this order's payment (see HELPDESK_STRIPE_* / HELPDESK_PAYPAL_*)."),
              "error")
    return redirect(url_for("console.conversation", public_id=conv.public_id) + "#orders", code=303)
