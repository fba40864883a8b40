"""The admin rule builder (no JSON typing: rules.js fills hidden fields) and its dry run."""

from __future__ import annotations

import json

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from helpdesk import db_of
from helpdesk.accounts.models import Agent
from helpdesk.jobs import Job
from helpdesk.tickets.rules.models import AutomationRule
from tests.conftest import csrf_token
from tests.factories import make_conversation, make_inbox

CONDITIONS = [{"field": "subject", "op": "contains", "value": "refund"}]
ACTIONS = [{"type": "add_tag", "value": "refund"}]


def test_builder_page_carries_the_vocabulary_and_no_inline_script(admin_client: FlaskClient) -> None:
    response = admin_client.get("/admin/rules")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-builder="rule"' in html and "order.total" in html
    assert "/static/rules.js" in html and "<script>" not in html


def test_agents_cannot_open_the_rules_page(agent_client: FlaskClient) -> None:
    assert agent_client.get("/admin/rules").status_code == 403


def test_dry_run_from_the_builder_lists_matches_and_stores_nothing(app: Flask, admin_client: FlaskClient) -> None:
    inbox, _ = make_inbox(app)
    hit = make_conversation(app, inbox, subject="Refund please")
    make_conversation(app, inbox, subject="Hello", email="x@example.com")
    token = csrf_token(admin_client, "/admin/rules")
    with db_of(app).unit_of_work() as s:
        jobs_before = s.scalar(select(func.count()).select_from(Job))
    response = admin_client.post("/admin/rules", data={
        "csrf_token": token, "name": "Refunds", "event": "conversation.created", "active": "1", "dry_run": "1",
        "conditions_json": json.dumps(CONDITIONS), "actions_json": json.dumps(ACTIONS)})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "1 of the last 200" in html and f"#{hit.ref}" in html
    assert "added tag refund" in html and "Nothing was changed" in html
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(AutomationRule)) == 0
        assert s.scalar(select(func.count()).select_from(Job)) == jobs_before


def test_saving_from_the_builder_and_a_bad_rule_flashes_the_error(app: Flask, admin_client: FlaskClient,
                                                                  admin: Agent) -> None:
    token = csrf_token(admin_client, "/admin/rules")
    saved = admin_client.post("/admin/rules", data={
        "csrf_token": token, "name": "Refunds", "event": "conversation.created", "active": "1", "position": "3",
        "conditions_json": json.dumps(CONDITIONS), "actions_json": json.dumps(ACTIONS)})
    assert saved.status_code == 303
    bad = admin_client.post("/admin/rules", data={
        "csrf_token": token, "name": "Bad", "event": "conversation.created",
        "conditions_json": json.dumps([{"field": "mood", "op": "is", "value": "x"}]),
        "actions_json": json.dumps(ACTIONS)}, follow_redirects=True)
    assert "unknown field" in bad.get_data(as_text=True)
    with db_of(app).unit_of_work() as s:
        rules = s.scalars(select(AutomationRule)).all()
        assert [(r.name, r.position, r.active, r.conditions) for r in rules] == [("Refunds", 3, True, CONDITIONS)]
        public_id = rules[0].public_id
    edit = admin_client.get(f"/admin/rules?id={public_id}").get_data(as_text=True)
    assert "Edit rule" in edit and "refund" in edit


def test_the_list_turns_a_rule_off_and_on(app: Flask, admin_client: FlaskClient) -> None:
    token = csrf_token(admin_client, "/admin/rules")
    admin_client.post("/admin/rules", data={"csrf_token": token, "name": "R", "event": "conversation.created",
                                            "active": "1", "actions_json": json.dumps(ACTIONS)})
    with db_of(app).unit_of_work() as s:
        public_id = s.scalar(select(AutomationRule)).public_id
    assert admin_client.post(f"/admin/rules/{public_id}/active",
                             data={"csrf_token": token, "active": "0"}).status_code == 303
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(AutomationRule)).active is False
