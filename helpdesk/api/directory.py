"""REST /api/v1 for the helpdesk's own set-up: inboxes, teams, agents, tags and canned replies.
Reading needs any token; writing needs the roles the services ask for (admins; canned replies:
managers). Lists are paged like the others: `{data, next_cursor}`, keyset on the row id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import jsonify, request
from sqlalchemy import select

from helpdesk.accounts import services as accounts
from helpdesk.accounts.models import Agent, Role
from helpdesk.api.views import actor, bp
from helpdesk.db import MAX_INT
from helpdesk.errors import Invalid, NotFound
from helpdesk.tickets import canned, queries
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import CannedReply, Inbox, Tag, Team
from helpdesk.tickets.serialize import iso
from helpdesk.web import commit, db_session, json_body


def _page(model: Any) -> tuple[list[Any], str | None]:
    limit = queries.parse_limit(request.args.get("limit"))
    cursor = request.args.get("cursor") or ""
    query = select(model).order_by(model.id).limit(limit + 1)
    if cursor:
        if not cursor.isdigit() or int(cursor) > MAX_INT:
            raise Invalid("cursor", "not a cursor this API gave out")
        query = query.where(model.id > int(cursor))
    rows = list(db_session().scalars(query))
    return rows[:limit], str(rows[limit - 1].id) if len(rows) > limit else None


def _only(data: Mapping[str, Any], allowed: set[str]) -> Mapping[str, Any]:
    if unknown := set(data) - allowed:
        raise Invalid(sorted(unknown)[0], f"not a field here; use {', '.join(sorted(allowed))}")
    return data


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise Invalid(key, "a string")
    return value


def _one(model: Any, public_id: str, what: str) -> Any:
    row = db_session().scalar(select(model).filter_by(public_id=public_id))
    if row is None:
        raise NotFound(f"no such {what}")
    return row


def _agents(refs: Any) -> list[Agent]:
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        raise Invalid("members", "a list of agent ids or emails")
    found = []
    for ref in refs:
        agent = db_session().scalar(select(Agent).where((Agent.public_id == ref) | (Agent.email == ref.lower())))
        if agent is None:
            raise Invalid("members", f"no such agent {ref}")
        found.append(agent)
    return found


def agent_dict(agent: Agent) -> dict[str, Any]:
    return {"id": agent.public_id, "name": agent.name, "email": agent.email, "role": agent.role.value,
            "active": agent.active}


def team_dict(team: Team) -> dict[str, Any]:
    return {"id": team.public_id, "name": team.name, "members": [{"id": a.public_id, "name": a.name}
                                                                 for a in team.members],
            "created_at": iso(team.created_at)}


def inbox_dict(inbox: Inbox) -> dict[str, Any]:
    options = inbox.settings or {}
    return {"id": inbox.public_id, "name": inbox.name, "channel": inbox.channel.value,
            "team": {"id": inbox.team.public_id, "name": inbox.team.name} if inbox.team else None,
            "addresses": [a.address for a in inbox.addresses], "site_key": inbox.site_key,
            "auto_assign": inbox.auto_assign, "assign_on_reply": inbox.assign_on_reply,
            "max_open_per_agent": inbox.max_open_per_agent,
            "settings": {k: options.get(k) for k in ("greeting", "color", "prechat", "allowed_origins",
                                                     "consent", "consent_text", "data_layer") if k in options},
            "created_at": iso(inbox.created_at)}


def canned_dict(reply: CannedReply) -> dict[str, Any]:
    return {"id": reply.public_id, "shortcut": reply.shortcut, "title": reply.title, "body": reply.body,
            "created_at": iso(reply.created_at), "updated_at": iso(reply.updated_at)}


# -- inboxes -----------------------------------------------------------------------------------

@bp.get("/inboxes")
def inboxes_list() -> Any:
    rows, cursor = _page(Inbox)
    return jsonify(data=[inbox_dict(i) for i in rows], next_cursor=cursor)


@bp.get("/inboxes/<public_id>")
def inboxes_get(public_id: str) -> Any:
    return jsonify(inbox_dict(_one(Inbox, public_id, "inbox")))


@bp.patch("/inboxes/<public_id>")
def inboxes_patch(public_id: str) -> Any:
    """`name`, `assign_on_reply`, and for chat inboxes `settings` {greeting, color, prechat,
    allowed_origins}; each part goes through the service that owns it (and its audit entry)."""
    from helpdesk.chat import settings as chat_settings
    from helpdesk.tickets import assignment

    session = db_session()
    data = _only(json_body(), {"name", "settings", "assign_on_reply"})
    inbox = _one(Inbox, public_id, "inbox")
    accounts.require(actor(), Role.admin)
    if "name" in data:
        tickets.rename_inbox(session, actor(), inbox, data["name"])
    if "assign_on_reply" in data:
        if not isinstance(data["assign_on_reply"], bool):
            raise Invalid("assign_on_reply", "true or false")
        assignment.configure(session, actor(), inbox, assign_on_reply=data["assign_on_reply"])
    if "settings" in data:
        wanted = data["settings"]
        if not isinstance(wanted, dict):
            raise Invalid("settings", "an object")
        _only(wanted, {"greeting", "color", "prechat", "allowed_origins", "consent", "consent_text", "data_layer"})
        for flag in ("consent", "data_layer"):
            if flag in wanted and not isinstance(wanted[flag], bool):
                raise Invalid(flag, "true or false")
        options = inbox.settings or {}
        origins = wanted.get("allowed_origins", options.get("allowed_origins") or [])
        if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
            raise Invalid("allowed_origins", "a list of origins")
        prechat = wanted.get("prechat", bool(options.get("prechat")))
        if not isinstance(prechat, bool):
            raise Invalid("prechat", "true or false")
        chat_settings.update(session, actor(), inbox, greeting=_text(wanted, "greeting") or options.get("greeting")
                             or "", color=_text(wanted, "color") or options.get("color") or "", prechat=prechat,
                             auto_assign=inbox.auto_assign, max_open_per_agent=inbox.max_open_per_agent,
                             members=list(inbox.members), allowed_origins="\n".join(origins),
                             consent=wanted.get("consent"), consent_text=_text(wanted, "consent_text"),
                             data_layer=wanted.get("data_layer"))
    commit()
    return jsonify(inbox_dict(inbox))


# -- teams -------------------------------------------------------------------------------------

@bp.get("/teams")
def teams_list() -> Any:
    rows, cursor = _page(Team)
    return jsonify(data=[team_dict(t) for t in rows], next_cursor=cursor)


@bp.post("/teams")
def teams_create() -> Any:
    data = _only(json_body(), {"name", "members"})
    team = tickets.create_team(db_session(), actor(), name=_text(data, "name") or "",
                               members=_agents(data.get("members", [])))
    commit()
    return jsonify(team_dict(team)), 201


@bp.get("/teams/<public_id>")
def teams_get(public_id: str) -> Any:
    return jsonify(team_dict(_one(Team, public_id, "team")))


@bp.patch("/teams/<public_id>")
def teams_patch(public_id: str) -> Any:
    data = _only(json_body(), {"name", "members"})
    team = tickets.update_team(db_session(), actor(), _one(Team, public_id, "team"), name=_text(data, "name"),
                               members=_agents(data["members"]) if "members" in data else None)
    commit()
    return jsonify(team_dict(team))


# -- agents ------------------------------------------------------------------------------------

@bp.get("/agents")
def agents_list() -> Any:
    rows, cursor = _page(Agent)
    return jsonify(data=[agent_dict(a) for a in rows], next_cursor=cursor)


@bp.post("/agents")
def agents_create() -> Any:
    data = _only(json_body(), {"email", "name", "role", "password"})
    agent = accounts.create_agent(db_session(), actor(), email=_text(data, "email") or "",
                                  password=_text(data, "password") or "", name=_text(data, "name") or "",
                                  role=_text(data, "role") or "agent")
    commit()
    return jsonify(agent_dict(agent)), 201


@bp.get("/agents/<public_id>")
def agents_get(public_id: str) -> Any:
    return jsonify(agent_dict(_one(Agent, public_id, "agent")))


@bp.patch("/agents/<public_id>")
def agents_patch(public_id: str) -> Any:
    data = _only(json_body(), {"name", "role", "active"})
    if "active" in data and not isinstance(data["active"], bool):
        raise Invalid("active", "true or false")
    agent = accounts.update_agent(db_session(), actor(), _one(Agent, public_id, "agent"), name=_text(data, "name"),
                                  role=_text(data, "role"), active=data.get("active"))
    commit()
    return jsonify(agent_dict(agent))


# -- tags and canned replies -------------------------------------------------------------------

@bp.get("/tags")
def tags_list() -> Any:
    rows, cursor = _page(Tag)
    return jsonify(data=[{"name": t.name} for t in rows], next_cursor=cursor)


@bp.get("/canned-replies")
def canned_list() -> Any:
    rows, cursor = _page(CannedReply)
    return jsonify(data=[canned_dict(r) for r in rows], next_cursor=cursor)


@bp.post("/canned-replies")
def canned_create() -> Any:
    data = _only(json_body(), {"shortcut", "title", "body"})
    reply = canned.save_canned_reply(db_session(), actor(), shortcut=_text(data, "shortcut") or "",
                                     title=_text(data, "title") or "", body=_text(data, "body") or "")
    commit()
    return jsonify(canned_dict(reply)), 201


@bp.get("/canned-replies/<public_id>")
def canned_get(public_id: str) -> Any:
    return jsonify(canned_dict(_one(CannedReply, public_id, "canned reply")))


@bp.patch("/canned-replies/<public_id>")
def canned_patch(public_id: str) -> Any:
    data = _only(json_body(), {"shortcut", "title", "body"})
    reply = _one(CannedReply, public_id, "canned reply")
    reply = canned.save_canned_reply(db_session(), actor(), shortcut=_text(data, "shortcut") or reply.shortcut,
                                     title=_text(data, "title") or reply.title, body=_text(data, "body") or reply.body,
                                     reply=reply)
    commit()
    return jsonify(canned_dict(reply))


@bp.delete("/canned-replies/<public_id>")
def canned_delete(public_id: str) -> Any:
    canned.delete_canned_reply(db_session(), actor(), public_id)
    commit()
    return "", 204
