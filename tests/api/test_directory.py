"""REST completeness: inboxes, teams, agents, tags and canned replies; read with any token, write
with the role the service asks for; paged `{data, next_cursor}`; bad input is a 422."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.accounts.models import Agent, AuditEntry
from helpdesk.tickets.models import Inbox, Team
from tests.factories import make_conversation, make_inbox
from tests.rules.conftest import api_client

PASSWORD = "a long enough passphrase 42"


@pytest.fixture
def admin_api(app: Flask, admin: Agent) -> Any:
    return api_client(app.test_client(), app, admin)


@pytest.fixture
def agent_api(app: Flask, agent: Agent) -> Any:
    return api_client(app.test_client(), app, agent)


def test_agents_read_by_anyone_written_by_admins(app: Flask, admin_api: Any, agent_api: Any, agent: Agent) -> None:
    listed = agent_api.get("/agents").get_json()
    assert {a["email"] for a in listed["data"]} >= {agent.email} and listed["next_cursor"] is None
    assert agent_api.post("/agents", json={"email": "x@example.com", "password": PASSWORD}).status_code == 403
    r = admin_api.post("/agents", json={"email": "Bob@Example.com", "name": "Bob", "role": "manager",
                                        "password": PASSWORD})
    assert r.status_code == 201, r.get_json()
    bob = r.get_json()
    assert bob["email"] == "bob@example.com" and bob["role"] == "manager" and "password" not in bob
    r = admin_api.patch(f"/agents/{bob['id']}", json={"active": False, "name": "Bobby"})
    assert r.get_json()["active"] is False and r.get_json()["name"] == "Bobby"
    assert admin_api.patch(f"/agents/{bob['id']}", json={"role": "overlord"}).status_code == 422
    assert admin_api.patch(f"/agents/{bob['id']}", json={"email": "new@example.com"}).status_code == 422
    assert admin_api.get(f"/agents/{bob['id']}").get_json()["role"] == "manager"
    with db_of(app).unit_of_work() as s:
        assert {e.action for e in s.scalars(select(AuditEntry).filter_by(target_id=bob["id"]))} == {
            "agent.create", "agent.update"}


def test_agents_are_paged(admin_api: Any, app: Flask) -> None:
    for n in range(3):
        admin_api.post("/agents", json={"email": f"p{n}@example.com", "password": PASSWORD})
    first = admin_api.get("/agents?limit=2").get_json()
    assert len(first["data"]) == 2 and first["next_cursor"]
    rest = admin_api.get(f"/agents?limit=2&cursor={first['next_cursor']}").get_json()
    seen = [a["id"] for a in first["data"] + rest["data"]]
    assert len(seen) == len(set(seen)) >= 4
    assert admin_api.get("/agents?cursor=abc").status_code == 422


def test_teams(app: Flask, admin_api: Any, agent_api: Any, agent: Agent) -> None:
    assert agent_api.post("/teams", json={"name": "Billing"}).status_code == 403
    r = admin_api.post("/teams", json={"name": "Billing", "members": [agent.email]})
    assert r.status_code == 201 and [m["name"] for m in r.get_json()["members"]] == ["Alice Agent"]
    team = r.get_json()
    assert admin_api.post("/teams", json={"name": "Billing"}).status_code == 409
    assert admin_api.post("/teams", json={"name": "X", "members": ["nobody@example.com"]}).status_code == 422
    r = admin_api.patch(f"/teams/{team['id']}", json={"name": "Payments", "members": []})
    assert r.get_json()["name"] == "Payments" and r.get_json()["members"] == []
    assert [t["name"] for t in agent_api.get("/teams").get_json()["data"]] == ["Payments"]
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(Team)).name == "Payments"


def test_inboxes_read_and_patch(app: Flask, admin_api: Any, agent_api: Any) -> None:
    inbox, _ = make_inbox(app, "Web chat")
    listed = agent_api.get("/inboxes").get_json()["data"]
    assert [i["name"] for i in listed] == ["Web chat"] and listed[0]["channel"] == "chat"
    assert agent_api.patch(f"/inboxes/{inbox.public_id}", json={"name": "Shop chat"}).status_code == 403
    r = admin_api.patch(f"/inboxes/{inbox.public_id}", json={
        "name": "Shop chat", "assign_on_reply": False,
        "settings": {"greeting": "Hi there!", "allowed_origins": ["https://shop.example.com"]}})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["name"] == "Shop chat" and body["assign_on_reply"] is False
    assert body["settings"]["greeting"] == "Hi there!"
    assert body["settings"]["allowed_origins"] == ["https://shop.example.com"]
    r = admin_api.patch(f"/inboxes/{inbox.public_id}", json={"name": "Other", "settings": {"colour": "red"}})
    assert r.status_code == 422
    with db_of(app).unit_of_work() as s:
        assert s.get(Inbox, inbox.id).name == "Shop chat"


def test_tags(app: Flask, agent_api: Any, admin_api: Any) -> None:
    conv = make_conversation(app, make_inbox(app)[0])
    admin_api.patch(f"/conversations/{conv.public_id}", json={"tags": ["vip", "refund"]})
    page = agent_api.get("/tags").get_json()
    assert sorted(t["name"] for t in page["data"]) == ["refund", "vip"] and page["next_cursor"] is None


def test_canned_replies(app: Flask, agent_api: Any, manager: Agent) -> None:
    manager_api = api_client(app.test_client(), app, manager)
    new = {"shortcut": "thanks", "title": "Thanks", "body": "Thanks, {{ customer.first_name }}!"}
    assert agent_api.post("/canned-replies", json=new).status_code == 403
    r = manager_api.post("/canned-replies", json=new)
    assert r.status_code == 201
    reply = r.get_json()
    assert [c["shortcut"] for c in agent_api.get("/canned-replies").get_json()["data"]] == ["thanks"]
    assert manager_api.post("/canned-replies", json={**new, "shortcut": "Bad Shortcut!"}).status_code == 422
    r = manager_api.patch(f"/canned-replies/{reply['id']}", json={"title": "Thank you"})
    assert r.get_json()["title"] == "Thank you" and r.get_json()["body"] == new["body"]
    assert manager_api.delete(f"/canned-replies/{reply['id']}").status_code == 204
    assert agent_api.get(f"/canned-replies/{reply['id']}").status_code == 404
