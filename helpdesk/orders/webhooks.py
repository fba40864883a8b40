"""Webhooks in, one route for every platform: `/webhooks/<platform>` (so `/webhooks/shopify`,
`/webhooks/woocommerce`, `/webhooks/bigcommerce`). The platform's descriptor verifies and parses
over the raw body; here the delivery is noted once, applied and committed. A bad signature gets
401 and a repeat gets 200; neither changes anything."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from helpdesk.errors import error_body
from helpdesk.orders import CONNECTORS, services, shops, sync
from helpdesk.orders.connector import PayloadError
from helpdesk.orders.platform import WebhookRefused
from helpdesk.web import commit, db_session, limit_inbound

bp = Blueprint("orders_webhooks", __name__)
bp.before_request(limit_inbound)  # counted per address before any signature check (HELPDESK_WEBHOOK_RATE)

MAX_BODY = 2 * 1024 * 1024
# A parked delivery keeps its payload for an admin to replay; beyond this only the error stays.
MAX_PARKED_PAYLOAD = 256 * 1024


def _refuse(status: int, code: str, message: str) -> Any:
    return jsonify(error_body(code, message)), status


@bp.post("/webhooks/<platform>")
def receive(platform: str) -> Any:
    desc = CONNECTORS.get(platform)
    if desc is None or desc.webhook is None:
        return _refuse(404, "not_found", f"no webhooks for {platform!r}")
    # The signature covers the exact bytes sent: read them before anything parses the body.
    body = request.get_data(cache=True, as_text=False, parse_form_data=False)
    if len(body) > MAX_BODY:
        return _refuse(413, "payload_too_large", "webhook body too large")
    session = db_session()
    config = current_app.config
    # The settings' shop signs webhooks even without API credentials (then it cannot fetch).
    default = desc.env_credentials(config) or None

    def credentials_of(key: str) -> Any:
        found = shops.find_shop(session, config, platform, key)
        return found.credentials if found else None

    try:
        inbound = desc.webhook(request.headers, body, credentials_of, default)
    except WebhookRefused as exc:
        return _refuse(exc.status, exc.code, exc.message)
    except PayloadError as exc:
        return _refuse(422, "invalid_payload", str(exc))
    if inbound.result:
        return jsonify(ok=True, result=inbound.result)
    if not services.record_delivery(session, platform, inbound.delivery_id, inbound.topic, inbound.shop):
        return jsonify(ok=True, result="duplicate")
    try:
        result = sync.apply_inbound(session, config, platform, inbound)
    except PayloadError as exc:
        session.rollback()  # nothing half-written: the delivery record goes too, so a fixed retry applies
        return _refuse(422, "invalid_payload", str(exc))
    if result == "parked":
        services.park_delivery(session, platform, inbound.delivery_id,
                               f"the order is not known and the {desc.label} API is not configured to fetch it",
                               inbound.payload if isinstance(inbound.payload, dict)
                               and len(body) <= MAX_PARKED_PAYLOAD else None)
    commit()
    return jsonify(ok=True, result=result)
