"""Webhooks in: Shopify, WooCommerce, BigCommerce. Verify over the raw body, note the delivery
once, apply, commit. A bad signature gets 401 and a repeat gets 200; neither changes anything."""

from __future__ import annotations

import hmac
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, current_app, jsonify, request

from helpdesk import jobs
from helpdesk.actors import SYSTEM
from helpdesk.errors import error_body
from helpdesk.orders import bigcommerce, services, shopify, sync, woocommerce
from helpdesk.orders.connector import PayloadError
from helpdesk.web import commit, db_session, limit_inbound

bp = Blueprint("orders_webhooks", __name__)
bp.before_request(limit_inbound)

MAX_BODY = 2 * 1024 * 1024
# BigCommerce's body names only the changed order (scope, data.id, hash): a few hundred bytes.
BIGCOMMERCE_MAX_BODY = 16 * 1024
# A parked delivery keeps its payload for an admin to replay; beyond this only the error stays.
MAX_PARKED_PAYLOAD = 256 * 1024
WOO_ORDER_TOPICS = {"order.created", "order.updated", "order.restored"}


def _refuse(status: int, code: str, message: str) -> Any:
    return jsonify(error_body(code, message)), status


def _raw() -> bytes:
    # The signature covers the exact bytes sent: read them before anything parses the body.
    return request.get_data(cache=True, as_text=False, parse_form_data=False)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return ...


def _not_configured(platform: str, settings: str) -> Any:
    return _refuse(401, "webhook_not_configured", f"{platform} webhooks are not configured ({settings})")


def _parkable(body: bytes, payload: Any) -> dict[str, Any] | None:
    return payload if isinstance(payload, dict) and len(body) <= MAX_PARKED_PAYLOAD else None


def _invalid_payload(exc: PayloadError) -> Any:
    db_session().rollback()  # nothing half-written: the delivery record goes too, so a fixed retry applies
    return _refuse(422, "invalid_payload", str(exc))


@bp.post("/webhooks/shopify")
def shopify_webhook() -> Any:
    body = _raw()
    if len(body) > MAX_BODY:
        return _refuse(413, "payload_too_large", "webhook body too large")
    secret = current_app.config.get("SHOPIFY_WEBHOOK_SECRET") or ""
    if not secret:
        return _not_configured("Shopify", "HELPDESK_SHOPIFY_WEBHOOK_SECRET")
    if not shopify.verify_webhook(secret, body, request.headers.get("X-Shopify-Hmac-Sha256", "")):
        return _refuse(401, "invalid_signature", "X-Shopify-Hmac-Sha256 does not match the body")
    topic = request.headers.get("X-Shopify-Topic", "")
    webhook_id = request.headers.get("X-Shopify-Webhook-Id", "")
    if not webhook_id:
        return _refuse(400, "missing_webhook_id", "X-Shopify-Webhook-Id is required")
    if topic not in sync.SHOPIFY_TOPICS:
        return jsonify(ok=True, result="ignored")
    payload = _json(body)
    if payload is ...:
        return _refuse(400, "malformed_json", "the body is not JSON")
    shop = current_app.config.get("SHOPIFY_SHOP") or request.headers.get("X-Shopify-Shop-Domain", "")
    session = db_session()
    if not services.record_delivery(session, "shopify", webhook_id, topic, shop):
        return jsonify(ok=True, result="duplicate")
    try:
        result = sync.apply_shopify(session, current_app.config, topic, payload, shop)
    except PayloadError as exc:
        return _invalid_payload(exc)
    if result == "parked":
        services.park_delivery(session, "shopify", webhook_id, "the order is not known and the Admin API "
                               "is not configured to fetch it", _parkable(body, payload))
    commit()
    return jsonify(ok=True, result=result)


@bp.post("/webhooks/woocommerce")
def woocommerce_webhook() -> Any:
    body = _raw()
    if len(body) > MAX_BODY:
        return _refuse(413, "payload_too_large", "webhook body too large")
    signature = request.headers.get("X-WC-Webhook-Signature", "")
    secret = current_app.config.get("WOOCOMMERCE_WEBHOOK_SECRET") or ""
    if not secret:
        return _not_configured("WooCommerce", "HELPDESK_WOOCOMMERCE_WEBHOOK_SECRET")
    if not signature and _is_ping(body):
        # WooCommerce checks a new webhook's URL with an unsigned `webhook_id=N` form post.
        return jsonify(ok=True, result="ping")
    if not woocommerce.verify_webhook(secret, body, signature):
        return _refuse(401, "invalid_signature", "X-WC-Webhook-Signature does not match the body")
    topic = request.headers.get("X-WC-Webhook-Topic", "")
    delivery = request.headers.get("X-WC-Webhook-Delivery-ID", "")
    if not delivery:
        return _refuse(400, "missing_webhook_id", "X-WC-Webhook-Delivery-ID is required")
    if topic not in WOO_ORDER_TOPICS:
        return jsonify(ok=True, result="ignored")
    payload = _json(body)
    if payload is ...:
        return _refuse(400, "malformed_json", "the body is not JSON")
    source = request.headers.get("X-WC-Webhook-Source", "")
    url = current_app.config.get("WOOCOMMERCE_URL") or source
    shop = urlsplit(url).netloc or url
    session = db_session()
    if not services.record_delivery(session, "woocommerce", delivery, topic, shop):
        return jsonify(ok=True, result="duplicate")
    try:
        parser = woocommerce.WooCommerceConnector(url or "https://woocommerce.invalid", "", "")
        _order, changed = services.upsert_order(session, SYSTEM, parser.parse_order(payload))
    except PayloadError as exc:
        return _invalid_payload(exc)
    commit()
    return jsonify(ok=True, result="applied" if changed else "stale")


def _is_ping(body: bytes) -> bool:
    try:
        form = parse_qs(body.decode("ascii"), strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return False
    return list(form) == ["webhook_id"] and form["webhook_id"][0].isdigit()


@bp.post("/webhooks/bigcommerce")
def bigcommerce_webhook() -> Any:
    # BigCommerce does not sign webhooks; it sends back the headers given when the hook was made.
    # Without a configured store and secret nobody can prove to be BigCommerce: refuse everyone.
    secret = current_app.config.get("BIGCOMMERCE_WEBHOOK_SECRET") or ""
    if not secret or sync.configured("bigcommerce", current_app.config) is None:
        return _not_configured("BigCommerce", "HELPDESK_BIGCOMMERCE_STORE_HASH, _ACCESS_TOKEN and "
                               "_WEBHOOK_SECRET")
    if request.content_length is not None and request.content_length > BIGCOMMERCE_MAX_BODY:
        return _refuse(413, "payload_too_large", "webhook body too large")
    if not hmac.compare_digest(secret.encode(), request.headers.get("X-Webhook-Secret", "").encode()):
        return _refuse(401, "invalid_signature", "X-Webhook-Secret is missing or wrong")
    body = _raw()
    if len(body) > BIGCOMMERCE_MAX_BODY:
        return _refuse(413, "payload_too_large", "webhook body too large")
    payload = _json(body)
    if not isinstance(payload, dict):
        return _refuse(400, "malformed_json", "the body is not a JSON object")
    scope = str(payload.get("scope") or "")
    if not scope.startswith("store/order/"):
        return jsonify(ok=True, result="ignored")
    try:
        order_id = bigcommerce.order_id_of_webhook(payload)
    except PayloadError as exc:
        return _refuse(422, "invalid_payload", str(exc))
    delivery = str(payload.get("hash") or f"{scope}:{order_id}:{payload.get('created_at')}")
    store = current_app.config.get("BIGCOMMERCE_STORE_HASH") or str(payload.get("producer", "")).split("/")[-1]
    session = db_session()
    if not services.record_delivery(session, "bigcommerce", delivery, scope, store):
        return jsonify(ok=True, result="duplicate")
    # The body says only which order changed: fetch it, in a job, from the API.
    jobs.enqueue(session, sync.FETCH, {"platform": "bigcommerce", "order_id": order_id},
                 dedupe_key=f"{sync.FETCH}:bigcommerce:{order_id}")
    result = "fetching"
    commit()
    return jsonify(ok=True, result=result), 200
