"""POST /webhooks/hubspot: signature v3 over the raw request, stale timestamps refused, each event
id handled once; changed contacts are refreshed by a job (the CRM is called after commit)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select

from helpdesk import jobs
from helpdesk.crm import sync
from helpdesk.crm.models import CrmWebhookDelivery
from helpdesk.errors import Invalid, Unauthorized
from helpdesk.web import commit, db_session, limit_inbound

bp = Blueprint("crm_webhooks", __name__)
bp.before_request(limit_inbound)
MAX_BODY = 1024 * 1024  # 1,000 events of HubSpot's few hundred bytes each

MAX_AGE_MS = 5 * 60 * 1000
MAX_EVENTS = 1000
CONTACT_EVENTS = (
    "contact.creation",
    "contact.propertyChange",
    "contact.merge",
    "contact.restore",
    "contact.associationChange",
)


def signature_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """HubSpot's v3: base64(HMAC-SHA256(client secret, method + uri + body + timestamp))."""
    message = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def _uris() -> list[str]:
    """The URI HubSpot signed is the public one it called; behind a proxy that is BASE_URL's."""
    path = request.full_path.rstrip("?")
    base = (current_app.config.get("BASE_URL") or "").rstrip("/")
    return list(dict.fromkeys([request.url, f"{base}{path}"]))


def verify(secret: str | None, now_ms: int | None = None) -> None:
    if not secret:
        raise Unauthorized(
            "HubSpot webhooks are not configured (HELPDESK_HUBSPOT_CLIENT_SECRET)",
            code="webhook_not_configured",
        )
    given = request.headers.get("X-HubSpot-Signature-v3", "")
    timestamp = request.headers.get("X-HubSpot-Request-Timestamp", "")
    if not timestamp.isdigit():
        raise Unauthorized("missing or malformed X-HubSpot-Request-Timestamp", code="bad_signature")
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now_ms - int(timestamp)) > MAX_AGE_MS:
        raise Unauthorized("the request timestamp is older than 5 minutes", code="stale_signature")
    body = request.get_data(cache=True)
    for uri in _uris():
        expected = signature_v3(secret, request.method, uri, body, timestamp)
        if hmac.compare_digest(expected.encode(), given.encode()):
            return
    raise Unauthorized("the X-HubSpot-Signature-v3 does not match", code="bad_signature")


@bp.post("/webhooks/hubspot")
def hubspot() -> Any:
    request.max_content_length = MAX_BODY  # read no more than this before the signature check
    verify(current_app.config.get("HUBSPOT_CLIENT_SECRET"))
    try:
        events = json.loads(request.get_data(cache=True) or b"null")
    except ValueError:
        raise Invalid("body", "a JSON array of events", code="malformed_json") from None
    if (
        not isinstance(events, list)
        or len(events) > MAX_EVENTS
        or not all(isinstance(e, dict) for e in events)
    ):
        raise Invalid("body", "a JSON array of events", code="malformed_json")
    session = db_session()
    ids: list[str] = []
    fresh = 0
    for event in events:
        delivery = str(event.get("eventId") or "")
        if not delivery:
            continue
        if session.scalar(select(CrmWebhookDelivery.id).filter_by(provider="hubspot", delivery_id=delivery)):
            continue  # a repeat: already handled
        session.add(CrmWebhookDelivery(provider="hubspot", delivery_id=delivery[:120]))
        fresh += 1
        if event.get("subscriptionType") in CONTACT_EVENTS and event.get("objectId") is not None:
            ids.append(str(event["objectId"]))
    ids = list(dict.fromkeys(ids))
    for start in range(0, len(ids), 100):
        jobs.enqueue(session, sync.REFRESH, {"provider": "hubspot", "ids": ids[start : start + 100]})
    commit()
    return jsonify(ok=True, accepted=fresh, refresh=len(ids)), 200
