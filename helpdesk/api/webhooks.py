"""REST /api/v1/webhooks: outgoing webhook subscriptions and their delivery log (admin tokens)."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request

from helpdesk.api.views import actor, bp
from helpdesk.tickets import queries
from helpdesk.web import commit, db_session, json_body
from helpdesk.webhooks import services as webhooks


@bp.get("/webhooks")
def webhooks_list() -> Any:
    rows, cursor = webhooks.page(db_session(), actor(), limit=queries.parse_limit(request.args.get("limit")),
                                 cursor=request.args.get("cursor") or None)
    return jsonify(data=[webhooks.subscription_dict(s) for s in rows], next_cursor=cursor)


@bp.post("/webhooks")
def webhooks_create() -> Any:
    sub = webhooks.create(db_session(), actor(), json_body(), current_app.config)
    commit()
    return jsonify(webhooks.subscription_dict(sub, with_secret=True)), 201


@bp.get("/webhooks/<public_id>")
def webhooks_get(public_id: str) -> Any:
    return jsonify(webhooks.subscription_dict(webhooks.get(db_session(), actor(), public_id), with_secret=True))


@bp.patch("/webhooks/<public_id>")
def webhooks_patch(public_id: str) -> Any:
    session = db_session()
    sub = webhooks.update(session, actor(), webhooks.get(session, actor(), public_id), json_body(),
                          current_app.config)
    commit()
    return jsonify(webhooks.subscription_dict(sub, with_secret=True))


@bp.delete("/webhooks/<public_id>")
def webhooks_delete(public_id: str) -> Any:
    session = db_session()
    webhooks.delete(session, actor(), webhooks.get(session, actor(), public_id))
    commit()
    return "", 204


@bp.get("/webhooks/<public_id>/deliveries")
def webhooks_deliveries(public_id: str) -> Any:
    session = db_session()
    sub = webhooks.get(session, actor(), public_id)
    rows, cursor = webhooks.deliveries(session, sub, limit=queries.parse_limit(request.args.get("limit")),
                                       cursor=request.args.get("cursor") or None)
    return jsonify(data=[webhooks.delivery_dict(d) for d in rows], next_cursor=cursor)
