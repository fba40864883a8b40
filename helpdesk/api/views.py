"""The public REST API /api/v1: JSON, bearer-token auth, cursor paging, one error shape."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value

from helpdesk.accounts import services as accounts
from helpdesk.accounts.models import Agent
from helpdesk.actors import Actor, agent_actor
from helpdesk.api.openapi import spec
from helpdesk.crm import services as crm
from helpdesk.db import MAX_INT, utcnow
from helpdesk.errors import Forbidden, Invalid, NotFound, Unauthorized
from helpdesk.tickets import queries, replies, services, uploads
from helpdesk.tickets.models import Inbox, Message, Team
from helpdesk.tickets.serialize import conversation_dict, message_dict
from helpdesk.tickets.sla.serialize import sla_dict
from helpdesk.tickets.sla.services import state_of
from helpdesk.web import commit, database, db_session, json_body, read_only_request

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _authenticate() -> None:
    if request.endpoint == "api.openapi":
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    row = accounts.api_token_for(db_session(), token.strip()) if scheme.lower() == "bearer" else None
    if row is None:
        raise Unauthorized("a valid API token is needed: Authorization: Bearer TOKEN", code="invalid_token")
    if row.scope == "read" and request.method not in ("GET", "HEAD", "OPTIONS"):
        raise Forbidden("this token is read-only", code="read_only_token")
    g.api_agent = row.agent
    g.api_token = row
    now = utcnow()
    if accounts.token_use_due(row, now):
        if read_only_request():
            # A GET's session only reads: the stamp is a short write of its own.
            with database().unit_of_work() as session:
                accounts.record_token_use(session, row.id, now)
        else:
            accounts.record_token_use(db_session(), row.id, now)
            commit()
        set_committed_value(row, "last_used_at", now)


def actor() -> Actor:
    return agent_actor(g.api_agent)


def _agent_ref(session: Any, ref: str) -> Agent:
    agent = session.scalar(select(Agent).where((Agent.public_id == ref) | (Agent.email == ref.lower())))
    if agent is None:
        raise Invalid("assignee", "no such agent")
    return agent


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(spec())


@bp.get("/tokens")
def tokens_list() -> Any:
    """The caller's own tokens that still work (never the secret: only its hash is stored)."""
    return jsonify(data=[accounts.token_dict(t) for t in accounts.list_api_tokens(db_session(), g.api_agent)])


@bp.delete("/tokens/<token_id>")
def tokens_revoke(token_id: str) -> Any:
    accounts.revoke_api_token(db_session(), actor(), token_id, owner=g.api_agent)
    commit()
    return "", 204


@bp.get("/conversations")
def conversations_list() -> Any:
    session = db_session()
    args = request.args
    filters: dict[str, Any] = {}
    if inbox_id := args.get("inbox"):
        filters["inbox"] = session.scalar(select(Inbox).filter_by(public_id=inbox_id))
        if filters["inbox"] is None:
            raise Invalid("inbox", "no such inbox")
    if assignee := args.get("assignee"):
        if assignee == "none":
            filters["unassigned"] = True
        else:
            filters["assignee"] = _agent_ref(session, assignee)
    if customer_id := args.get("customer"):
        try:
            filters["customer"] = crm.get_customer(session, customer_id)
        except NotFound:
            raise Invalid("customer", "no such customer") from None
    page = queries.list_conversations(session, status=args.get("status") or None,
                                      limit=queries.parse_limit(args.get("limit")),
                                      cursor=args.get("cursor") or None, sort=args.get("sort") or "activity",
                                      search=args.get("q") or None,
                                      **filters)
    return jsonify(data=[conversation_dict(c, for_agent=True) for c in page.items],
                   next_cursor=page.next_cursor)


@bp.post("/conversations")
def conversations_create() -> Any:
    session = db_session()
    data = json_body()
    inbox = session.scalar(select(Inbox).filter_by(public_id=str(data.get("inbox", ""))))
    if inbox is None:
        raise Invalid("inbox", "no such inbox")
    customer_data = data.get("customer")
    if isinstance(customer_data, str):
        customer = crm.get_customer(session, customer_data)
    elif isinstance(customer_data, dict):
        customer = crm.create_customer(session, actor(), email=customer_data.get("email"),
                                       name=customer_data.get("name"), phone=customer_data.get("phone"))
    else:
        raise Invalid("customer", "a customer id or {email, name}")
    body = data.get("body")
    if body is not None and not isinstance(body, str):
        raise Invalid("body", "must be text")
    conv = services.create_conversation(session, actor(), inbox=inbox, customer=customer,
                                        subject=str(data.get("subject") or ""),
                                        priority=data.get("priority") or "normal", body=body,
                                        client_msg_id=data.get("client_msg_id"))
    commit()
    return jsonify(conversation_dict(conv, for_agent=True)), 201


@bp.get("/conversations/<public_id>")
def conversations_get(public_id: str) -> Any:
    session = db_session()
    conv = services.get_conversation(session, public_id, actor())
    from helpdesk.api.orders import conversation_orders  # the orders routes join this blueprint

    return jsonify({**conversation_dict(conv, for_agent=True), "sla": sla_dict(state_of(session, conv)),
                    "orders": conversation_orders(session, conv)})


@bp.patch("/conversations/<public_id>")
def conversations_patch(public_id: str) -> Any:
    session = db_session()
    data = json_body()
    known = {"status", "assignee", "priority", "tags", "team", "snoozed_until"}
    if unknown := set(data) - known:
        raise Invalid(sorted(unknown)[0], f"not a field that can be changed; use {', '.join(sorted(known))}")
    conv = services.get_conversation(session, public_id, actor())
    if "status" in data:
        services.set_status(session, actor(), conv, str(data["status"]), _when(data.get("snoozed_until")))
    if "assignee" in data or "team" in data:
        agent = conv.assignee
        if "assignee" in data:
            agent = _agent_ref(session, str(data["assignee"])) if data["assignee"] else None
        team: Any = ...
        if "team" in data:
            team = session.scalar(select(Team).filter_by(public_id=str(data["team"]))) if data["team"] else None
            if data["team"] and team is None:
                raise Invalid("team", "no such team")
        services.assign(session, actor(), conv, agent, team)
    if "priority" in data:
        services.set_priority(session, actor(), conv, str(data["priority"]))
    if "tags" in data:
        if not isinstance(data["tags"], list):
            raise Invalid("tags", "a list of tag names")
        services.set_tags(session, actor(), conv, data["tags"])
    commit()
    return jsonify({**conversation_dict(conv, for_agent=True), "sla": sla_dict(state_of(session, conv))})


def _when(value: Any) -> Any:
    if value in (None, ""):
        return None
    from datetime import datetime

    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("snoozed_until", "an ISO 8601 time") from None
    if when.tzinfo is None:
        raise Invalid("snoozed_until", "needs a UTC offset, e.g. 2026-01-01T09:00:00Z")
    return when


@bp.get("/conversations/<public_id>/messages")
def messages_list(public_id: str) -> Any:
    session = db_session()
    conv = services.get_conversation(session, public_id, actor())
    limit = queries.parse_limit(request.args.get("limit"), 50)
    try:
        after = int(request.args.get("cursor") or request.args.get("after_seq") or 0)
        if not 0 <= after <= MAX_INT:
            raise ValueError("out of range")
    except ValueError:
        raise Invalid("cursor", "not a cursor this API gave out") from None
    rows = session.scalars(select(Message).where(Message.conversation_id == conv.id, Message.seq > after)
                           .order_by(Message.seq).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return jsonify(data=[message_dict(m, for_agent=True) for m in rows],
                   next_cursor=str(rows[-1].seq) if more else None)


@bp.post("/conversations/<public_id>/messages")
def messages_create(public_id: str) -> Any:
    """JSON `{body, private?, client_msg_id?, to?, cc?, bcc?}`, or multipart/form-data with the same
    fields (to/cc/bcc repeated or comma-separated) and one or more `files`. Everything is checked
    before anything is stored or sent: a bad address or file is a 422 naming the field."""
    session = db_session()
    conv = services.get_conversation(session, public_id, actor())
    files: list[Any] = []
    if request.mimetype == "multipart/form-data":
        form = request.form
        data: dict[str, Any] = {"body": form.get("body", ""), "client_msg_id": form.get("client_msg_id") or None,
                                "private": form.get("private", "false").lower() in ("1", "true", "yes"),
                                **{k: form.getlist(k) for k in ("to", "cc", "bcc") if form.getlist(k)}}
        limit = int(current_app.config["CHAT_MAX_ATTACHMENT_BYTES"])
        files = uploads.checked_files([(f.filename or "file", f.stream.read(limit + 1))
                                       for f in request.files.getlist("files")], max_bytes=limit)
    else:
        data = json_body()
    private = data.get("private", False)
    if not isinstance(private, bool):
        raise Invalid("private", "true or false")
    message = replies.reply(session, actor(), conv, body=data.get("body", ""), private=private,
                            client_msg_id=data.get("client_msg_id"), to=data.get("to"), cc=data.get("cc"),
                            bcc=data.get("bcc"), attachments=files)
    commit()
    return jsonify(message_dict(message, for_agent=True)), 201
