"""`POST /webhooks/stripe`: Stripe's events, verified by its Stripe-Signature header (HMAC of
the timestamp and the raw body, with a tolerance on the timestamp). A bad or missing signature
gets 400 and changes nothing; an event seen before (by its id) gets 200 and changes nothing.
Dispute events are handed to a job written in the same transaction (payments.disputes); refund
and capture events queue a fetch of the order's payment."""

from __future__ import annotations

from typing import Any

import stripe
from flask import Blueprint, current_app, jsonify, request

from helpdesk import jobs
from helpdesk.errors import error_body
from helpdesk.orders import services as orders
from helpdesk.payments import disputes, stripe_api, sync
from helpdesk.web import commit, db_session, limit_inbound

bp = Blueprint("payments_webhooks", __name__)
bp.before_request(limit_inbound)  # counted per address before any signature check (HELPDESK_WEBHOOK_RATE)

MAX_BODY = 512 * 1024  # a dispute event is a few kB


def _refuse(status: int, code: str, message: str) -> Any:
    return jsonify(error_body(code, message)), status


# A refund made in Stripe's Dashboard (not through the shop): the card should show it soon.
REFRESHING = ("charge.refunded", "charge.refund.updated", "charge.captured")


def _refresh(obj: dict[str, Any]) -> Any:
    """Fetch the charge's order's payment again (a job; idempotent, so replays need no record)."""
    charge = obj.get("charge") if obj.get("object") == "refund" else obj.get("id")
    intent = obj.get("payment_intent")
    if not isinstance(charge, str):
        return _refuse(422, "invalid_payload", "data.object must be a charge or a refund")
    session = db_session()
    order = disputes.order_of_charge(session, charge, intent if isinstance(intent, str) else None)
    if order is None or not sync.enqueue_fetch(session, current_app.config, order):
        return jsonify(ok=True, result="ignored")
    commit()
    return jsonify(ok=True, result="fetching")


@bp.post("/webhooks/stripe")
def receive() -> Any:
    config = current_app.config
    secret = config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        return _refuse(404, "not_configured", "Stripe webhooks are not set up (HELPDESK_STRIPE_WEBHOOK_SECRET)")
    body = request.get_data(cache=True, as_text=False, parse_form_data=False)  # the signed bytes
    if len(body) > MAX_BODY:
        return _refuse(413, "payload_too_large", "webhook body too large")
    try:
        event = stripe_api.verified_event(body, request.headers.get("Stripe-Signature"), str(secret),
                                          int(config.get("STRIPE_WEBHOOK_TOLERANCE_SECONDS") or 300))
    except stripe.SignatureVerificationError:
        return _refuse(400, "bad_signature", "the Stripe-Signature header does not match this body and secret")
    except ValueError:
        return _refuse(400, "invalid_payload", "the body is not a Stripe event")
    event_id, kind = event.get("id"), event.get("type")
    obj = (event.get("data") or {}).get("object") if isinstance(event.get("data"), dict) else None
    if not isinstance(event_id, str) or not isinstance(kind, str) or not isinstance(obj, dict):
        return _refuse(422, "invalid_payload", "an event needs id, type and data.object")
    if kind in REFRESHING:
        return _refresh(obj)
    if kind not in disputes.EVENTS:
        return jsonify(ok=True, result="ignored")  # subscribed to more than disputes: fine
    if obj.get("object") != "dispute" or not isinstance(obj.get("id"), str):
        return _refuse(422, "invalid_payload", "data.object must be a dispute")
    session = db_session()
    if not orders.record_delivery(session, "stripe", event_id, kind):
        return jsonify(ok=True, result="duplicate")
    # Only what the job reads: the evidence (customer emails, receipts) stays at Stripe, not in our job table.
    kept = {k: obj.get(k) for k in ("id", "object", "amount", "currency", "reason", "status", "charge",
                                    "payment_intent")}
    evidence = obj.get("evidence_details") if isinstance(obj.get("evidence_details"), dict) else {}
    kept["evidence_details"] = {"due_by": evidence.get("due_by")}
    jobs.enqueue(session, disputes.DISPUTE_EVENT, {"event": {
        "id": event_id, "type": kind, "created": event.get("created"), "livemode": bool(event.get("livemode")),
        "data": {"object": kept}}})
    commit()
    return jsonify(ok=True, result="accepted")
