"""Macros: several actions at once as the caller, shared or personal, over REST and the console."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from helpdesk import db_of
from helpdesk.accounts.models import Agent, AuditEntry
from helpdesk.tickets.models import Conversation
from helpdesk.tickets.rules.models import Macro
from tests.conftest import csrf_token, login, make_agent
from tests.factories import make_conversation, make_inbox

REFUND = [{"type": "reply", "value": "Hi {{ customer.first_name }}, refunded. - {{ agent.name }}"},
          {"type": "add_tag", "value": "refund"}, {"type": "set_status", "value": "resolved"},
          {"type": "set_priority", "value": "low"}]


def test_macro_via_rest_applies_every_action_as_the_caller(app: Flask, agent_api: Any, agent: Agent) -> None:
    created = agent_api.post("/macros", json={"name": "Refund done", "actions": REFUND})
    assert created.status_code == 201, created.get_data(as_text=True)
    macro = created.get_json()
    assert macro["shared"] is False
    conv = make_conversation(app, make_inbox(app)[0], name="Ann Lee")
    response = agent_api.post(f"/conversations/{conv.public_id}/macros/{macro['id']}")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["conversation"]["status"] == "resolved" and body["conversation"]["tags"] == ["refund"]
    assert body["conversation"]["priority"] == "low"
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        reply = [m for m in c.messages if m.author_type.value == "agent"][-1]
        assert reply.body_text == "Hi Ann, refunded. - Alice Agent" and reply.author_id == agent.id
        # The first reply takes the unassigned conversation (a per-inbox setting, on by default).
        assert c.assignee_id == agent.id
        assert {e.actor_name for e in s.scalars(select(AuditEntry).filter_by(action="conversation.update"))} == {
            "Alice Agent"}


def test_personal_macros_are_their_owners_and_shared_ones_need_a_manager(app: Flask, agent_api: Any) -> None:
    mine = agent_api.post("/macros", json={"name": "Mine", "actions": REFUND}).get_json()
    assert agent_api.post("/macros", json={"name": "Ours", "actions": REFUND, "shared": True}).status_code == 403
    other = make_agent(app, "olga@example.com")
    from tests.rules.conftest import api_client

    other_api = api_client(app.test_client(), app, other)
    assert other_api.get("/macros").get_json()["data"] == []
    assert other_api.get(f"/macros/{mine['id']}").status_code == 404
    conv = make_conversation(app, make_inbox(app)[0])
    assert other_api.post(f"/conversations/{conv.public_id}/macros/{mine['id']}").status_code == 404
    assert agent_api.patch(f"/macros/{mine['id']}", json={"name": "Renamed"}).get_json()["name"] == "Renamed"
    assert agent_api.delete(f"/macros/{mine['id']}").status_code == 204


def test_bad_macros_are_refused_with_nothing_stored(app: Flask, agent_api: Any) -> None:
    for body in ({"name": "x", "actions": [{"type": "fly", "value": "x"}]}, {"name": "", "actions": REFUND},
                 {"name": "x", "actions": [{"type": "set_priority", "value": "now"}]}, {"name": "x", "actions": []}):
        response = agent_api.post("/macros", json=body)
        assert response.status_code == 422 and set(response.get_json()) == {"error"}
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Macro)) == 0


def test_macro_from_the_console_menu(app: Flask, client: FlaskClient, manager: Agent) -> None:
    login(client, manager.email)
    token = csrf_token(client, "/console/macros")
    actions = [{"type": "set_priority", "value": "urgent"}, {"type": "note", "value": "Escalated"}]
    saved = client.post("/console/macros", data={"csrf_token": token, "name": "Escalate", "shared": "1",
                                                 "actions_json": json.dumps(actions)})
    assert saved.status_code == 303
    with db_of(app).unit_of_work() as s:
        macro = s.scalar(select(Macro))
        assert macro.owner_id is None
        macro_id = macro.public_id
    conv = make_conversation(app, make_inbox(app)[0])
    page = client.get(f"/console/c/{conv.public_id}").get_data(as_text=True)
    assert 'data-shortcut-focus="m"' in page and f'value="{macro_id}"' in page
    applied = client.post(f"/console/c/{conv.public_id}/macro", data={"csrf_token": token, "macro": macro_id})
    assert applied.status_code == 303
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        assert c.priority.value == "urgent" and [m.body_text for m in c.messages if m.private] == ["Escalated"]
    listing = client.get("/console/macros").get_data(as_text=True)
    assert "Escalate" in listing and re.search(r'src="/static/rules.js', listing)
    assert "<script>" not in listing  # the CSP forbids inline scripts
